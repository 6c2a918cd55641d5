"""torch Datasets over the slice cache, one per split of a protocol: the same samples for every
model and task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from medbench.contracts import Sample
from medbench.data.cache import ImageCache
from medbench.errors import DataError
from medbench.studies.brain_ct.layout import slices_dir, splits_file


class SliceDataset(Dataset):
    """Samples of a 2-D slice cache: image (1, S, S) in [0, 1], class label, mask, has_mask.

    `has_mask` tells the loss which samples may contribute to segmentation (the paper averages
    the segmentation loss over slices that have a mask only).
    """

    def __init__(self, cache: ImageCache, rows: np.ndarray, label: str, transform=None):
        self.cache = cache
        self.rows = np.asarray(rows)
        self.labels = cache.index[label].to_numpy()
        self.has_mask = cache.index["has_mask"].to_numpy().astype(bool)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Sample:
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


def split_rows(cache: ImageCache, splits_csv: str | Path, protocol: str) -> dict[str, np.ndarray]:
    """Cache row numbers of every split of `protocol`."""
    splits = pd.read_csv(splits_csv, keep_default_na=False)
    column = f"split_{protocol}"
    if column not in splits.columns:
        raise DataError(f"{splits_csv}: no column {column}; protocols there: "
                        f"{[c[6:] for c in splits.columns if c.startswith('split_')]}")
    if list(splits["slice_id"]) != list(cache.index["slice_id"]):
        raise DataError(f"{splits_csv}: slice ids differ from the cache; re-run the split step")
    return {name: np.flatnonzero(splits[column].to_numpy() == name)
            for name in sorted(set(splits[column]) - {""})}


def protocol_rows(data_dir, protocol: str) -> tuple[ImageCache, dict[str, np.ndarray]]:
    """The slice cache and the cache rows of each split of `protocol`."""
    cache = ImageCache.load(slices_dir(data_dir))
    return cache, split_rows(cache, splits_file(data_dir), protocol)


def slice_datasets(cfg: dict, data_dir, protocol: str, names, seed: int, augment_train: bool = True
                   ) -> dict[str, SliceDataset]:
    cache, rows = protocol_rows(data_dir, protocol)
    out = {}
    for name in names:
        if name not in rows:
            raise DataError(f"{splits_file(data_dir)}: protocol {protocol} has no '{name}' split")
        transform = None
        if name == "train" and augment_train:
            # imported only for training: albumentations costs every predict process a second
            from medbench.data.transforms import build_augmentation

            transform = build_augmentation(cfg.get("augmentation"), seed)
        out[name] = SliceDataset(cache, rows[name], cfg["split"]["label"], transform)
    return out
