"""Built-in images for the image kinds, and decoding the images of a dataset's rows.

What makes an image model's compute is the image's size: the processor resizes it, but resizing, padding
(detection keeps the aspect ratio and pads a batch to its largest image) and post-processing all follow the
input's width and height. So the built-in sets draw sizes the way the reference datasets have them
(ImageNet-1k validation-like for classification, COCO val2017-like for detection and captioning; the targets
and their sources are in the task files' `sources`), and fill them with seeded procedural content (a gradient,
a few shapes, a noise texture) so a model sees structure rather than a flat colour.

Everything is drawn with numpy's legacy `RandomState`, whose streams numpy keeps frozen, and integer
arithmetic only (no transcendental functions, whose last bit may differ between maths libraries), so an item
is byte-identical on every machine. Item *i* depends only on its own seed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_SIZE_TABLES: dict[str, tuple[tuple[int, int, int], ...]] = {
    # (width, height, weight): weights out of 100.
    "imagenet-val": (
        (500, 375, 46), (375, 500, 12), (500, 333, 14), (333, 500, 5), (500, 500, 5), (500, 400, 4),
        (400, 500, 2), (500, 281, 2), (640, 480, 2), (0, 0, 8),  # (0, 0): a free size, drawn below
    ),
    "coco-val2017": (
        (640, 480, 42), (480, 640, 12), (640, 427, 17), (427, 640, 7), (640, 640, 3), (640, 360, 4),
        (640, 512, 2), (612, 612, 2), (0, 0, 11),
    ),
}
"""Common sizes of each reference set, by weight; a free size is drawn in `FREE_SIZE_RANGES`."""

FREE_SIZE_RANGES = {"imagenet-val": ((200, 500), (0.6, 1.5)), "coco-val2017": ((400, 640), (0.6, 1.5))}
"""For a free size: the long side's range in pixels and the height/width ratio's range."""


@dataclass(frozen=True, eq=False)
class ImageItem:
    """One image query: `pixels` is an H x W x 3 uint8 RGB array (what image processors take)."""

    pixels: np.ndarray

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def content_bytes(self) -> bytes:
        """Canonical bytes: the size, then the pixels row by row (what the input set's hash covers)."""
        return f"rgb8:{self.width}x{self.height}:".encode() + np.ascontiguousarray(self.pixels).tobytes()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImageItem) and self.content_bytes() == other.content_bytes()

    def __hash__(self) -> int:
        return hash((self.width, self.height, self.pixels[:4, :4].tobytes()))

    def __repr__(self) -> str:
        return f"ImageItem({self.width}x{self.height})"


