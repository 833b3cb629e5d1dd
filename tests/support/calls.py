"""Calling the ``ocr`` model with the stock tritonclient modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

MODULES = {"http": httpclient, "grpc": grpcclient}


@dataclass
class Served:
    texts: list[str]
    scores: np.ndarray
    boxes: np.ndarray


def image_input(protocol: str, data: bytes | np.ndarray, name: str = "image"):
    array = data if isinstance(data, np.ndarray) else np.frombuffer(data, np.uint8)[None]
    tensor = MODULES[protocol].InferInput(name, list(array.shape), "UINT8")
    tensor.set_data_from_numpy(array)
    return tensor


def ocr(client, protocol: str, data: bytes) -> Served:
    result = client.infer("ocr", [image_input(protocol, data)])
    texts = result.as_numpy("texts")
    assert texts.shape[0] == 1
    return Served([t.decode("utf-8") for t in texts[0]], result.as_numpy("scores")[0],
                  result.as_numpy("boxes")[0])


class Counts(NamedTuple):
    """Triton's statistics of one model so far."""

    succeeded: int
    failed: int
    executions: int

    def since(self, before: "Counts") -> "Counts":
        return Counts(*(a - b for a, b in zip(self, before)))


def stats(http, model: str) -> Counts:
    """Requests that succeeded and failed, and executions, so far for ``model`` (HTTP client)."""
    (entry,) = http.get_inference_statistics(model)["model_stats"]
    counts = entry["inference_stats"]
    return Counts(int(counts["success"]["count"]), int(counts["fail"]["count"]),
                  int(entry["execution_count"]))
