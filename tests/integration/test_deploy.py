"""What the container and cluster files ask of the running service, asked of the real server:
every health-check and probe path, the scrape path, and the series the autoscaler's metric is
made from."""

from __future__ import annotations

import re

import yaml

from tests.support.calls import ocr
from tests.support.deploy import ADAPTER, DOCKER, base_manifests, health_paths
from tests.support.prometheus import scrape, scrape_once_moved, value
from tests.support.render import LATIN, render
from tests.support.server import http_get


def test_every_health_check_and_probe_path_answers(server):
    paths = health_paths()
    assert len(paths) >= 9, paths  # both images, both compose files, Deployment and KServe
    for where, path in paths.items():
        assert http_get(f"http://{server.http_url}{path}") == 200, where


def test_scrapers_find_the_metrics(server):
    (job,) = yaml.safe_load((DOCKER / "prometheus.yml").read_text())["scrape_configs"]
    annotations = base_manifests()["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    for path in {job["metrics_path"], annotations["prometheus.io/path"]}:
        assert any(name == "nv_inference_request_success" for name, _ in scrape(server, path))


def test_autoscaling_metric_is_made_of_exported_series(server, http):
    """The adapter rule's query, computed by hand over one request: Triton's queue time summed
    over every model, per `ocr` request served."""
    (rule,) = yaml.safe_load(ADAPTER.read_text())["rules"]["custom"]
    before = scrape(server)
    assert len(ocr(http, "http", render(LATIN)).texts) == 3
    after = scrape_once_moved(server, before, "nv_inference_request_success", model="ocr")
    used = set(re.findall(r"\bnv_\w+", rule["seriesQuery"] + rule["metricsQuery"]))
    assert used == {"nv_inference_queue_duration_us", "nv_inference_request_success"}
    assert used <= {name for name, _ in after}
    queued = value(after, "nv_inference_queue_duration_us") - value(
        before, "nv_inference_queue_duration_us")
    served = value(after, "nv_inference_request_success", model="ocr") - value(
        before, "nv_inference_request_success", model="ocr")
    assert served == 1
    assert 0 < queued / served < 10_000_000, "microseconds one idle-server image spent queued"
