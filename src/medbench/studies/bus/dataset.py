"""torch Dataset over the bus image cache: one fold's role (train, val or test)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from medbench.contracts import Sample
from medbench.data.cache import ImageCache

# ImageNet statistics: every backbone of the tables is ImageNet-initialised in the paper
# (busbench feeds BGR / 255 or raw 0-255 instead: listed as a deviation in the study YAML)
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


class BusDataset(Dataset):
    """Samples: image (3, S, S) normalised, label (float 0/1), mask (S, S), has_mask, row."""

    def __init__(self, cache: ImageCache, rows: np.ndarray, transform=None):
        self.cache, self.rows, self.transform = cache, np.asarray(rows), transform
        self.labels = cache.index["label"].to_numpy()
        self.has_mask = cache.index["has_mask"].to_numpy().astype(bool)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Sample:
        row = self.rows[i]
        image, mask = np.asarray(self.cache.images[row]), np.asarray(self.cache.masks[row])
        if self.transform is not None:
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        normalised = ((image.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(normalised)),
            "label": torch.tensor(float(self.labels[row])),
            "mask": torch.from_numpy(mask.astype(np.float32)),
            "has_mask": torch.tensor(self.has_mask[row]),
            "row": torch.tensor(row),
        }
