"""Drawing OCR results: numbered boxes on the image, their texts in a panel beside it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont, ImageOps

from .client import Line

BOX_COLOR = (230, 40, 40)
PANEL_WIDTH = 480
TEXT_SIZE = 16


def _font(path: Path | None, size: int) -> ImageFont.ImageFont:
    if path is not None:
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def draw_lines(image: bytes, lines: Sequence[Line], font: Path | None = None) -> Image.Image:
    """The image (EXIF-rotated, as the server saw it) with boxes, and a text panel on the right."""
    picture = ImageOps.exif_transpose(Image.open(io.BytesIO(image))).convert("RGB")
    typeface = _font(font, TEXT_SIZE)
    height = max(picture.height, (len(lines) + 1) * (TEXT_SIZE + 6))
    canvas = Image.new("RGB", (picture.width + PANEL_WIDTH, height), "white")
    canvas.paste(picture, (0, 0))
    pen = ImageDraw.Draw(canvas)
    for number, line in enumerate(lines, start=1):
        corners = [tuple(point) for point in line.box]
        pen.polygon(corners, outline=BOX_COLOR, width=2)
        pen.text(corners[0], str(number), fill=BOX_COLOR, font=typeface, anchor="lb")
        row = (picture.width + 8, 6 + (number - 1) * (TEXT_SIZE + 6))
        pen.text(row, f"{number}. {line.text}  ({line.score:.2f})", fill="black", font=typeface)
    return canvas
