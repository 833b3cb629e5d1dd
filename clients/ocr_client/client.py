"""A small client for the ``ocr`` model over Triton's HTTP or gRPC protocol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

DEFAULT_URLS = {"http": "127.0.0.1:8000", "grpc": "127.0.0.1:8001"}
MODEL = "ocr"
DOCUMENT_MODEL = "ocr_document"  # PDFs and multi-page TIFFs, every page
DOCUMENT_OUTPUTS = ("texts", "scores", "boxes", "line_pages", "page_sizes", "page_images")


class OcrClientError(RuntimeError):
    """Something went wrong calling the service."""


class UnreachableError(OcrClientError):
    """No server answered at the address."""


class ServerError(OcrClientError):
    """The server answered with an error for this image."""


@dataclass(frozen=True)
class Line:
    """One line of text: its text, recognition score and four corners (pixels, clockwise)."""

    text: str
    score: float
    box: list[list[float]]

    def as_dict(self) -> dict:
        return {"text": self.text, "score": round(self.score, 4), "box": self.box}


@dataclass(frozen=True)
class Page:
    """One page of a document: its index (from 0), its size in pixels as the server rendered
    it, its lines, and (asked for with ``visualize``) a JPEG of it with its boxes drawn."""

    index: int
    width: int
    height: int
    lines: list[Line]
    picture: bytes | None = None


def lines_from_outputs(texts: np.ndarray, scores: np.ndarray, boxes: np.ndarray) -> list[Line]:
    """The ``ocr`` outputs of one request (batch dimension included) as lines."""
    return [
        Line(t.decode("utf-8"), float(s), b.tolist())
        for t, s, b in zip(texts.reshape(-1), scores.reshape(-1), boxes.reshape(-1, 4, 2))
    ]


class OcrClient:
    """OCR images through a running server; ``protocol`` is ``"http"`` or ``"grpc"``."""

    def __init__(self, url: str | None = None, protocol: str = "http", timeout: float = 120.0):
        if protocol not in DEFAULT_URLS:
            raise ValueError(f"protocol must be 'http' or 'grpc', not {protocol!r}")
        self.protocol = protocol
        self.url = url or DEFAULT_URLS[protocol]
        self.timeout = timeout
        self._module = httpclient if protocol == "http" else grpcclient
        if protocol == "http":
            self._client = httpclient.InferenceServerClient(
                self.url, connection_timeout=timeout, network_timeout=timeout)
        else:
            self._client = grpcclient.InferenceServerClient(self.url)

    def __enter__(self) -> "OcrClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def check_ready(self) -> None:
        """Raise ``UnreachableError`` unless the server and the ``ocr`` model are ready."""
        try:
            ready = self._client.is_server_ready() and self._client.is_model_ready(MODEL)
        except Exception as exc:
            raise UnreachableError(f"cannot reach the OCR server at {self.url} "
                                   f"({self.protocol}): {exc}") from None
        if not ready:
            raise UnreachableError(f"the server at {self.url} is up but '{MODEL}' is not ready")

    def read(self, image: bytes) -> list[Line]:
        """OCR the bytes of one encoded image file."""
        result = self._infer(MODEL, "image", image, ("texts", "scores", "boxes"))
        return lines_from_outputs(result.as_numpy("texts"), result.as_numpy("scores"),
                                  result.as_numpy("boxes"))

    def read_document(self, document: bytes, visualize: bool = False) -> list[Page]:
        """OCR every page of a PDF or a TIFF (or one image) through ``ocr_document``."""
        result = self._infer(DOCUMENT_MODEL, "document", document, DOCUMENT_OUTPUTS,
                             {"visualize": True} if visualize else None)
        out = {name: result.as_numpy(name)[0] for name in DOCUMENT_OUTPUTS}
        lines = lines_from_outputs(out["texts"], out["scores"], out["boxes"])
        pictures = list(out["page_images"]) or [None] * len(out["page_sizes"])
        return [Page(index, int(width), int(height),
                     [line for line, page in zip(lines, out["line_pages"]) if page == index],
                     pictures[index])
                for index, (width, height) in enumerate(out["page_sizes"])]

    def read_file(self, path: str | Path) -> list[Line]:
        return self.read(Path(path).read_bytes())

    def _infer(self, model: str, name: str, data: bytes, output_names: tuple[str, ...],
               parameters: dict | None = None):
        array = np.frombuffer(data, dtype=np.uint8)[None]
        tensor = self._module.InferInput(name, list(array.shape), "UINT8")
        tensor.set_data_from_numpy(array)
        outputs = [self._module.InferRequestedOutput(n) for n in output_names]
        try:
            if self.protocol == "grpc":
                return self._client.infer(model, [tensor], outputs=outputs,
                                          parameters=parameters, client_timeout=self.timeout)
            return self._client.infer(model, [tensor], outputs=outputs, parameters=parameters)
        except InferenceServerException as exc:
            if _is_connection_failure(exc):
                raise UnreachableError(f"cannot reach the OCR server at {self.url} "
                                       f"({self.protocol}): {exc.message()}") from None
            raise ServerError(exc.message() or str(exc)) from None
        except (ConnectionError, OSError) as exc:
            raise UnreachableError(f"cannot reach the OCR server at {self.url} "
                                   f"({self.protocol}): {exc}") from None


def _is_connection_failure(exc: InferenceServerException) -> bool:
    status, message = str(exc.status() or ""), (exc.message() or "").lower()
    if "maximum queue size" in message or "timeout" in message:
        return False  # the server answered: it is busy (see ``OVERLOADED``)
    return "UNAVAILABLE" in status or "failed to connect" in message
