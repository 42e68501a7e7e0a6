"""A tiny PNG writer for the benchmark's histogram: no plotting library needed."""

from __future__ import annotations

import struct
import zlib

Color = tuple[int, int, int]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(pixels: list[list[Color]]) -> bytes:
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(c for pixel in row for c in pixel) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def histogram_png(
    values_ms: list[float],
    *,
    bin_ms: int = 100,
    limit_ms: int = 3000,
    marks_ms: tuple[int, ...] = (),
) -> bytes:
    """Bars of how many values fall in each ``bin_ms`` bin, with vertical marks (targets)."""
    bins = [0] * (limit_ms // bin_ms + 1)  # the last bin holds everything beyond the limit
    for value in values_ms:
        bins[min(int(value // bin_ms), len(bins) - 1)] += 1
    bar_w, height, pad = 12, 200, 10
    width = pad * 2 + bar_w * len(bins)
    white, bar, mark, axis = (255, 255, 255), (52, 101, 164), (204, 0, 0), (0, 0, 0)
    pixels = [[white] * width for _ in range(height + pad * 2)]
    top = max(bins) or 1
    for index, count in enumerate(bins):
        bar_height = round(count / top * height)
        for y in range(height - bar_height, height):
            for x in range(pad + index * bar_w + 1, pad + (index + 1) * bar_w - 1):
                pixels[pad + y][x] = bar
    for target in marks_ms:
        x = pad + round(target / bin_ms * bar_w)
        for y in range(pad, pad + height):
            if 0 <= x < width:
                pixels[y][x] = mark
    for x in range(pad, width - pad):
        pixels[pad + height][x] = axis
    return encode_png(pixels)
