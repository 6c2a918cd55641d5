"""Datasets of one split protocol: brain_ct from its slice cache, hubmap from its per-image
cache; both with a splits table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from medbench.data.cache import SliceCache
from medbench.data.datasets import SliceDataset
from medbench.errors import DataError


def split_rows(cache: SliceCache, splits_csv: str | Path, protocol: str) -> dict[str, np.ndarray]:
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


def _augmentation(cfg: dict, seed: int):
    # imported only for training: albumentations costs every predict process a second
    from medbench.data.transforms import build_augmentation

    return build_augmentation(cfg.get("augmentation"), seed)


def _hubmap_datasets(cfg, cache_dir, splits_csv, names, seed, augment_train):
    from medbench.data.hubmap_dataset import HubmapDataset
    from medbench.data.hubmap_splits import read_hubmap_splits

    splits = read_hubmap_splits(splits_csv)
    out = {}
    for name in names:
        rows = splits[splits["set"] == name]
        if rows.empty:
            raise DataError(f"{splits_csv}: no image in set '{name}'")
        transform = _augmentation(cfg, seed) if name == "train" and augment_train else None
        out[name] = HubmapDataset(cache_dir, rows, transform, size=cfg["data"]["image_size"])
    return out


def split_datasets(cfg: dict, cache_dir, splits_csv, protocol: str, names, seed: int,
                   augment_train: bool = True) -> dict:
    if cfg["study"] == "hubmap":
        return _hubmap_datasets(cfg, cache_dir, splits_csv, names, seed, augment_train)
    cache = SliceCache.load(cache_dir)
    rows = split_rows(cache, splits_csv, protocol)
    label = cfg["split"]["label"]
    out = {}
    for name in names:
        if name not in rows:
            raise DataError(f"{splits_csv}: protocol {protocol} has no '{name}' split")
        transform = _augmentation(cfg, seed) if name == "train" and augment_train else None
        out[name] = SliceDataset(cache, rows[name], label, transform)
    return out
