import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from paddle_python.errors import InputError
from paddle_python.imaging import ImageLimits, decode_image


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


RED = Image.new("RGB", (40, 20), (255, 0, 0))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "WEBP", "TIFF"])
def test_formats_decode_to_bgr(fmt):
    image = decode_image(encode(RED, fmt, **({"quality": 95} if fmt == "JPEG" else {})))
    assert image.shape == (20, 40, 3) and image.dtype == np.uint8
    b, g, r = image[10, 20].astype(int)
    assert r > 240 and g < 15 and b < 15  # BGR order, as the models expect


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image = decode_image(encode(RED, "JPEG", exif=exif.tobytes()))
    assert image.shape == (40, 20, 3)


def test_transparent_pixels_become_white():
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    image = decode_image(encode(rgba, "PNG"))
    assert image[5, 5].tolist() == [255, 255, 255]
    assert image[0, 0].tolist() == [255, 0, 0]


def test_light_text_on_a_transparent_background_is_flattened_onto_black():
    rgba = Image.new("RGBA", (1200, 600), (255, 255, 255, 0))  # white, but fully transparent
    for x in range(100, 1100, 7):
        for y in range(250, 300):
            rgba.putpixel((x, y), (250, 250, 250, 255))  # light strokes
    image = decode_image(encode(rgba, "PNG"))
    assert image[10, 10].tolist() == [0, 0, 0] and image[260, 100].tolist() == [250, 250, 250]
    # Dark text on the same background stays on white.
    rgba = Image.new("RGBA", (60, 30), (0, 0, 0, 0))
    rgba.putpixel((5, 5), (20, 20, 20, 255))
    assert decode_image(encode(rgba, "PNG"))[0, 0].tolist() == [255, 255, 255]
    # So does dark text on a faint, mostly transparent white backdrop.
    rgba = Image.new("RGBA", (60, 30), (255, 255, 255, 40))
    rgba.putpixel((5, 5), (0, 0, 0, 255))
    assert decode_image(encode(rgba, "PNG"))[0, 0].tolist() == [255, 255, 255]


def test_palette_with_transparency_and_grayscale_alpha():
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    assert decode_image(encode(palette, "PNG", transparency=0))[0, 0].tolist() == [255, 255, 255]
    gray_alpha = Image.new("LA", (8, 8), (0, 255))
    assert decode_image(encode(gray_alpha, "PNG"))[0, 0].tolist() == [0, 0, 0]


def test_grayscale_and_cmyk_become_three_channels():
    assert decode_image(encode(Image.new("L", (9, 7), 128), "PNG"))[3, 3].tolist() == [128] * 3
    cmyk = decode_image(encode(Image.new("CMYK", (9, 7), (0, 0, 0, 0)), "JPEG"))
    assert cmyk.shape == (7, 9, 3) and cmyk.min() > 240


def test_sixteen_bit_grayscale_is_scaled_not_clipped():
    pixels = np.full((6, 6), 32896, dtype=np.uint16)  # half of 65535
    image = decode_image(encode(Image.fromarray(pixels), "PNG"))
    assert abs(int(image[0, 0, 0]) - 128) <= 1


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (b"this is a text file, not an image\n", "cannot decode"),
    (bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "cannot decode"),
])
def test_non_images_are_input_errors(data, message):
    with pytest.raises(InputError, match=message):
        decode_image(data)


def test_truncated_files_are_input_errors():
    photo = Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8))
    for fmt in ("JPEG", "PNG"):
        data = encode(photo, fmt)
        with pytest.raises(InputError, match="cannot decode"):
            decode_image(data[: len(data) // 2])


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims a huge size: the header is all a decoder needs to refuse it."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding():
    with pytest.raises(InputError, match="30000x30000 pixels"):
        decode_image(png_header_only(30000, 30000))


def test_size_limits_come_from_options():
    data = encode(RED, "PNG")
    with pytest.raises(InputError, match="max_image_bytes=10"):
        decode_image(data, ImageLimits(max_image_bytes=10))
    with pytest.raises(InputError, match="max_image_pixels=100"):
        decode_image(data, ImageLimits(max_image_pixels=100))


def test_accepts_a_uint8_array():
    assert decode_image(np.frombuffer(encode(RED, "PNG"), dtype=np.uint8)).shape == (20, 40, 3)
