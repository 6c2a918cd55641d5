"""hubmap preprocessing, once per image: resize, then Vahadane stain normalisation to one
target (paper §5: 3000 -> 768 px, Vahadane; §6: the same at inference; `stain.method`).

The target's stain is fitted once (`fit_stain_target`, its own pipeline step) and saved;
each image's step loads it, so normalisation runs once per image, whatever the number of
models. An image and its mask are stored together as `<cache>/<source>/<id>.npz`
(image uint8 (S, S, 3), mask uint8 (S, S)).

With `pixel_size_aware`, an image is instead rescaled to the training images' micrometres
per pixel (evaluation images differ: 0.229-6.263 µm against HPA's 0.4, paper Table 1), so
its size varies: prediction then slides an S x S window over the whole image, and training
crops or pads the (nearly S x S) training images to S x S.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from medbench.data.stain import fit_stain_target as fit_normalizer
from medbench.data.stain import load_stain_target
from medbench.errors import ConfigError, DataError
from medbench.fileio import atomic_path
from medbench.studies.hubmap.kaggle import load_image, load_mask

log = logging.getLogger(__name__)


def image_file(cache_dir: str | Path, source: str, image_id) -> Path:
    return Path(cache_dir) / source / f"{image_id}.npz"


def target_row(splits: pd.DataFrame, target_cfg: dict) -> pd.Series:
    """The stain target's row: `id`, or (id null) the first image of `organ` in `source`."""
    rows = splits[splits["source"] == target_cfg["source"]]
    if target_cfg.get("id") is not None:
        rows = rows[rows["id"].astype(str) == str(target_cfg["id"])]
        what = f"id {target_cfg['id']}"
    else:
        rows = rows[rows["organ"] == target_cfg["organ"]]
        what = f"organ {target_cfg['organ']}"
    if rows.empty:
        raise ConfigError(f"stain.target: no {target_cfg['source']} image with {what}")
    return rows.iloc[0]


def reference_um_per_px(splits: pd.DataFrame, image_size: int) -> float:
    """Micrometres per pixel of a resized training image (paper: 0.4 * 3000 / 768)."""
    train = splits[splits["source"] == "training"]
    return float(np.median(train["pixel_size"] * train[["img_height", "img_width"]].max(axis=1)) / image_size)


def crop_or_pad(array: np.ndarray, size: int, fill) -> np.ndarray:
    """Centre-crop or pad (with `fill`) to size x size."""
    out = np.full((size, size, *array.shape[2:]), fill, dtype=array.dtype)
    h, w = array.shape[:2]
    sy, sx = max(0, (h - size) // 2), max(0, (w - size) // 2)
    dy, dx = max(0, (size - h) // 2), max(0, (size - w) // 2)
    ch, cw = min(h, size), min(w, size)
    out[dy:dy + ch, dx:dx + cw] = array[sy:sy + ch, sx:sx + cw]
    return out


def _scale(row, data_cfg: dict, ref_um: float | None) -> float | None:
    return float(row["pixel_size"]) / ref_um if data_cfg.get("pixel_size_aware") else None


def to_original(prob: np.ndarray, row) -> np.ndarray:
    """A prediction on the whole preprocessed image, resized onto the original pixel grid."""
    return cv2.resize(prob, (int(row["img_width"]), int(row["img_height"])), interpolation=cv2.INTER_LINEAR)


def resize_pair(image: np.ndarray, mask: np.ndarray, size: int, scale: float | None = None):
    """Resize to size x size, or by `scale` (pixel-size-aware: any size)."""
    if scale is None:
        shape = (size, size)
    else:
        shape = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if shape[0] <= image.shape[1] else cv2.INTER_LINEAR
    return (cv2.resize(image, shape, interpolation=interpolation),
            cv2.resize(mask, shape, interpolation=cv2.INTER_NEAREST))


def load_resized(row: pd.Series, export_dir: str | Path, data_cfg: dict, ref_um: float | None):
    """The row's image and mask from its Kaggle export, resized as configured."""
    images_dir = Path(export_dir) / "train_images"
    image, mask = load_image(images_dir, row["id"]), load_mask(row)
    if image.ndim != 3 or image.shape[2] < 3:
        raise DataError(f"id {row['id']}: expected an RGB image, got shape {image.shape}")
    return resize_pair(np.ascontiguousarray(image[..., :3]), mask, data_cfg["image_size"],
                       _scale(row, data_cfg, ref_um))


def fit_stain_target(splits: pd.DataFrame, exports: dict[str, str], cfg: dict, out) -> pd.Series:
    """Fit the stain normaliser on the configured target image (resized as the images it normalises)."""
    row = target_row(splits, cfg["stain"]["target"])
    ref = reference_um_per_px(splits, cfg["data"]["image_size"])
    image, _ = load_resized(row, exports[row["source"]], cfg["data"], ref)
    normalizer = fit_normalizer(cfg["stain"]["method"], image, cfg["stain"]["standardize_luminosity"],
                                name=f"stain target id {row['id']}")
    normalizer.save(out)
    log.info("stain target: %s image %s (%s)", row["source"], row["id"], row["organ"])
    return row


def preprocess_image(splits: pd.DataFrame, source: str, image_id: str, exports: dict[str, str],
                     cfg: dict, stain_target, out) -> None:
    """Resize one image (and its mask), normalise its stain, write `out` (.npz)."""
    rows = splits[(splits["source"] == source) & (splits["id"].astype(str) == str(image_id))]
    if rows.empty:
        raise DataError(f"id {image_id}: not in the {source} export's split table")
    row = rows.iloc[0]
    image, mask = load_resized(row, exports[source], cfg["data"],
                               reference_um_per_px(splits, cfg["data"]["image_size"]))
    if source in cfg["stain"]["apply_to"]:
        image = load_stain_target(stain_target)(image, f"id {image_id}")
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, image=image, mask=mask.astype(np.uint8))
