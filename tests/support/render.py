"""Images of known text, rendered by the tests themselves."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[2]
FONT = ROOT / ".cache" / "fonts" / "ipaexg.ttf"  # fetched by `make test` (tests/support/fetch_font.py)

LATIN = ["Hello Triton", "Paddle Server 2026", "Invoice No 4721"]
CHINESE = ["北京大学", "上海市中山路", "春夏秋冬"]


def render(lines: list[str], size: tuple[int, int] = (640, 480), font_size: int = 40,
           upside_down: tuple[int, ...] = (), fmt: str = "PNG") -> bytes:
    """Black text lines on white, one per row from the top; some lines turned 180 degrees."""
    font = ImageFont.truetype(str(FONT), font_size)
    canvas = Image.new("RGB", size, "white")
    row_height = size[1] // (len(lines) + 1)
    for index, text in enumerate(lines):
        left, top, right, bottom = font.getbbox(text)
        strip = Image.new("RGB", (right + 20, bottom + 20), "white")
        ImageDraw.Draw(strip).text((10, 10), text, fill="black", font=font)
        if index in upside_down:
            strip = strip.rotate(180)
        canvas.paste(strip, (30, row_height // 2 + index * row_height))
    out = io.BytesIO()
    canvas.save(out, fmt)
    return out.getvalue()


def blank(size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "white").save(out, "PNG")
    return out.getvalue()


def squash(text: str) -> str:
    """Compare texts without spaces: the recognizer often drops the gaps between words."""
    return "".join(text.split())
