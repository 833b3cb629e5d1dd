"""Decoding an encoded image file into the 8-bit BGR array every later stage expects.

Pillow reads the header before any pixel is decoded, so size limits are enforced before
memory is committed; EXIF orientation is applied, transparency is flattened onto white or
black, whichever contrasts with what is drawn, and grayscale, palette, CMYK and 16-bit
images become 8-bit BGR (the channel order the PP-OCR models were trained on).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from .errors import InputError

# Pillow's own decompression-bomb guard is replaced by ``ImageLimits.max_image_pixels``,
# checked on the header before any pixel is decoded, with a message naming the limit.
Image.MAX_IMAGE_PIXELS = None
# Load every format plugin now rather than inside the first request.
Image.init()

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601 weights of R, G, B
_SAMPLE_SIDE = 512  # the drawn pixels' brightness is judged on a sample at most this large
_OPAQUE = 128  # alpha from which a pixel counts as drawn
_LIGHT = 127.5  # mean luminance above which what is drawn is light


@dataclass(frozen=True)
class ImageLimits:
    """What an input image may be; larger inputs are refused before decoding."""

    max_image_bytes: int = 32 * 1024 * 1024
    max_image_pixels: int = 40_000_000


def decode_image(data: bytes | np.ndarray, limits: ImageLimits = ImageLimits()) -> np.ndarray:
    """Decode one encoded image file into a contiguous ``H x W x 3`` uint8 BGR array."""
    data = bytes(memoryview(data)) if isinstance(data, np.ndarray) else data
    if len(data) == 0:
        raise InputError("image is empty (0 bytes)", "empty")
    if len(data) > limits.max_image_bytes:
        raise InputError(
            f"image is {len(data)} bytes, more than max_image_bytes={limits.max_image_bytes}",
            "too_many_bytes",
        )
    try:
        image = Image.open(io.BytesIO(data))
    except Exception:
        raise InputError(
            f"cannot decode image ({len(data)} bytes): not a JPEG, PNG, BMP, WebP, TIFF or "
            "other known image format", "undecodable"
        ) from None
    width, height = image.size
    if width * height > limits.max_image_pixels:
        raise InputError(
            f"image is {width}x{height} pixels, more than max_image_pixels={limits.max_image_pixels}",
            "too_many_pixels",
        )
    try:
        image.load()
        return to_bgr(ImageOps.exif_transpose(image))
    except Exception as exc:  # Pillow raises many types for corrupt data.
        raise InputError(f"cannot decode image ({len(data)} bytes): {exc}",
                         "undecodable") from None


def to_bgr(image: Image.Image) -> np.ndarray:
    """Any Pillow mode to 8-bit BGR; alpha is composited onto ``contrasting_background``."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        pixels = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if pixels.max(initial=0) > 255 else 255.0
        gray = np.clip(pixels * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if image.mode == "F":
        gray = np.clip(np.asarray(image, dtype=np.float64), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, contrasting_background(rgba))
        image = Image.alpha_composite(background, rgba)
    rgb = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


def contrasting_background(rgba: Image.Image) -> tuple[int, int, int, int]:
    """Opaque white, or black when what is drawn (the pixels at least half opaque) is light.

    Text on a transparent background is often white (a caption for a dark page): flattened
    onto white it would vanish. Only the opaque pixels count, so dark text on a faint
    half-transparent backdrop still goes onto white. Judged on a nearest-neighbour sample,
    so a large image costs no full-size float copy.
    """
    scale = _SAMPLE_SIDE / max(rgba.size)
    sample = rgba if scale >= 1 else rgba.resize(
        (max(1, round(rgba.width * scale)), max(1, round(rgba.height * scale))), Image.NEAREST)
    pixels = np.asarray(sample)
    drawn = pixels[pixels[..., 3] >= _OPAQUE][:, :3]
    if len(drawn) == 0 or float((drawn @ _LUMA).mean()) <= _LIGHT:
        return (255, 255, 255, 255)
    return (0, 0, 0, 255)
