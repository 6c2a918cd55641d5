"""The Kaggle "HuBMAP + HPA - Hacking the Human Body" training data, exactly as Kaggle ships it.

    train.csv                 id, organ, data_source, img_height, img_width, pixel_size,
                              tissue_thickness, rle, age, sex
    train_images/{id}.tiff    RGB, img_height x img_width

`read_train_table` checks every row before anything is used (unknown organ, bad sizes, a
malformed RLE, a missing, unreadable or truncated TIFF -- each is read in full -- or one whose
size differs from img_height x img_width, the same picture under two ids) and reports all
problems at once, each naming the image id.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

from medbench.data.io.rle import check_rle, rle_decode
from medbench.errors import DataError
from medbench.progress import progress

ORGANS = ("kidney", "largeintestine", "lung", "prostate", "spleen")
COLUMNS = ("id", "organ", "data_source", "img_height", "img_width", "pixel_size",
           "tissue_thickness", "rle", "age", "sex")


def image_path(images_dir: str | Path, image_id) -> Path:
    return Path(images_dir) / f"{image_id}.tiff"


def _row_problems(row, images_dir: Path, digests: dict[str, str]) -> list[str]:
    """Every problem of one train.csv row. The image is read in full (a truncated TIFF whose
    header is intact fails only then), and its content digest is kept in `digests` (id -> digest)."""
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
        pixels = tifffile.imread(path)
    except Exception as exc:  # tifffile raises several types for damaged or truncated files
        return [*problems, f"{name}: {path} unreadable or truncated TIFF ({exc})"]
    digests[row.id] = hashlib.sha1(str(pixels.shape).encode() + pixels.tobytes()).hexdigest()
    shape = pixels.shape
    if shape[:2] != (height, width):
        problems.append(f"{name}: {path} is {shape[0]}x{shape[1]}, train.csv says {height}x{width}")
    return problems


def read_train_table(csv_path: str | Path, images_dir: str | Path) -> pd.DataFrame:
    """train.csv, validated against itself and the images; DataError lists every problem."""
    csv_path, images_dir = Path(csv_path), Path(images_dir)
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: train.csv not found")
    try:
        table = pd.read_csv(csv_path, dtype={"id": str, "rle": str}, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{csv_path}: empty file (no header, no rows)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{csv_path}: not a readable CSV ({exc})") from exc
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{csv_path}: missing column(s) {missing}")
    if table.empty:
        raise DataError(f"{csv_path}: no rows (a header only): no image to use")
    digests: dict[str, str] = {}
    rows = progress(table.itertuples(index=False), total=len(table), desc=f"validate {csv_path.parent.name}",
                    unit="image")
    problems = [p for row in rows for p in _row_problems(row, images_dir, digests)]
    duplicated = table["id"][table["id"].duplicated()].unique()
    problems += [f"id {i}: appears more than once" for i in duplicated]
    first: dict[str, str] = {}
    for image_id, digest in digests.items():  # one picture under two ids: it could train and test
        if first.setdefault(digest, image_id) != image_id:
            problems.append(f"id {image_id}: the same pixels as id {first[digest]} (a copy under two ids)")
    if problems:
        raise DataError(f"{csv_path}: {len(problems)} problem(s)", problems)
    return table


def load_image(images_dir: str | Path, image_id) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    return tifffile.imread(image_path(images_dir, image_id))


def load_mask(row) -> np.ndarray:
    """(H, W) uint8 mask of one train.csv row."""
    return rle_decode(row["rle"], int(row["img_height"]), int(row["img_width"]), f"id {row['id']}")
