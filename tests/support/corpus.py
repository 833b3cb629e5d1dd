"""A corpus of awkward inputs, generated here: broken files, odd image modes, bombs, wrong
tensors. Each case says what the caller must get: the lines of text, no lines, or an error
whose message names the problem (with Triton's INVALID_ARG status unless said otherwise).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tests.support.render import FONT, LATIN, render

INVALID_ARG = {"http": "400", "grpc": "StatusCode.INVALID_ARGUMENT"}

# (input name, array, Triton datatype)
Tensors = list[tuple[str, np.ndarray, str]]


@dataclass(frozen=True)
class Case:
    name: str
    model: str
    tensors: Callable[[], Tensors]
    error: str | None = None  # a substring of the error message; None: a result is expected
    texts: list[str] | None = None  # expected lines (spaces ignored) when a result is expected
    check: Callable[[dict[str, np.ndarray]], None] | None = None  # other result checks
    status: dict[str, str] = field(default_factory=lambda: INVALID_ARG)
    parameters: dict[str, object] | None = None  # Triton request parameters it is sent with


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def text_image(mode: str = "RGB", size: tuple[int, int] = (640, 480), font_size: int = 40,
               lines: list[str] = LATIN) -> Image.Image:
    """Text lines (the three LATIN ones), black on white, converted to ``mode``."""
    return Image.open(io.BytesIO(render(lines, size=size, font_size=font_size))).convert(mode)


def sixteen_bit_png() -> bytes:
    gray = np.asarray(text_image("L"), dtype=np.uint16) * 257  # full 16-bit range
    return encoded(Image.fromarray(gray), "PNG")


def rgba_text() -> bytes:
    """Text on a half-transparent background: flattened onto white it reads the same."""
    image = text_image("RGBA")
    alpha = np.where(np.asarray(image.convert("L")) < 128, 255, 40).astype(np.uint8)
    image.putalpha(Image.fromarray(alpha))
    return encoded(image, "PNG")


def animated_gif() -> bytes:
    first = text_image("P")
    second = Image.new("P", first.size, 0)
    return encoded(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


def exif_rotated_jpeg() -> bytes:
    """Stored turned 90 degrees, with the EXIF tag that says how to show it upright."""
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    stored = text_image().transpose(Image.Transpose.ROTATE_90)
    return encoded(stored, "JPEG", quality=95, exif=exif.tobytes())


def png_bomb(side: int = 30000) -> bytes:
    """A real, complete PNG of ``side x side`` black 1-bit pixels: ~110 KB on disk,
    112 MB as bits and 2.7 GB as the RGB array a naive decoder would allocate."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def big_bmp() -> bytes:
    """About 20 MB: an uncompressed 2600 x 2600 BMP of large text (large sans-serif 'I' and 'l'
    look alike, so the lines avoid a capital I)."""
    return encoded(text_image("RGB", size=(2600, 2600), font_size=150, lines=LATIN[:2]), "BMP")


def screenshot(words: int = 640) -> bytes:
    """A 960 x 960 screen of small words, more than ``det_max_boxes`` (500) of them."""
    font = ImageFont.truetype(str(FONT), 14)
    image = Image.new("RGB", (960, 960), "white")
    draw = ImageDraw.Draw(image)
    for index in range(words):
        row, col = divmod(index, 16)
        draw.text((8 + col * 59, 8 + row * 23), f"w{index:03d}", fill="black", font=font)
    return encoded(image, "PNG")


def line_count(count: int) -> Callable[[dict[str, np.ndarray]], None]:
    def check(outputs: dict[str, np.ndarray]) -> None:
        assert outputs["texts"].shape == (1, count), outputs["texts"].shape
    return check


def image_tensor(data: bytes) -> Tensors:
    return [("image", np.frombuffer(data, np.uint8)[None], "UINT8")]


def image_case(name: str, make: Callable[[], bytes], **expect) -> Case:
    return Case(name, "ocr", lambda: image_tensor(make()), **expect)


