"""The service's own metrics on Triton's /metrics, moving as traffic says they should."""

from __future__ import annotations

import re

import pytest
from tritonclient.utils import InferenceServerException

from tests.support.calls import image_input, ocr
from tests.support.prometheus import scrape, scrape_once_moved, value
from tests.support.render import LATIN, render


def test_custom_metrics_follow_the_traffic(server, http):
    before = scrape(server)
    for _ in range(3):
        assert len(ocr(http, "http", render(LATIN)).texts) == 3
    with pytest.raises(InferenceServerException):
        http.infer("ocr", [image_input("http", b"not an image at all")])
    after = scrape_once_moved(server, before, "nv_inference_request_success", by=3, model="ocr")

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("ocr_lines_per_image_count", model="ocr_postprocess") == 3
    assert moved("ocr_lines_per_image_sum", model="ocr_postprocess") == 9
    assert moved("ocr_rejected_inputs_total", model="ocr_preprocess", reason="undecodable") == 1
    # Decoding is timed whether it succeeds or not: the bad image took time too.
    assert moved("ocr_stage_seconds_count", model="ocr_preprocess", stage="decode") == 4
    for stage in ("boxes", "classify", "recognize"):
        assert moved("ocr_stage_seconds_count", model="ocr_postprocess", stage=stage) == 3
        assert moved("ocr_stage_seconds_sum", model="ocr_postprocess", stage=stage) > 0
    # Nine lines were recognised, in predictor runs of at most 8 rows, by the two instances.
    assert moved("ocr_predictor_batch_size_sum", model="text_rec") == 9
    assert 2 <= moved("ocr_predictor_batch_size_count", model="text_rec") <= 9
    assert moved("ocr_predictor_batch_size_sum", model="text_det") == 3
    # Triton's own metrics are still there, next to ours.
    assert moved("nv_inference_request_success", model="ocr") == 3
    assert moved("nv_inference_request_failure", model="ocr") >= 1


def test_dashboard_and_scrape_config_use_metrics_the_server_exports(server, http):
    import json
    from pathlib import Path

    import yaml

    docker = Path(__file__).resolve().parents[2] / "docker"
    ocr(http, "http", render(LATIN))  # every series exists once traffic has passed
    exported = {name for name, _ in scrape(server)}
    dashboard = json.loads((docker / "grafana" / "ocr-dashboard.json").read_text())
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"\b(?:nv|ocr)_\w+", target["expr"])}
    assert used and used <= exported, sorted(used - exported)
    scrape_config = yaml.safe_load((docker / "prometheus.yml").read_text())
    (job,) = scrape_config["scrape_configs"]
    assert job["static_configs"][0]["targets"][0].endswith(":8002")  # ocr-server's metrics port
