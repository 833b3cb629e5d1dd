import json

from ocr_client import Line
from ocr_client.cli import image_paths, main
from ocr_client.draw import PANEL_WIDTH, draw_lines
from tests.support.render import LATIN, render
from tests.support.server import free_ports


def test_unreachable_server_is_a_clear_error_and_exit_2(tmp_path, capsys):
    image = tmp_path / "a.png"
    image.write_bytes(render(LATIN))
    (port,) = free_ports(1)
    for protocol in ("http", "grpc"):
        assert main([str(image), "--protocol", protocol, "--url", f"127.0.0.1:{port}"]) == 2
        assert "cannot reach the OCR server" in capsys.readouterr().err


def test_folders_expand_to_their_images(tmp_path):
    for name in ("b.PNG", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in image_paths([tmp_path])] == ["a.jpg", "b.PNG"]


def test_draw_puts_a_text_panel_beside_the_image():
    lines = [Line("Hello", 0.99, [[10, 10], [100, 10], [100, 40], [10, 40]])]
    picture = draw_lines(render(LATIN, size=(320, 240)), lines)
    assert picture.size == (320 + PANEL_WIDTH, 240)
    assert picture.getpixel((10, 25)) != (255, 255, 255)  # the box outline
    assert json.loads(json.dumps(lines[0].as_dict()))["text"] == "Hello"


def test_glob_patterns_expand_to_matching_images(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.png", "b.jpg", "notes.txt", "sub/c.png"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in image_paths([str(tmp_path / "*.png")])] == ["a.png"]
    assert [p.name for p in image_paths([str(tmp_path / "**" / "*")])] == ["a.png", "b.jpg", "c.png"]


def test_jsonl_and_csv_rows(capsys):
    import csv
    import io

    from ocr_client.cli import CSV_COLUMNS, write

    good = {"image": "a.png", "lines": [{"text": "Hi, there", "score": 0.9, "box": [[0, 0]] * 4}]}
    bad = {"image": "b.png", "error": "cannot decode image"}
    out = io.StringIO()
    for result in (good, bad):
        write(result, "jsonl", True, out, None)
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [good, bad]
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS)
    writer.writeheader()
    for result in (good, bad):
        write(result, "csv", True, out, writer)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["image"], r["line"], r["text"], r["error"]) for r in rows] == [
        ("a.png", "1", "Hi, there", ""), ("b.png", "", "", "cannot decode image")]
    assert "b.png: cannot decode image" in capsys.readouterr().err


def test_progress_counts_on_one_line():
    import io

    from ocr_client.cli import Progress

    stream = io.StringIO()
    progress = Progress(3, True, stream)
    for failed in (False, True, False):
        progress.step(failed)
    assert stream.getvalue().split("\r")[-1] == "ocr-client: 3/3 images, 1 failed\n"
