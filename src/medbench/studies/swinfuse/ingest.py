"""Validate every volume and write the index the split and datasets read (`prepare ingest`).

Each file is read in full (a truncated .nii.gz fails only when its voxels are decompressed):
shape (3-D, or 4-D channel-last for MSD Task01), an image and its label on the same grid
(shape and affine), BraTS' four contrasts on one grid, SynthRAD's CT and MR registered, label
values among the dataset's codes. Every problem of every file is listed before anything is
written. The volumes stay where they are: training reads them through MONAI's transforms.

volumes.csv: one row per volume (dataset, case_id, patient, centre, modality, fold, images,
label, shape, channels, digest); overlap.csv: MSD Task01 cases whose voxels equal a BraTS 2021
case's (the decathlon re-released BraTS 2016/17 cases, which BraTS 2021 includes): reported,
not removed.
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from medbench.errors import DataError
from medbench.fileio import write_csv
from medbench.progress import progress

log = logging.getLogger(__name__)
LABEL_CODES = {"brats21": {0, 1, 2, 4}, "msd01": {0, 1, 2, 3}, "msd10": {0, 1}}
CHANNELS = {"msd01": 4}  # 4-D channel-last images; every other image is 3-D


def read_volume(path: Path, problems: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Voxels and affine of a NIfTI file, or None with the problem recorded."""
    try:
        image = nib.load(path)
        if 0 in image.shape:  # no voxel to read: the header says why
            problems.append(f"{path}: empty volume, a dimension of length 0 (shape {image.shape})")
            return None
        return np.asanyarray(image.dataobj), image.affine
    except (OSError, EOFError, ValueError, zlib.error, nib.filebasedimages.ImageFileError) as err:
        problems.append(f"{path}: unreadable or truncated NIfTI ({type(err).__name__}: {err})")
        return None


def _voxels(data: np.ndarray) -> bytes:
    """The values, whatever the stored type (MSD re-released BraTS' int16 volumes as float32)."""
    return np.ascontiguousarray(data, dtype=np.float32).tobytes()


def _check_shape(path, data, channels: int | None, problems) -> bool:
    expected = "4-D with 4 channels last" if channels else "3-D"
    ok = data.ndim == 4 and data.shape[-1] == channels if channels else data.ndim == 3
    if not ok:
        problems.append(f"{path}: {data.ndim}-D volume of shape {data.shape}, expected {expected}")
    return ok


def _check_finite(path, data, problems) -> bool:
    """NaN or infinite voxels would pass every later step and poison training."""
    bad = int(np.count_nonzero(~np.isfinite(data))) if np.issubdtype(data.dtype, np.floating) else 0
    if bad:
        problems.append(f"{path}: {bad} voxel(s) are NaN or infinite")
    return not bad


def _check_label_codes(path, label: np.ndarray, dataset: str, problems) -> None:
    """Label voxels are integer class codes of the dataset (0.5 would read as lesion later)."""
    values = np.unique(label)
    fractional = values[values != np.round(values)] if np.issubdtype(values.dtype, np.floating) else []
    if len(fractional):
        problems.append(f"{path}: label values {fractional[:5].tolist()} are not integers (a label is a "
                        "class code)")
        return
    unknown = sorted(set(values.astype(int).tolist()) - LABEL_CODES[dataset])
    if unknown:
        problems.append(f"{path}: label values {unknown} are not {dataset} codes "
                        f"{sorted(LABEL_CODES[dataset])}")


def _same_grid(path, reference_path, shape, affine, ref_shape, ref_affine, problems) -> None:
    if tuple(shape) != tuple(ref_shape):
        problems.append(
            f"{path}: shape {tuple(shape)} differs from {Path(reference_path).name}'s {tuple(ref_shape)}"
        )
    elif not np.allclose(affine, ref_affine, atol=1e-3):
        problems.append(f"{path}: affine differs from {Path(reference_path).name}'s (not on the same grid)")


