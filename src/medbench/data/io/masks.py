"""Binary mask images (PNG/BMP): grey, RGB or RGBA exports all mean "non-zero is foreground"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError


class MaskReadError(ValueError):
    """A mask file cannot be used; the message says which file and why."""


def read_mask(path: str | Path) -> np.ndarray:
    path = Path(path)
    try:
        with Image.open(path) as img:
            arr = np.asarray(img)
    except FileNotFoundError as exc:
        raise MaskReadError(f"{path}: mask file not found") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise MaskReadError(f"{path}: not a readable image ({exc})") from exc
    if arr.ndim == 3:
        arr = arr[..., :3].max(axis=-1) if arr.shape[-1] >= 3 else arr[..., 0]
    return arr > 0
