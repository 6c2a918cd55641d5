"""brain_ct ingestion: manifest CSV + DICOM slices + mask PNGs -> slice cache.

The manifest is what a user writes for their own export (the toy generator writes the same):

    hospital, patient_id, study_date, dicom, mask, hypodensity, irregular_margin,
    blend_sign, fluid_level            (+ any extra columns, kept in the index)

Paths are relative to the manifest's directory (or absolute); `mask` is empty where a slice
has no mask. Every row is checked before anything is written, and all problems are reported
at once, each naming its file (or row) and the problem.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from medbench.data.cache import ImageCache
from medbench.data.io.dicom import DicomReadError, read_ct_hu, window
from medbench.data.io.masks import MaskReadError, read_mask
from medbench.errors import DataError
from medbench.progress import progress

log = logging.getLogger(__name__)

MARKERS = ("hypodensity", "irregular_margin", "blend_sign", "fluid_level")
REQUIRED_COLUMNS = ("hospital", "patient_id", "study_date", "dicom", "mask", *MARKERS)


def read_manifest(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: manifest not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: manifest is empty (no header, no rows)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: manifest is not a readable CSV ({exc})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: manifest lacks required column(s) {missing}")
    if frame.empty:
        raise DataError(f"{path}: manifest has no rows")
    return frame


def _row_label_problems(row: pd.Series, where: str) -> list[str]:
    problems = []
    for col in MARKERS:
        if row[col].strip() not in ("0", "1"):
            problems.append(f"{where}: {col}={row[col]!r} is not a label (expected 0 or 1)")
    if not row["hospital"].strip().isdigit() or int(row["hospital"]) < 1:
        problems.append(f"{where}: hospital={row['hospital']!r} is not a positive integer")
    if not row["patient_id"].strip():
        problems.append(f"{where}: empty patient_id")
    return problems


def _patient_problems(manifest: pd.DataFrame, path: Path) -> list[str]:
    """A patient is one group of slices: listed under two hospitals, the patient-disjoint split
    would put them in a training hospital and a test hospital at once."""
    hospitals = manifest.groupby(manifest["patient_id"].str.strip())["hospital"].unique()
    return [f"{path}: patient {patient} is listed under hospitals {', '.join(sorted(found))}: a patient "
            "belongs to one hospital (rename one of them if they are two people)"
            for patient, found in hospitals.items() if len(found) > 1]


def _duplicate_problems(manifest_path: Path, keys: list[tuple[str, str]]) -> list[str]:
    """The same DICOM (file, or pixel content) on two rows would be two slices, possibly one in
    training and one in a test set."""
    first: dict[str, int] = {}
    problems = []
    for row, (file_key, pixel_key) in enumerate(keys):
        for key, what in ((file_key, "DICOM file"), (pixel_key, "pixel data")):
            if key is None:
                continue
            seen = first.setdefault(key, row)
            if seen != row:
                shown = key if what == "DICOM file" else "identical pixels"
                problems.append(f"{manifest_path} rows {seen + 2} and {row + 2}: the same {what} ({shown}); "
                                "list each slice once")
                break
    return problems


def _resize(arr: np.ndarray, size: int, nearest: bool) -> np.ndarray:
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return cv2.resize(arr, (size, size), interpolation=interp)


def _load_row(row, root: Path, image_size: int, win: dict, where: str):
    """Return (image uint8, mask uint8 | None, problems, pixel digest | None)."""
    problems = _row_label_problems(row, where)
    dicom_path = root / row["dicom"]
    try:
        hu = read_ct_hu(dicom_path)
    except DicomReadError as exc:
        return None, None, problems + [f"{where}: {exc}"], None
    digest = hashlib.sha1(hu.tobytes()).hexdigest()
    image = np.round(_resize(window(hu, win["center"], win["width"]), image_size, False) * 255)
    mask = None
    if row["mask"].strip():
        mask_path = root / row["mask"]
        try:
            full = read_mask(mask_path)
        except MaskReadError as exc:
            return None, None, problems + [f"{where}: {exc}"], digest
        if full.shape != hu.shape:
            problems.append(
                f"{where}: {mask_path}: mask size {full.shape} does not match DICOM {dicom_path} "
                f"size {hu.shape}"
            )
        else:
            mask = _resize(full.astype(np.uint8), image_size, True)
    return image.astype(np.uint8), mask, problems, digest


def ingest(manifest_path: str | Path, out_dir: str | Path, image_size: int, win: dict) -> ImageCache:
    """Validate every manifest row, then write the slice cache. Writes nothing on any error."""
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path)
    root = manifest_path.parent
    n = len(manifest)
    images = np.zeros((n, image_size, image_size), np.uint8)
    masks = np.zeros((n, image_size, image_size), np.uint8)
    has_mask = np.zeros(n, bool)
    problems: list[str] = _patient_problems(manifest, manifest_path)
    keys = []
    rows = progress(manifest.iterrows(), total=n, desc="ingest brain_ct", unit="slice")
    for i, row in rows:
        where = f"{manifest_path} row {i + 2}"  # +2: header line and 1-based numbering
        image, mask, row_problems, digest = _load_row(row, root, image_size, win, where)
        problems += row_problems
        keys.append((str((root / row["dicom"]).resolve()), digest))
        if image is not None:
            images[i] = image
        if mask is not None:
            masks[i], has_mask[i] = mask, True
    problems += _duplicate_problems(manifest_path, keys)
    if problems:
        raise DataError(f"{manifest_path}: {len(problems)} problem(s), nothing written", problems)
    index = manifest.copy()
    index.insert(0, "slice_id", [f"s{i:06d}" for i in range(n)])
    index["hospital"] = index["hospital"].astype(int)
    for col in MARKERS:
        index[col] = index[col].astype(int)
    index["has_mask"] = has_mask.astype(int)
    cache = ImageCache(images=images, masks=masks, index=index)
    cache.save(out_dir)
    log.info("ingested %d slices (%d with masks) into %s", n, has_mask.sum(), out_dir)
    return cache