def _validate(record: dict, problems: list[str]) -> dict | None:
    channels = CHANNELS.get(record["dataset"])
    volumes = [read_volume(p, problems) for p in record["images"]]
    if any(v is None for v in volumes) or not all(
        [_check_shape(p, v[0], channels, problems) and _check_finite(p, v[0], problems)
         for p, v in zip(record["images"], volumes, strict=True)]
    ):
        return None
    (first, affine), first_path = volumes[0], record["images"][0]
    for path, (data, other_affine) in zip(record["images"][1:], volumes[1:], strict=True):
        _same_grid(path, first_path, data.shape, other_affine, first.shape, affine, problems)
    if record["label"] is not None:
        label = read_volume(record["label"], problems)
        if label is None or not _check_shape(record["label"], label[0], None, problems):
            return None
        _same_grid(record["label"], first_path, label[0].shape, label[1], first.shape[:3], affine, problems)
        _check_label_codes(record["label"], label[0], record["dataset"], problems)
    return {
        "shape": "x".join(map(str, first.shape[:3])),
        "channels": channels or len(volumes),
        "affine": affine,
        "digest": hashlib.sha1(_voxels(first[..., 0] if channels else first)).hexdigest(),
        "content": hashlib.sha1(b"".join(_voxels(data) for data, _ in volumes)).hexdigest(),
    }


def _check_duplicates(records: list[dict], checked: list[dict], problems: list[str]) -> None:
    """The same voxels under two cases of one dataset would sit on both sides of a split (the
    BraTS / MSD Task01 overlap is across datasets: reported in overlap.csv, not refused)."""
    seen: dict[tuple[str, str], dict] = {}
    for record, check in zip(records, checked, strict=True):
        first = seen.setdefault((record["dataset"], check["content"]), record)
        if first is not record:
            problems.append(f"{record['images'][0]}: case {record['case_id']} holds the same voxels as "
                            f"case {first['case_id']} ({first['images'][0]}) of {record['dataset']}: "
                            "remove the copy")


def _check_pairs(index: pd.DataFrame, affines: list, problems: list[str]) -> None:
    """SynthRAD: a patient's CT and MR must be registered (same grid)."""
    synthrad = index[index["dataset"] == "synthrad"]
    for _, pair in synthrad.groupby("patient"):
        if len(pair) == 2:
            (i, a), (j, b) = pair.iterrows()
            _same_grid(
                b["images"],
                a["images"],
                b["shape"].split("x"),
                affines[j],
                a["shape"].split("x"),
                affines[i],
                problems,
            )


def overlap(index: pd.DataFrame) -> pd.DataFrame:
    """MSD Task01 cases whose FLAIR voxels equal a BraTS case's."""
    brats = index[index["dataset"] == "brats21"][["case_id", "digest"]]
    msd = index[index["dataset"] == "msd01"][["case_id", "digest"]]
    return msd.merge(brats, on="digest", suffixes=("_msd01", "_brats21"))[
        ["case_id_msd01", "case_id_brats21"]
    ]


def ingest(records: list[dict], data_dir) -> pd.DataFrame:
    problems: list[str] = []
    checked = [_validate(r, problems) for r in progress(records, desc="validate volumes", unit="volume")]
    if problems:
        raise DataError(f"swinfuse: {len(problems)} problem(s) in the volumes, nothing written", problems)
    index = pd.DataFrame(
        [
            {
                **{k: v for k, v in r.items() if k != "images"},
                "images": ";".join(map(str, r["images"])),
                "label": r["label"] or "",
                "fold": r.get("fold", ""),
                **{k: v for k, v in c.items() if k not in ("affine", "content")},
            }
            for r, c in zip(records, checked, strict=True)
        ]
    )
    _check_pairs(index, [c["affine"] for c in checked], problems)
    _check_duplicates(records, checked, problems)
    if problems:
        raise DataError(f"swinfuse: {len(problems)} problem(s) in the volumes, nothing written", problems)
    shared = overlap(index)
    write_csv(Path(data_dir) / "volumes.csv", index)
    write_csv(Path(data_dir) / "overlap.csv", shared)
    log.info(
        "validated %d volumes: %s; %d MSD Task01 case(s) also in BraTS 2021",
        len(index),
        index["dataset"].value_counts().to_dict(),
        len(shared),
    )
    return index