OCR_CASES = [
    image_case("empty", lambda: b"", error="image is empty"),
    image_case("random-bytes", lambda: np.random.default_rng(1).bytes(5000), error="cannot decode"),
    image_case("truncated-jpeg", lambda: encoded(text_image(), "JPEG")[:3000], error="cannot decode"),
    image_case("truncated-png", lambda: render(LATIN)[:2000], error="cannot decode"),
    image_case("text-file", lambda: b"Hello Triton\nThis is a text file, not an image.\n" * 20,
               error="cannot decode"),
    image_case("svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><text>Hi</text></svg>',
               error="cannot decode"),
    image_case("pdf", lambda: b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n",
               error="cannot decode"),
    image_case("gif", lambda: encoded(text_image("P"), "GIF"), texts=LATIN),
    image_case("animated-gif-first-frame", animated_gif, texts=LATIN),
    image_case("1x1", lambda: encoded(Image.new("RGB", (1, 1), "white"), "PNG"), check=line_count(0)),
    image_case("1xN", lambda: encoded(Image.new("RGB", (2000, 1), "black"), "PNG"), check=line_count(0)),
    image_case("Nx1", lambda: encoded(Image.new("RGB", (1, 2000), "black"), "PNG"), check=line_count(0)),
    image_case("16-bit", sixteen_bit_png, texts=LATIN),
    image_case("grayscale", lambda: encoded(text_image("L"), "PNG"), texts=LATIN),
    image_case("palette", lambda: encoded(text_image("P"), "PNG"), texts=LATIN),
    image_case("cmyk-jpeg", lambda: encoded(text_image("CMYK"), "JPEG", quality=95), texts=LATIN),
    image_case("rgba", rgba_text, texts=LATIN),
    image_case("gray-alpha", lambda: encoded(text_image("LA"), "PNG"), texts=LATIN),
    image_case("fully-transparent", lambda: encoded(Image.new("RGBA", (640, 480), (0, 0, 0, 0)), "PNG"),
               check=line_count(0)),
    image_case("exif-rotated", exif_rotated_jpeg, texts=LATIN),
    image_case("webp", lambda: encoded(text_image(), "WEBP", quality=95), texts=LATIN),
    image_case("tiff", lambda: encoded(text_image(), "TIFF"), texts=LATIN),
    image_case("decompression-bomb", png_bomb, error="30000x30000 pixels, more than max_image_pixels"),
    image_case("20-MB-bmp", big_bmp, texts=LATIN[:2]),
    image_case("screenshot-640-words", screenshot, check=line_count(500)),  # det_max_boxes
    image_case("over-max-bytes", lambda: b"\xff\xd8" + bytes(40 * 1024 * 1024),
               error="more than max_image_bytes"),
    Case("wrong-datatype", "ocr", lambda: [("image", np.zeros((1, 100), np.float32), "FP32")],
         error="data-type"),
    Case("wrong-shape", "ocr", lambda: [("image", np.zeros((1, 10, 3), np.uint8), "UINT8")],
         error="shape"),
    Case("two-images", "ocr",
         lambda: [("image", np.stack([np.frombuffer(render(LATIN), np.uint8)] * 2), "UINT8")],
         error="batch"),
    Case("unknown-input-name", "ocr", lambda: [("picture", np.frombuffer(render(LATIN), np.uint8)[None],
                                                "UINT8")], error="picture"),
    Case("unknown-model", "no_such_model", lambda: image_tensor(render(LATIN)), error="no_such_model",
         status={"http": "404", "grpc": "StatusCode.NOT_FOUND"}),
]


def det_input(height: int, width: int, channels: int = 3, dtype=np.uint8) -> Tensors:
    return [("x", np.zeros((1, channels, height, width), dtype), "UINT8" if dtype == np.uint8
             else "FP32")]


def rec_input(width: int, value: float = 0.0) -> Tensors:
    return [("x", np.full((1, 3, 48, width), value, np.float32), "FP32")]


def postprocess_input(det_shape: list[int], prob_side: int = 320) -> Tensors:
    return [("image_bgr", np.full((1, 100, 200, 3), 255, np.uint8), "UINT8"),
            ("det_shape", np.array([det_shape], np.int32), "INT32"),
            ("det_prob", np.zeros((1, 1, prob_side, prob_side), np.float32), "FP32")]


def shape_is(name: str, shape: tuple[int, ...]) -> Callable[[dict[str, np.ndarray]], None]:
    def check(outputs: dict[str, np.ndarray]) -> None:
        assert outputs[name].shape == shape, (name, outputs[name].shape)
    return check


COMPOSING_CASES = [
    Case("preprocess-good", "ocr_preprocess", lambda: image_tensor(render(LATIN)),
         check=shape_is("det_input", (1, 3, 480, 640))),
    Case("preprocess-random-bytes", "ocr_preprocess", lambda: image_tensor(os.urandom(3000)),
         error="cannot decode"),
    Case("preprocess-bomb", "ocr_preprocess", lambda: image_tensor(png_bomb()), error="max_image_pixels"),
    Case("det-good", "text_det", lambda: det_input(320, 480), check=shape_is("prob", (1, 1, 320, 480))),
    Case("det-not-a-bucket", "text_det", lambda: det_input(352, 320), error="height 352"),
    Case("det-huge", "text_det", lambda: det_input(320, 4096), error="width 4096"),
    Case("det-one-channel", "text_det", lambda: det_input(320, 320, channels=1), error="shape"),
    Case("det-float", "text_det", lambda: det_input(320, 320, dtype=np.float32), error="data-type"),
    Case("cls-good", "text_cls", lambda: [("x", np.zeros((2, 3, 48, 192), np.float32), "FP32")],
         check=shape_is("angle", (2, 1))),
    Case("cls-nan", "text_cls", lambda: [("x", np.full((1, 3, 48, 192), np.nan, np.float32), "FP32")],
         check=shape_is("angle", (1, 1))),
    Case("cls-wrong-width", "text_cls", lambda: [("x", np.zeros((1, 3, 48, 100), np.float32), "FP32")],
         error="shape"),
    Case("rec-good", "text_rec", lambda: rec_input(320, 1.0), check=shape_is("text", (1, 1))),
    Case("rec-not-a-bucket", "text_rec", lambda: rec_input(1000), error="width 1000"),
    Case("rec-too-wide", "text_rec", lambda: rec_input(20000), error="width 20000"),
    Case("rec-wrong-height", "text_rec", lambda: [("x", np.zeros((1, 3, 32, 320), np.float32), "FP32")],
         error="shape"),
    Case("postprocess-good", "ocr_postprocess", lambda: postprocess_input([100, 200, 96, 192]),
         check=shape_is("texts", (1, 0))),
    Case("postprocess-det-shape-lies", "ocr_postprocess", lambda: postprocess_input([480, 640, 480, 640]),
         error="det_shape says the image is 480x640"),
    Case("postprocess-missing-input", "ocr_postprocess",
         lambda: postprocess_input([100, 200, 96, 192])[:2], error="det_prob"),
]
