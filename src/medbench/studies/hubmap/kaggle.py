"""The Kaggle "HuBMAP + HPA - Hacking the Human Body" training data, exactly as Kaggle ships it.

    train.csv                 id, organ, data_source, img_height, img_width, pixel_size,
                              tissue_thickness, rle, age, sex
    train_images/{id}.tiff    RGB, img_height x img_width

`read_train_table` checks every row before anything is used (unknown organ, bad sizes, a
malformed RLE, a missing TIFF or one whose size differs from img_height x img_width) and
reports all problems at once, each naming the image id.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

from medbench.data.io.rle import check_rle, rle_decode
from medbench.errors import DataError

ORGANS = ("kidney", "largeintestine", "lung", "prostate", "spleen")
COLUMNS = ("id", "organ", "data_source", "img_height", "img_width", "pixel_size",
           "tissue_thickness", "rle", "age", "sex")


def image_path(images_dir: str | Path, image_id) -> Path:
    return Path(images_dir) / f"{image_id}.tiff"


def _tiff_shape(path: Path) -> tuple[int, ...]:
    with tifffile.TiffFile(path) as tif:
        return tuple(tif.pages[0].shape)


def _row_problems(row, images_dir: Path) -> list[str]:
    name = f"id {row.id}"
    if row.organ not in ORGANS:
        return [f"{name}: unknown organ {row.organ!r}; known: {list(ORGANS)}"]
    try:
        height, width = int(row.img_height), int(row.img_width)
    except (TypeError, ValueError):
        return [f"{name}: img_height/img_width not integers ({row.img_height!r}, {row.img_width!r})"]
    if height < 1 or width < 1:
        return [f"{name}: img_height/img_width must be positive, got {height}x{width}"]
    problems = []
    try:
        check_rle(row.rle, height, width, name)
    except DataError as exc:
        problems.append(str(exc))
    path = image_path(images_dir, row.id)
    if not path.is_file():
        return [*problems, f"{name}: image {path} not found"]
    try:
        shape = _tiff_shape(path)
    except Exception as exc:  # tifffile raises several types for damaged files
        return [*problems, f"{name}: {path} unreadable as TIFF ({exc})"]
    if shape[:2] != (height, width):
        problems.append(f"{name}: {path} is {shape[0]}x{shape[1]}, train.csv says {height}x{width}")
    return problems


def read_train_table(csv_path: str | Path, images_dir: str | Path) -> pd.DataFrame:
    """train.csv, validated against itself and the images; DataError lists every problem."""
    csv_path, images_dir = Path(csv_path), Path(images_dir)
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: train.csv not found")
    table = pd.read_csv(csv_path, dtype={"id": str, "rle": str}, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{csv_path}: missing column(s) {missing}")
    problems = [p for row in table.itertuples(index=False) for p in _row_problems(row, images_dir)]
    duplicated = table["id"][table["id"].duplicated()].unique()
    problems += [f"id {i}: appears more than once" for i in duplicated]
    if problems:
        raise DataError(f"{csv_path}: {len(problems)} problem(s)", problems)
    return table


def load_image(images_dir: str | Path, image_id) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    return tifffile.imread(image_path(images_dir, image_id))


def load_mask(row) -> np.ndarray:
    """(H, W) uint8 mask of one train.csv row."""
    return rle_decode(row["rle"], int(row["img_height"]), int(row["img_width"]), f"id {row['id']}")
