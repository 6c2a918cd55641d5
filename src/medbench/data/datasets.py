"""torch Datasets over a slice cache: the same samples for every model and task."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from medbench.data.cache import SliceCache


class SliceDataset(Dataset):
    """Samples of a 2-D slice cache: image (1, S, S) in [0, 1], class label, mask, has_mask.

    `has_mask` tells the loss which samples may contribute to segmentation (the paper averages
    the segmentation loss over slices that have a mask only).
    """

    def __init__(self, cache: SliceCache, rows: np.ndarray, label: str, transform=None):
        self.cache = cache
        self.rows = np.asarray(rows)
        self.labels = cache.index[label].to_numpy()
        self.has_mask = cache.index["has_mask"].to_numpy().astype(bool)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        row = self.rows[i]
        image = np.asarray(self.cache.images[row])
        mask = np.asarray(self.cache.masks[row])
        if self.transform is not None:
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        return {
            "image": torch.from_numpy(image.astype(np.float32) / 255.0)[None],
            "label": torch.tensor(self.labels[row], dtype=torch.long),
            "mask": torch.from_numpy(mask.astype(np.int64)),
            "has_mask": torch.tensor(self.has_mask[row]),
            "row": torch.tensor(row),
        }
