"""``ocr_document`` on the real server: every page of a PDF and of a multi-page TIFF read, each
page an ``ocr`` request, the pages' sizes as rendered, and the request's own options."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.calls import MODULES, stats
from tests.support.documents import A4_PT, PAGES, page_images, text_pdf, tiff
from tests.support.render import squash

BIN = Path(sys.executable).parent


def read(client, protocol: str, data: bytes, parameters: dict | None = None
         ) -> dict[str, np.ndarray]:
    array = np.frombuffer(data, np.uint8)[None]
    tensor = MODULES[protocol].InferInput("document", list(array.shape), "UINT8")
    tensor.set_data_from_numpy(array)
    result = client.infer("ocr_document", [tensor], parameters=parameters)
    names = ["texts", "scores", "boxes", "line_pages", "page_sizes", "document_type"]
    return {name: result.as_numpy(name)[0] for name in names}


def page_lines(out: dict[str, np.ndarray]) -> list[list[str]]:
    return [[squash(t.decode()) for t, p in zip(out["texts"], out["line_pages"]) if p == page]
            for page in range(len(out["page_sizes"]))]


@pytest.mark.parametrize("kind", ["pdf", "tiff"])
def test_every_page_is_read_in_order(http, grpc, protocol, kind):
    client = http if protocol == "http" else grpc
    data = text_pdf() if kind == "pdf" else tiff(page_images())
    out = read(client, protocol, data)
    assert out["document_type"][0].decode() == kind
    assert page_lines(out) == [[squash(line) for line in page] for page in PAGES]
    assert out["scores"].shape == (len(out["texts"]),) and out["scores"].min() > 0.5
    assert out["boxes"].shape == (len(out["texts"]), 4, 2)
    width, height = (round(A4_PT[0] * 200 / 72), round(A4_PT[1] * 200 / 72)) if kind == "pdf" \
        else page_images()[0].size
    assert out["page_sizes"].tolist() == [[width, height]] * len(PAGES)
    assert (out["boxes"][..., 0].max() <= width) and (out["boxes"][..., 1].max() <= height)


def test_a_request_may_ask_for_another_resolution(http):
    out = read(http, "http", text_pdf(), {"dpi": 100, "min_score": 0.6})
    assert out["page_sizes"].tolist() == [[827, 1170]] * len(PAGES)
    assert page_lines(out)[0] == [squash(line) for line in PAGES[0]]


def test_each_page_is_an_ocr_request(http):
    before = stats(http, "ocr")
    read(http, "http", text_pdf())
    assert stats(http, "ocr").since(before).succeeded == len(PAGES)


def test_ocr_client_reads_every_page_of_pdfs_and_tiffs(server, tmp_path):
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "report.pdf").write_bytes(text_pdf())
    (folder / "scan.tiff").write_bytes(tiff(page_images()))
    drawn = tmp_path / "drawn"
    done = subprocess.run([str(BIN / "ocr-client"), str(folder), "--url", server.http_url,
                           "--format", "jsonl", "--draw", str(drawn)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(Path(r["image"]).name, r["page"]) for r in rows] == [
        ("report.pdf", 1), ("report.pdf", 2), ("report.pdf", 3),
        ("scan.tiff", 1), ("scan.tiff", 2), ("scan.tiff", 3)]
    for row, page in zip(rows, PAGES * 2):
        assert [squash(line["text"]) for line in row["lines"]] == [squash(t) for t in page]
    assert sorted(p.name for p in drawn.iterdir()) == sorted(
        f"{stem}.p{n}.ocr.jpg" for stem in ("report", "scan") for n in (1, 2, 3))
    csv_run = subprocess.run([str(BIN / "ocr-client"), str(folder / "report.pdf"), "--url",
                              server.grpc_url, "--protocol", "grpc", "--format", "csv"],
                             capture_output=True, text=True, timeout=300)
    pages = [row["page"] for row in csv.DictReader(io.StringIO(csv_run.stdout))]
    assert pages == ["1", "1", "2", "2", "3", "3"], csv_run.stdout


def test_word_boxes_of_every_page_come_when_asked(http):
    array = np.frombuffer(text_pdf(), np.uint8)[None]
    tensor = MODULES["http"].InferInput("document", list(array.shape), "UINT8")
    tensor.set_data_from_numpy(array)
    result = http.infer("ocr_document", [tensor], parameters={"return_word_boxes": True})
    texts = [t.decode() for t in result.as_numpy("texts")[0]]
    words = [w.decode() for w in result.as_numpy("words")[0]]
    lines = result.as_numpy("word_lines")[0]
    boxes, word_boxes = result.as_numpy("boxes")[0], result.as_numpy("word_boxes")[0]
    assert sorted(set(lines.tolist())) == list(range(len(texts)))  # line indexes run on
    for index, text in enumerate(texts):  # across pages
        assert "".join(w for w, line in zip(words, lines) if line == index) == squash(text)
        inside = word_boxes[lines == index]
        assert inside[..., 0].min() >= boxes[index][:, 0].min() - 1
        assert inside[..., 0].max() <= boxes[index][:, 0].max() + 1
    without = read(http, "http", text_pdf())
    assert len(without["texts"]) == len(texts)
