"""torch Datasets over the hubmap per-image cache (`<cache>/<source>/<id>.npz`), one per set of
the split table (train, val, test_pub, test_priv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from medbench.contracts import Sample
from medbench.errors import DataError
from medbench.studies.hubmap import layout
from medbench.studies.hubmap.preprocess import crop_or_pad, image_file
from medbench.studies.hubmap.splits import read_hubmap_splits

# The encoders' ImageNet statistics (timm / smp), also used from scratch so that pretrained
# and random initialisations see the same inputs.
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> normalised float (3, H, W)."""
    return torch.from_numpy(((image.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1).copy())


class HubmapDataset(Dataset):
    """Samples: image (3, H, W) normalised, mask (H, W) float 0/1, row (position in `rows`).

    With `size`, images that are not size x size (pixel-size-aware preprocessing) are
    centre-cropped or padded to it, so that they batch; without, each keeps its own size.
    """

    def __init__(self, cache_dir: str | Path, rows: pd.DataFrame, transform=None, size: int | None = None):
        self.rows = rows.reset_index(drop=True)
        self.paths = [image_file(cache_dir, r.source, r.id) for r in self.rows.itertuples()]
        missing = [str(p) for p in self.paths if not p.is_file()]
        if missing:
            raise DataError(f"{cache_dir}: {len(missing)} preprocessed image(s) missing, e.g. {missing[0]}; "
                            "re-run the preprocessing step")
        self.transform, self.size = transform, size

    def __len__(self) -> int:
        return len(self.rows)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        with np.load(self.paths[i]) as arrays:
            image, mask = arrays["image"], arrays["mask"]
        if self.size and image.shape[:2] != (self.size, self.size):
            image, mask = crop_or_pad(image, self.size, 255), crop_or_pad(mask, self.size, 0)
        return image, mask

    def __getitem__(self, i: int) -> Sample:
        image, mask = self.load(i)
        if self.transform is not None:
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        return {"image": to_tensor(image), "mask": torch.from_numpy(mask.astype(np.float32)),
                "row": torch.tensor(i)}


def split_datasets(cfg: dict, data_dir, names, seed: int, augment_train: bool = True
                   ) -> dict[str, HubmapDataset]:
    splits = read_hubmap_splits(layout.splits_file(data_dir))
    out = {}
    for name in names:
        rows = splits[splits["set"] == name]
        if rows.empty:
            raise DataError(f"{layout.splits_file(data_dir)}: no image in set '{name}'")
        transform = None
        if name == "train" and augment_train:
            # imported only for training: albumentations costs every predict process a second
            from medbench.data.transforms import build_augmentation

            transform = build_augmentation(cfg.get("augmentation"), seed)
        out[name] = HubmapDataset(layout.cache_dir(data_dir), rows, transform, size=cfg["data"]["image_size"])
    return out
