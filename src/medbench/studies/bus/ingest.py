"""bus ingestion: every configured dataset -> one image cache (data/interim/bus/images/).

Per image (spec A6.1): decode (PNG, BMP, JPEG; grey or colour -> RGB), crop HMSS by its csv
(top, height, left, width), merge a BUSI image's lesion masks (logical OR; RGB/RGBA masks are
binarised on their colour channels > 127), check every mask has the image's size, zero-pad to a
square (centred, busbench's rule), resize (masks: nearest, or bilinear + threshold 50 as the
authors' code does by accident). Every problem of every file is listed before anything is
written.

Duplicates: images whose 16 x 16 average hash is equal (exact and near copies; BUSI has many,
Pawłowska et al. 2023) form a `dup_group`; `group` unites case and duplicates, so the split never
puts copies of one image on both sides. `duplicates.csv` lists the groups of more than one image
(and whether their labels disagree: reported, not relabelled).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from medbench.data.cache import SliceCache
from medbench.errors import DataError
from medbench.fileio import write_csv
from medbench.progress import progress

log = logging.getLogger(__name__)


def read_rgb(path: Path) -> np.ndarray | None:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        return None
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)


def read_mask(path: Path) -> np.ndarray | None:
    """A binary mask from a grey, RGB or RGBA file: any colour channel > 127 (alpha ignored)."""
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mask is None:
        return None
    return (mask[..., :3] if mask.ndim == 3 else mask[..., None]).max(axis=-1) > 127


def pad_square(array: np.ndarray) -> np.ndarray:
    """Zero-pad the shorter side, centred (busbench: dif // 2 before, the rest after)."""
    h, w = array.shape[:2]
    dif = abs(h - w)
    before, after = dif // 2, dif - dif // 2
    pad = ((before, after), (0, 0)) if w > h else ((0, 0), (before, after))
    return np.pad(array, pad + ((0, 0),) * (array.ndim - 2))


def resize_mask(mask: np.ndarray, size: int, method: str) -> np.ndarray:
    if method == "nearest":
        return cv2.resize(mask.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST)
    grey = cv2.resize(mask.astype(np.uint8) * 255, (size, size), interpolation=cv2.INTER_LINEAR)
    return (grey > 50).astype(np.uint8)  # busbench: bilinear, then thresholded at 50


def _load(record: dict, size: int, mask_resize: str, problems: list[str]):
    image = read_rgb(record["image"])
    if image is None:
        problems.append(f"{record['image']}: unreadable or corrupt image")
        return None
    if record["crop"] is not None:
        top, height, left, width = record["crop"]
        if top < 0 or left < 0 or top + height > image.shape[0] or left + width > image.shape[1]:
            problems.append(
                f"{record['image']}: crop (top {top}, height {height}, left {left}, width {width}) "
                f"outside the {image.shape[0]}x{image.shape[1]} image"
            )
            return None
        image = image[top : top + height, left : left + width]
    merged = np.zeros(image.shape[:2], bool)
    for path in record["masks"]:
        mask = read_mask(path)
        if mask is None:
            problems.append(f"{path}: unreadable or corrupt mask")
        elif mask.shape != image.shape[:2]:
            problems.append(
                f"{path}: mask is {mask.shape[0]}x{mask.shape[1]}, its image "
                f"{record['image'].name} is {image.shape[0]}x{image.shape[1]}"
            )
        else:
            merged |= mask
    resized = cv2.resize(pad_square(image), (size, size), interpolation=cv2.INTER_AREA)
    return resized, resize_mask(pad_square(merged), size, mask_resize), image.shape[:2]


def average_hash(image: np.ndarray) -> str:
    grey = cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (16, 16), interpolation=cv2.INTER_AREA)
    return np.packbits(grey > grey.mean()).tobytes().hex()


def _groups(index: pd.DataFrame) -> pd.Series:
    """Connected components of 'same case' and 'same hash': the unit the split keeps together."""
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for case, dup in zip(index["case_id"], index["dup_group"], strict=True):
        parent[find(case)] = find(dup)
    return index["case_id"].map(find)


def ingest(records: list[dict], out_dir, size: int, mask_resize: str = "nearest") -> SliceCache:
    """Load every record (all problems at once), then write the cache and duplicates.csv beside it."""
    problems: list[str] = []
    loaded = [
        _load(r, size, mask_resize, problems) for r in progress(records, desc="ingest bus", unit="image")
    ]
    if problems:
        raise DataError(f"bus: {len(problems)} problem(s), nothing written", problems)
    images = np.stack([item[0] for item in loaded])
    masks = np.stack([item[1] for item in loaded])
    index = pd.DataFrame(
        {
            "sample_id": [f"b{i:05d}" for i in range(len(records))],
            "dataset": [r["dataset"] for r in records],
            "image_id": [r["image_id"] for r in records],
            "case_id": [r["case_id"] for r in records],
            "label": [r["label"] for r in records],
            "has_mask": [int(bool(r["masks"])) for r in records],
            "height": [item[2][0] for item in loaded],
            "width": [item[2][1] for item in loaded],
            "image_path": [str(r["image"]) for r in records],
            "mask_path": [";".join(map(str, r["masks"])) for r in records],
        }
    )
    hashes = [average_hash(image) for image in images]
    index["dup_group"] = [f"dup:{h}" for h in hashes]
    index["group"] = _groups(index)
    cache = SliceCache(images=images, masks=masks, index=index)
    cache.save(out_dir)
    duplicates = index[index.duplicated("dup_group", keep=False)].sort_values(["dup_group", "image_id"])
    duplicates = duplicates.assign(
        labels_disagree=duplicates.groupby("dup_group")["label"].transform("nunique") > 1
    )
    write_csv(
        Path(out_dir).parent / "duplicates.csv",
        duplicates[["dup_group", "image_id", "dataset", "label", "labels_disagree"]],
    )
    log.info(
        "ingested %d images (%d malignant, %d with masks); %d in duplicate groups",
        len(index),
        int(index["label"].sum()),
        int(index["has_mask"].sum()),
        len(duplicates),
    )
    return cache
