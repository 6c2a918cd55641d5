"""Run-length encoding of masks as Kaggle's HuBMAP + HPA competition ships them.

`rle` in train.csv is "start length start length ...": starts are 1-indexed positions in the
image flattened column-major (down each column first, then the next column), runs are sorted
and do not overlap. No library decodes this convention with the validation a dataset reader
needs, so it is written here: every malformed string raises an error naming the image id.
"""

from __future__ import annotations

import numpy as np

from medbench.errors import DataError


def rle_encode(mask: np.ndarray) -> str:
    """(H, W) mask -> Kaggle RLE (empty string for an empty mask)."""
    flat = np.asarray(mask).astype(bool).ravel(order="F")
    padded = np.concatenate([[False], flat, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])  # run starts and ends, 0-indexed
    starts, ends = edges[::2], edges[1::2]
    return " ".join(f"{s + 1} {e - s}" for s, e in zip(starts, ends, strict=True))


def _runs(rle: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    tokens = rle.split()
    if len(tokens) % 2:
        raise DataError(f"{name}: malformed RLE, odd number of tokens ({len(tokens)})")
    try:
        values = np.array([int(t) for t in tokens], dtype=np.int64)
    except ValueError as exc:
        raise DataError(f"{name}: malformed RLE, non-integer token ({exc})") from exc
    starts, lengths = values[::2], values[1::2]
    if (starts < 1).any():
        raise DataError(f"{name}: malformed RLE, start {starts[starts < 1][0]} < 1 (starts are 1-indexed)")
    if (lengths < 1).any():
        raise DataError(f"{name}: malformed RLE, run length {lengths[lengths < 1][0]} < 1")
    return starts - 1, lengths


def check_rle(rle: str, height: int, width: int, name: str = "mask") -> tuple[np.ndarray, np.ndarray]:
    """0-indexed (starts, ends) of a valid RLE; DataError naming `name` otherwise."""
    if not isinstance(rle, str) or not rle.strip():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts, lengths = _runs(rle, name)
    ends = starts + lengths
    if len(ends) and ends.max() > height * width:
        raise DataError(f"{name}: malformed RLE, a run ends at pixel {ends.max()} beyond the "
                        f"{height}x{width} image ({height * width} pixels)")
    if (starts[1:] < ends[:-1]).any():
        i = int(np.flatnonzero(starts[1:] < ends[:-1])[0])
        raise DataError(f"{name}: malformed RLE, run {i + 2} (start {starts[i + 1] + 1}) overlaps or "
                        f"precedes run {i + 1} (pixels {starts[i] + 1}-{ends[i]})")
    return starts, ends


def rle_decode(rle: str, height: int, width: int, name: str = "mask") -> np.ndarray:
    """Kaggle RLE -> (height, width) uint8 mask in {0, 1}; `name` (the image id) is in errors."""
    starts, ends = check_rle(rle, height, width, name)
    mask = np.zeros(height * width, dtype=np.uint8)
    for start, end in zip(starts, ends, strict=True):
        mask[start:end] = 1
    return mask.reshape((height, width), order="F")
