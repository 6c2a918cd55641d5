"""Binary mask images (PNG, BMP, ...), read strictly: what is not a binary mask is refused.

A mask is one grey channel, or RGB(A) whose colour channels are equal (BUSI ships some masks as
RGB and RGBA), holding at most two values: 0 (background) and one foreground value (1, 255 or
65535). With an alpha channel that is not fully opaque: a black image whose lesion is drawn only
in the alpha channel is that alpha mask (read as colour it would be empty); otherwise alpha must
be transparent exactly where the colour is background. Refused, with the file named:
- grey levels between the two (an anti-aliased or JPEG-compressed mask: where is its edge?);
- colour channels that differ (a coloured drawing, not a mask);
- colour and alpha that draw different regions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError


class MaskReadError(ValueError):
    """A mask file cannot be used; the message says which file and why."""


def _grey(arr: np.ndarray, path: Path) -> np.ndarray:
    """The channel that carries the mask, after checking the colour and alpha channels."""
    if arr.ndim == 2:
        return arr
    channels = arr.shape[-1]
    colour = arr[..., : 3 if channels >= 3 else 1]
    alpha = arr[..., -1] if channels in (2, 4) else None
    if (colour != colour[..., :1]).any():
        raise MaskReadError(f"{path}: colour channels differ: not a grey mask")
    grey = colour[..., 0]
    if alpha is None or (alpha == np.iinfo(arr.dtype).max).all():
        return grey
    if not grey.any():
        return alpha  # the lesion is drawn in the alpha channel of a black image
    if not np.array_equal(alpha > 0, grey > 0):
        raise MaskReadError(f"{path}: the colour and alpha channels draw different regions: save the mask as "
                            "a grey image with the lesion white")
    return grey


def read_mask(path: str | Path) -> np.ndarray:
    """The foreground (bool array) of a binary mask file; MaskReadError otherwise."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            arr = np.asarray(img)
    except FileNotFoundError as exc:
        raise MaskReadError(f"{path}: mask file not found") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise MaskReadError(f"{path}: not a readable image ({exc})") from exc
    if arr.dtype == bool:
        return arr if arr.ndim == 2 else _grey(arr.astype(np.uint8), path).astype(bool)
    grey = _grey(arr, path)
    levels = np.unique(grey)
    if len(levels) > 2 or (len(levels) == 2 and levels[0] != 0):
        shown = ", ".join(map(str, levels[:6])) + (", ..." if len(levels) > 6 else "")
        raise MaskReadError(f"{path}: not a binary mask: {len(levels)} grey levels ({shown}); expected 0 and "
                            "one foreground value")
    return grey > 0