def _draw_size(rng: np.random.RandomState, table_name: str) -> tuple[int, int]:
    table = IMAGE_SIZE_TABLES[table_name]
    pick = int(rng.randint(0, sum(weight for _, _, weight in table)))
    for size_w, size_h, weight in table:
        if pick < weight:
            if size_w:
                return size_w, size_h
            break
        pick -= weight
    (low, high), (ratio_low, ratio_high) = FREE_SIZE_RANGES[table_name]
    long_side = int(rng.randint(low, high + 1))
    ratio_per_mille = int(rng.randint(int(ratio_low * 1000), int(ratio_high * 1000) + 1))  # height / width
    if ratio_per_mille <= 1000:
        return long_side, max(16, long_side * ratio_per_mille // 1000)
    return max(16, long_side * 1000 // ratio_per_mille), long_side


def procedural_image(seed: int, width: int, height: int) -> np.ndarray:
    """A seeded H x W x 3 uint8 picture: a two-colour gradient, 2-6 rectangles and ellipses, blocky texture and
    fine noise. Integer arithmetic only, so the bytes are the same everywhere."""
    rng = np.random.RandomState(seed % 2**32)
    start, end = rng.randint(0, 256, size=3), rng.randint(0, 256, size=3)
    if rng.randint(0, 2):
        position, span = np.arange(width, dtype=np.int32)[None, :, None], max(width - 1, 1)
    else:
        position, span = np.arange(height, dtype=np.int32)[:, None, None], max(height - 1, 1)
    ramp = (start * (span - position) + end * position) // span
    image = np.empty((height, width, 3), dtype=np.int16)
    image[...] = ramp
    for _ in range(int(rng.randint(2, 7))):
        colour = rng.randint(0, 256, size=3).astype(np.int16)
        x0, y0 = int(rng.randint(0, width)), int(rng.randint(0, height))
        rx, ry = int(rng.randint(8, max(9, width // 3))), int(rng.randint(8, max(9, height // 3)))
        top, bottom, left, right = max(0, y0 - ry), min(height, y0 + ry + 1), max(0, x0 - rx), min(width, x0 + rx + 1)
        region = image[top:bottom, left:right]
        if rng.randint(0, 2):
            region[...] = colour
        else:
            dy = np.arange(top, bottom, dtype=np.int64)[:, None] - y0
            dx = np.arange(left, right, dtype=np.int64)[None, :] - x0
            region[(dx * dx) * (ry * ry) + (dy * dy) * (rx * rx) <= (rx * ry) ** 2] = colour
    block = int(rng.randint(4, 17))
    coarse = rng.randint(-24, 25, size=(height // block + 1, width // block + 1, 1)).astype(np.int16)
    image += np.repeat(np.repeat(coarse, block, axis=0), block, axis=1)[:height, :width]
    image += rng.randint(-8, 9, size=(height, width, 1), dtype=np.int16)  # grain, the same in each channel
    return np.clip(image, 0, 255).astype(np.uint8)


def make_image_maker(table_name: str):
    """The per-item maker (`inputs.ITEM_MAKERS`) of the built-in images sized like a reference set (a key of
    `IMAGE_SIZE_TABLES`, which an image kind names as its `KindDescriptor.builtin_items`): a size drawn from the
    set's table, then the procedural picture, both from the item's seed."""

    def make(seed: int) -> ImageItem:
        rng = np.random.RandomState(seed % 2**32)
        width, height = _draw_size(rng, table_name)
        return ImageItem(procedural_image(int(rng.randint(0, 2**31 - 1)), width, height))

    return make


# ---------------------------------------------------------------------------------------------- dataset rows


def decode_image(data: bytes | None = None, path: str | Path | None = None) -> ImageItem:
    """Decode an encoded image (bytes, else the file at `path`) into an RGB `ImageItem`; ValueError saying why
    when it is not an image Pillow can read."""
    from PIL import Image, UnidentifiedImageError

    try:
        if data is not None:
            source: Any = io.BytesIO(data)
        elif path is not None:
            source = Path(path)
            if not source.is_file():
                raise ValueError(f"names image file {str(path)!r}, which does not exist")
        else:
            raise ValueError("holds neither image bytes nor a path")
        with Image.open(source) as image:
            rgb = image.convert("RGB")
            rgb.load()
    except ValueError:
        raise
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as error:
        what = "its image bytes" if data is not None else f"image file {str(path)!r}"
        detail = (str(error).strip().splitlines() or [error.__class__.__name__])[0][:200]
        raise ValueError(f"is not a decodable image ({what}: {detail})") from None
    return ImageItem(np.asarray(rgb, dtype=np.uint8))


def read_image_row(value: Any, kind: str, folder: Path | None = None) -> ImageItem:
    """One dataset row as an image (`inputs.ROW_READERS`): a decoded PIL image, a `{bytes, path}` dict as
    `datasets`' Image feature stores it, or a file path (relative to `folder`, the local dataset file's own)."""
    if hasattr(value, "convert") and hasattr(value, "size"):  # a PIL image decoded by `datasets`
        return ImageItem(np.asarray(value.convert("RGB"), dtype=np.uint8))
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        if data is not None:
            return decode_image(data=bytes(data))
        value = path
    if isinstance(value, str) and value.strip():
        path = Path(value).expanduser()
        if not path.is_absolute() and folder is not None:
            path = folder / path
        return decode_image(path=path)
    raise ValueError(f"is not an image (a {type(value).__name__}: expected an image, {{bytes, path}} or a path)")
