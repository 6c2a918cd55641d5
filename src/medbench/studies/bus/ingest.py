"""bus ingestion: every configured dataset -> one image cache (data/interim/bus/images/).

Per image (the datasets of the paper's §3.1, Table 1): decode (PNG, BMP, JPEG; grey or colour
-> RGB), crop HMSS by its csv (top, height, left, width), merge a BUSI image's lesion masks
(logical OR; each must be binary: medbench.data.io.masks), check every mask has the image's size and shows the
lesion of a benign or malignant image, scale 16-bit images to 8 bits, zero-pad to a
square (centred, busbench's rule), resize (masks: nearest, or bilinear + threshold 50 as the
authors' code does by accident). Every problem of every file is listed before anything is
written.

Duplicates: images that are copies of one acquisition (exact, shifted, cropped, re-encoded:
`duplicates.py`) form a `dup_group`; `group` unites cases and their copies, so the split never
puts copies of one image on both sides. `duplicates.csv` lists the groups of more than one image,
each image's closest copy and their similarity, and whether the labels disagree (reported, not
relabelled).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from medbench.data.cache import ImageCache
from medbench.data.io.masks import MaskReadError, read_mask
from medbench.errors import DataError
from medbench.fileio import write_csv
from medbench.progress import progress
from medbench.studies.bus.duplicates import average_hash, copy_pairs, speckle

log = logging.getLogger(__name__)


def read_rgb(path: Path) -> np.ndarray:
    """8-bit RGB of an image file; a 16-bit image is scaled by its range (65535 -> 255), so that
    every image of the cache has the same scale. ValueError names what is wrong."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError("unreadable or corrupt image")
    if image.dtype == np.uint16:
        image = np.round(image / 257.0).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"{image.dtype} pixels: expected an 8- or 16-bit image")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)


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
    try:
        image = read_rgb(record["image"])
    except ValueError as exc:
        problems.append(f"{record['image']}: {exc}")
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
        try:
            mask = read_mask(path)
        except MaskReadError as exc:
            problems.append(str(exc))
            continue
        if mask.shape != image.shape[:2]:
            problems.append(
                f"{path}: mask is {mask.shape[0]}x{mask.shape[1]}, its image "
                f"{record['image'].name} is {image.shape[0]}x{image.shape[1]}"
            )
        else:
            merged |= mask
    if record["masks"] and record["lesion"] and not merged.any():
        problems.append(f"{';'.join(map(str, record['masks']))}: empty mask, but its image "
                        f"{record['image'].name} is a {('benign', 'malignant')[record['label']]} lesion")
    resized = cv2.resize(pad_square(image), (size, size), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    fingerprint = (average_hash(pad_square(grey)), speckle(grey))  # for the near-duplicate search
    return resized, resize_mask(pad_square(merged), size, mask_resize), image.shape[:2], fingerprint


class _Components:
    """Union-find over names: which images and cases belong together."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        while self.parent.setdefault(x, x) != x:
            x = self.parent[x]
        return x

    def join(self, a: str, b: str) -> None:
        ra, rb = sorted((self.find(a), self.find(b)))
        self.parent[rb] = ra


def _duplicate_groups(index: pd.DataFrame, pairs) -> tuple[pd.Series, pd.Series]:
    """(dup_group: the images joined by copy pairs, group: cases and their copies' cases -- the
    unit the split keeps together)."""
    copies, cases = _Components(), _Components()
    ids, case_ids = index["sample_id"].tolist(), index["case_id"].tolist()
    for i, j, _ in pairs:
        copies.join(ids[i], ids[j])
        cases.join(case_ids[i], case_ids[j])
    return (pd.Series([f"dup:{copies.find(s)}" for s in ids], index=index.index),
            pd.Series([cases.find(c) for c in case_ids], index=index.index))


def ingest(records: list[dict], out_dir, size: int, mask_resize: str = "nearest") -> ImageCache:
    """Load every record (all problems at once), then write the cache and duplicates.csv beside it."""
    problems: list[str] = []
    loaded = [
        _load(r, size, mask_resize, problems) for r in progress(records, desc="ingest bus", unit="image")
    ]
    if problems:
        raise DataError(f"bus: {len(problems)} problem(s), nothing written", problems)
    images = np.stack([item[0] for item in loaded])
    masks = np.stack([item[1] for item in loaded])
    pairs = copy_pairs([item[3][0] for item in loaded], [item[3][1] for item in loaded])
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
    index["dup_group"], index["group"] = _duplicate_groups(index, pairs)
    cache = ImageCache(images=images, masks=masks, index=index)
    cache.save(out_dir)
    duplicates = index[index.duplicated("dup_group", keep=False)].sort_values(["dup_group", "image_id"])
    best = {}
    for i, j, score in pairs:  # each image's closest copy, for the report
        for a, b in ((i, j), (j, i)):
            if score > best.get(a, ("", 0.0))[1]:
                best[a] = (index.loc[b, "image_id"], score)
    duplicates = duplicates.assign(
        labels_disagree=duplicates.groupby("dup_group")["label"].transform("nunique") > 1,
        copy_of=[best[i][0] for i in duplicates.index],
        similarity=[best[i][1] for i in duplicates.index],
    )
    write_csv(
        Path(out_dir).parent / "duplicates.csv",
        duplicates[["dup_group", "image_id", "dataset", "label", "labels_disagree", "copy_of", "similarity"]],
    )
    log.info(
        "ingested %d images (%d malignant, %d with masks); %d in duplicate groups",
        len(index),
        int(index["label"].sum()),
        int(index["has_mask"].sum()),
        len(duplicates),
    )
    return cache
