"""The swinfuse datasets in their real layouts -> one record per volume.

A record: dataset, case_id, patient, centre, modality (CT | MR), images (paths; BraTS: one file
per MR contrast in [flair, t1ce, t1, t2] order as the folds JSON lists them), label (path or
None). Missing files are problems named by path; reading the voxels is `validate.py`'s job.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from medbench.errors import ConfigError, DataError

SYNTHRAD_PATIENT = re.compile(r"^1[BP]([A-C])\d{3}$")  # Task 1 brain / pelvis, centre A-C


def _exists(path: Path, what: str, problems: list[str]) -> Path:
    if not path.is_file():
        problems.append(f"{path}: {what} not found")
    return path


def read_synthrad(root, problems: list[str]) -> list[dict]:
    """SynthRAD2023 Task 1: <pid>/{ct,mr}.nii.gz, paired and registered (pre-training)."""
    root = Path(root)
    if not root.is_dir():
        problems.append(f"{root}: SynthRAD2023 folder not found")
        return []
    patients = sorted(p for p in root.iterdir() if p.is_dir() and SYNTHRAD_PATIENT.match(p.name))
    if not patients:
        problems.append(f"{root}: no patient folder (1BA001, ...)")
    return [
        {
            "dataset": "synthrad",
            "case_id": f"{p.name}_{modality}",
            "patient": p.name,
            "centre": SYNTHRAD_PATIENT.match(p.name).group(1),
            "modality": modality.upper(),
            "images": [_exists(p / f"{modality}.nii.gz", f"{modality.upper()} volume", problems)],
            "label": None,
        }
        for p in patients
        for modality in ("ct", "mr")
    ]


def _json(path: Path, problems: list[str]) -> dict | None:
    if not path.is_file():
        problems.append(f"{path}: not found")
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        problems.append(f"{path}: not valid JSON ({err})")
        return None


def read_brats(root, folds_json, dataset: str, problems: list[str]) -> list[dict]:
    """BraTS 2021 through its folds JSON ({"training": [{"fold", "image": [4], "label"}]})."""
    root, folds_json = Path(root), Path(folds_json)
    listing = _json(folds_json, problems)
    if listing is None:
        return []
    records = []
    for i, entry in enumerate(listing.get("training", [])):
        if not {"fold", "image", "label"} <= set(entry) or len(entry["image"]) != 4:
            problems.append(f"{folds_json}: training entry {i} needs fold, 4 images and a label")
            continue
        label = _exists(root / entry["label"], "label", problems)
        case = Path(entry["label"]).parent.name or Path(entry["label"]).name.split("_seg")[0]
        records.append(
            {
                "dataset": dataset,
                "case_id": case,
                "patient": case,
                "centre": "",
                "modality": "MR",
                "fold": int(entry["fold"]),
                "label": label,
                "images": [_exists(root / image, "image", problems) for image in entry["image"]],
            }
        )
    if not records:
        problems.append(f"{folds_json}: no training cases")
    return records


def read_msd(task_dir, dataset: str, modality: str, problems: list[str]) -> list[dict]:
    """A Medical Segmentation Decathlon task through its dataset.json; AppleDouble `._*` entries
    (shipped in the archives) are skipped."""
    task_dir = Path(task_dir)
    listing = _json(task_dir / "dataset.json", problems)
    if listing is None:
        return []
    records = []
    for entry in listing.get("training", []):
        image = Path(entry["image"])
        if image.name.startswith("._"):
            continue
        case = image.name.removesuffix(".nii.gz")
        records.append(
            {
                "dataset": dataset,
                "case_id": case,
                "patient": case,
                "centre": "",
                "modality": modality,
                "label": _exists(task_dir / entry["label"], "label", problems),
                "images": [_exists(task_dir / image, "image", problems)],
            }
        )
    if not records:
        problems.append(f"{task_dir / 'dataset.json'}: no training cases")
    return records


def read_datasets(raw: dict, tasks: dict) -> list[dict]:
    """Every configured dataset (`raw:`): SynthRAD for pre-training, the enabled downstream
    tasks. All missing files are listed in one DataError."""
    needed = ["synthrad", *(f"{t}_folds" for t, s in tasks.items() if s["dataset"] == "brats21"), *tasks]
    missing = [key for key in needed if not raw.get(key)]
    if missing:
        raise ConfigError(f"raw: no path for {missing} (the run config's swinfuse.raw)")
    problems: list[str] = []
    records = read_synthrad(raw["synthrad"], problems)
    for task, spec in tasks.items():
        if spec["dataset"] == "brats21":
            records += read_brats(raw[task], raw[f"{task}_folds"], task, problems)
        else:
            records += read_msd(raw[task], task, spec["modality"], problems)
    if problems:
        raise DataError(f"swinfuse: {len(problems)} problem(s) in the raw data, nothing written", problems)
    return records
