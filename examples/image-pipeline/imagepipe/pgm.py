"""Plain (ASCII, "P2") PGM grayscale images: parsing, encoding and pixel arithmetic."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

Pixels = list[list[int]]


class PgmError(ValueError):
    """The text is not a well-formed plain PGM image."""


@dataclass(frozen=True)
class GrayImage:
    """A decoded grayscale image: rows of integer intensities in 0..max_value."""

    width: int
    height: int
    max_value: int
    pixels: Pixels

    def to_json(self) -> dict[str, Any]:
        """The image as JSON-serialisable fields (the shape tasks pass around)."""
        return {
            "width": self.width,
            "height": self.height,
            "max_value": self.max_value,
            "pixels": [list(row) for row in self.pixels],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GrayImage:
        """Rebuild an image from the fields written by `to_json`."""
        return cls(
            width=int(data["width"]),
            height=int(data["height"]),
            max_value=int(data["max_value"]),
            pixels=[[int(value) for value in row] for row in data["pixels"]],
        )


def _tokens(text: str) -> list[str]:
    """Whitespace-separated tokens of a PGM file, with `#` comments removed."""
    tokens: list[str] = []
    for line in text.splitlines():
        tokens.extend(line.split("#", 1)[0].split())
    return tokens


def _int(token: str, what: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise PgmError(f"{what} is not an integer: {token!r}") from None


def parse_pgm(text: str) -> GrayImage:
    """Parse a plain PGM ("P2") image.

    Raises:
        PgmError: the magic number, the header or the pixel data is wrong.
    """
    tokens = _tokens(text)
    if not tokens or tokens[0] != "P2":
        found = tokens[0] if tokens else "nothing"
        raise PgmError(f"expected the plain PGM magic number 'P2', found {found!r}")
    if len(tokens) < 4:
        raise PgmError("the header needs a width, a height and a maximum value")
    width = _int(tokens[1], "width")
    height = _int(tokens[2], "height")
    max_value = _int(tokens[3], "maximum value")
    if width < 1 or height < 1:
        raise PgmError(f"the image must not be empty, got {width}x{height}")
    if not 0 < max_value < 65536:
        raise PgmError(f"the maximum value must be in 1..65535, got {max_value}")
    values = [_int(token, "pixel") for token in tokens[4:]]
    if len(values) != width * height:
        raise PgmError(f"expected {width * height} pixels for {width}x{height}, got {len(values)}")
    if any(not 0 <= value <= max_value for value in values):
        raise PgmError(f"a pixel lies outside 0..{max_value}")
    rows = [values[row * width : (row + 1) * width] for row in range(height)]
    return GrayImage(width=width, height=height, max_value=max_value, pixels=rows)


def encode_pgm(image: GrayImage, comment: str | None = None) -> str:
    """Encode an image as plain PGM text, one pixel row per line."""
    lines = ["P2"]
    if comment:
        lines.append(f"# {comment}")
    lines.append(f"{image.width} {image.height}")
    lines.append(str(image.max_value))
    lines.extend(" ".join(str(value) for value in row) for row in image.pixels)
    return "\n".join(lines) + "\n"


def digest(image: GrayImage) -> str:
    """A SHA-256 digest of the image content, independent of how the PGM text was laid out."""
    sha = hashlib.sha256(f"{image.width} {image.height} {image.max_value}\n".encode())
    for row in image.pixels:
        sha.update((" ".join(str(value) for value in row) + "\n").encode())
    return sha.hexdigest()


def fit_within(width: int, height: int, box: int) -> tuple[int, int]:
    """The size of a `width`x`height` image scaled to fit a `box`x`box` square, keeping its
    aspect ratio (rounded to the nearest pixel, at least one pixel each way)."""
    longest = max(width, height)
    return (
        max(1, (width * box + longest // 2) // longest),
        max(1, (height * box + longest // 2) // longest),
    )


def resize_nearest(image: GrayImage, width: int, height: int) -> GrayImage:
    """Resize with nearest-neighbour sampling."""
    pixels = [
        [image.pixels[y * image.height // height][x * image.width // width] for x in range(width)]
        for y in range(height)
    ]
    return GrayImage(width=width, height=height, max_value=image.max_value, pixels=pixels)


def block_means(image: GrayImage, columns: int, rows: int) -> Pixels:
    """Average the image over a `columns`x`rows` grid of blocks (integer means).

    The image must be at least as large as the grid, so that every block holds a pixel.
    """
    means: Pixels = []
    for row in range(rows):
        top, bottom = row * image.height // rows, (row + 1) * image.height // rows
        line: list[int] = []
        for column in range(columns):
            left, right = column * image.width // columns, (column + 1) * image.width // columns
            block = [image.pixels[y][x] for y in range(top, bottom) for x in range(left, right)]
            line.append(sum(block) // len(block))
        means.append(line)
    return means
