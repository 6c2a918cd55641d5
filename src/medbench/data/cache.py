"""An image cache that training reads: one uint8 array of images, one of masks, an index table.

Layout of a cache directory:
    images.npy   uint8 (N, S, S) or (N, S, S, 3)   resized images (brain_ct: windowed HU x 255)
    masks.npy    uint8 (N, S, S)   0/1 (all zero where the sample has no mask)
    index.csv    one row per sample (ids, labels, has_mask, the study's columns)

Memory-mapped on read, so opening a large cache is instant and each worker reads only
what it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from medbench.errors import DataError
from medbench.fileio import atomic_dir


@dataclass
class ImageCache:
    images: np.ndarray
    masks: np.ndarray
    index: pd.DataFrame

    @classmethod
    def load(cls, root: str | Path) -> ImageCache:
        root = Path(root)
        missing = [n for n in ("images.npy", "masks.npy", "index.csv") if not (root / n).is_file()]
        if missing:
            raise DataError(f"{root}: incomplete image cache, missing {missing}; re-run the ingest step")
        cache = cls(
            images=np.load(root / "images.npy", mmap_mode="r"),
            masks=np.load(root / "masks.npy", mmap_mode="r"),
            index=pd.read_csv(root / "index.csv", keep_default_na=False),
        )
        if not len(cache.index) == len(cache.images) == len(cache.masks):
            raise DataError(f"{root}: index.csv, images.npy and masks.npy disagree in length")
        return cache

    def save(self, root: str | Path) -> None:
        with atomic_dir(root) as tmp:
            np.save(tmp / "images.npy", self.images)
            np.save(tmp / "masks.npy", self.masks)
            self.index.to_csv(tmp / "index.csv", index=False)
