import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from app.errors import ImageError
from app.imageio import load_image


def _save(tmp_path, name, img, **kw):
    p = tmp_path / name
    img.save(p, **kw)
    return p


def test_rgb_roundtrip(tmp_path):
    arr = np.zeros((40, 50, 3), np.uint8)
    arr[:, :, 0] = 200
    out = load_image(_save(tmp_path, "a.png", Image.fromarray(arr)))
    assert out.shape == (40, 50, 3) and out.dtype == np.uint8 and out[0, 0, 0] == 200


@pytest.mark.parametrize("mode", ["L", "CMYK", "P"])
def test_other_modes_become_rgb(tmp_path, mode):
    img = Image.new("RGB", (32, 32), (10, 120, 200)).convert(mode)
    ext = "jpg" if mode == "CMYK" else "png"
    out = load_image(_save(tmp_path, f"m.{ext}", img))
    assert out.shape == (32, 32, 3)


def test_16_bit_greyscale_is_scaled(tmp_path):
    arr = (np.arange(32 * 32).reshape(32, 32) * 60).astype(np.uint16)
    out = load_image(_save(tmp_path, "g16.png", Image.fromarray(arr)))
    assert out.max() == 255 and out.shape == (32, 32, 3)


def test_transparent_png_on_white(tmp_path):
    img = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    assert (load_image(_save(tmp_path, "t.png", img)) == 255).all()


def test_exif_orientation_applied(tmp_path):
    img = Image.new("RGB", (60, 30), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    p = tmp_path / "rot.jpg"
    img.save(p, exif=exif)
    assert load_image(p).shape == (60, 30, 3)


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"hello, I am text", "not an image"),
    (bytes(range(256)) * 8, "not an image"),
])
def test_bad_files(tmp_path, content, match):
    p = tmp_path / "bad.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageError, match=match):
        load_image(p)


def test_truncated_jpeg(tmp_path, samples_dir):
    data = (samples_dir / "obama.jpg").read_bytes()
    p = tmp_path / "trunc.jpg"
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(p)


def test_folder_and_missing(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "nope.png")


def test_video_given_as_photo(samples_dir):
    with pytest.raises(ImageError):
        load_image(samples_dir / "short_hamilton_clip.mp4")


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_decompression_bomb_refused_without_decoding(tmp_path):
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 100)) \
        + _png_chunk(b"IEND", b"")
    p = tmp_path / "bomb.png"
    p.write_bytes(png)
    with pytest.raises(ImageError, match="too large to open safely"):
        load_image(p)


def test_too_small(tmp_path):
    with pytest.raises(ImageError, match="too small"):
        load_image(_save(tmp_path, "s.png", Image.new("RGB", (8, 8))))


def test_unicode_path_with_spaces(tmp_path):
    d = tmp_path / "фото с пробелом ✓"
    d.mkdir()
    assert load_image(_save(d, "été.png", Image.new("RGB", (20, 20)))).shape == (20, 20, 3)
