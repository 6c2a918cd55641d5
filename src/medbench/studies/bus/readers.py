"""The four breast-ultrasound datasets of the bus paper, in their real on-disk layouts
(the paper's §3.1, Table 1: HMSS, BUSI, BUSIS, Dataset B).

Each reader returns one record per image, {dataset, image_id, case_id, label (0 benign / 1
malignant), image (path), masks (paths, [] if none), crop (top, height, left, width) or None},
and appends every problem it finds (naming the file or row) to `problems` instead of stopping
at the first: the ingest step reports them all and writes nothing.

- BUSI (Al-Dhabyani 2020): Dataset_BUSI_with_GT/{benign,malignant,normal}/"<class> (N).png" with
  "<class> (N)_mask.png" and, for images with several lesions, "_mask_1.png", "_mask_2.png"
  (merged by the ingest step). No patient ids: each image is its own case (busbench).
- BUSIS (Zhang 2022): imgs/caseNNNN.bmp, GT/caseNNNN_GT.bmp, BUSIS562.csv (img name, Ground
  Truth Name, tumor type B/M).
- Dataset B / UDIAT (Yap 2018): imgs/NNNNNN.png, GT/NNNNNN.png, DatasetB.xlsx (Image, Type,
  Diagnosis); the ids are not contiguous: keyed on the sheet, never on a range.
- HMSS (ultrasoundcases.info): imgs/<img name>.jpg + HMSS.csv (`case id/cover img id` groups
  images of one case; `crop r1, crop r2, crop col1, crop col2` are top, HEIGHT, left, WIDTH).
  Its masks are private: `hmss_masks` names a folder of <img name>.png if you have them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from medbench.errors import DataError

BUSI_CLASSES = {"benign": 0, "malignant": 1, "normal": None}
BENIGN, MALIGNANT = {"0", "b", "benign"}, {"1", "m", "malignant"}


def label_of(value, where: str, problems: list[str]) -> int | None:
    """0/1, B/M, Benign/Malignant in any case; anything else is a problem naming `where`."""
    text = str(value).strip().lower()
    if text in BENIGN:
        return 0
    if text in MALIGNANT:
        return 1
    problems.append(f"{where}: unknown label {value!r} (expected 0/1, B/M or Benign/Malignant)")
    return None


def _record(dataset, image_id, case_id, label, image: Path, masks, problems, crop=None,
            lesion: bool = True) -> dict | None:
    """One image; `lesion`: its masks must show a lesion (every benign and malignant image)."""
    if not image.is_file():
        problems.append(f"{image}: image not found")
    for mask in masks:
        if not mask.is_file():
            problems.append(f"{mask}: mask of {image.name} not found")
    return {
        "dataset": dataset,
        "image_id": image_id,
        "case_id": case_id,
        "label": label,
        "image": image,
        "masks": list(masks),
        "crop": crop,
        "lesion": lesion,
    }


def read_busi(root: Path, include_normal: bool, problems: list[str]) -> list[dict]:
    root = Path(root)
    if not root.is_dir():
        problems.append(f"{root}: BUSI folder not found")
        return []
    records = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name not in BUSI_CLASSES:
            problems.append(
                f"{folder}: unknown BUSI class folder {folder.name!r}; known: {sorted(BUSI_CLASSES)}"
            )
            continue
        label = BUSI_CLASSES[folder.name]
        if label is None and not include_normal:
            continue
        # macOS AppleDouble files (`._benign (1).png`) beside the images are no images
        images = (p for p in folder.glob("*.png") if "_mask" not in p.stem and not p.name.startswith("._"))
        for image in sorted(images):
            masks = sorted(
                folder.glob(f"{glob_escape(image.stem)}_mask*.png"), key=lambda p: (len(p.stem), p.stem)
            )  # _mask before _mask_1, _mask_2
            if not masks:
                problems.append(f"{image}: no mask ({image.stem}_mask.png)")
            stem = f"busi:{folder.name}/{image.stem}"
            records.append(_record("busi", stem, stem, label if label is not None else 0, image, masks,
                                   problems, lesion=label is not None))
    return records


def glob_escape(text: str) -> str:
    return re.sub(r"([\[\]*?])", r"[\1]", text)


def _table(path: Path, problems: list[str], columns, reader=pd.read_csv) -> pd.DataFrame | None:
    if not path.is_file():
        problems.append(f"{path}: not found")
        return None
    try:
        table = reader(path, dtype=str).fillna("")
    except Exception as exc:  # a damaged csv / xlsx: pandas and openpyxl raise many types
        problems.append(f"{path}: unreadable ({exc})")
        return None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        problems.append(f"{path}: missing column(s) {missing}")
        return None
    return table


def read_busis(root: Path, problems: list[str]) -> list[dict]:
    root = Path(root)
    table = _table(root / "BUSIS562.csv", problems, ("img name", "Ground Truth Name", "tumor type"))
    if table is None:
        return []
    records = []
    for i, row in table.iterrows():
        label = label_of(row["tumor type"], f"{root / 'BUSIS562.csv'} row {i + 2}", problems)
        name = row["img name"].strip()
        mask = root / "GT" / f"{row['Ground Truth Name'].strip()}.bmp"
        key = f"busis:{name}"  # one image per case
        records.append(_record("busis", key, key, label, root / "imgs" / f"{name}.bmp", [mask], problems))
    return records


def read_dataset_b(root: Path, problems: list[str]) -> list[dict]:
    root = Path(root)
    sheet = _table(root / "DatasetB.xlsx", problems, ("Image", "Type"), pd.read_excel)
    if sheet is None:
        return []
    records, listed = [], set()
    for i, row in sheet[sheet["Image"].str.strip() != ""].iterrows():
        image_id = row["Image"].strip().split(".")[0].zfill(6)  # "1" or "000001": the sheet's key
        label = label_of(row["Type"], f"{root / 'DatasetB.xlsx'} row {i + 2}", problems)
        key, file = f"dataset_b:{image_id}", f"{image_id}.png"  # one image per case
        image, mask = root / "imgs" / file, root / "GT" / file
        listed.add(file)
        records.append(_record("dataset_b", key, key, label, image, [mask], problems))
    # an image the sheet does not list has no label: an error rather than a silent loss
    problems += [f"{path}: not listed in {root / 'DatasetB.xlsx'} (no label): add its row or remove the file"
                 for path in sorted((root / "imgs").glob("*.png")) if path.name not in listed]
    return records


CROP_COLUMNS = ("crop r1", "crop r2", "crop col1", "crop col2")


def read_hmss(root: Path, mask_dir: Path | None, problems: list[str]) -> list[dict]:
    root = Path(root)
    table = _table(
        root / "HMSS.csv", problems, ("img name", "case id/cover img id", "tumor type", *CROP_COLUMNS)
    )
    if table is None:
        return []
    records = []
    for i, row in table.iterrows():
        where = f"{root / 'HMSS.csv'} row {i + 2}"
        label = label_of(row["tumor type"], where, problems)
        try:
            crop = tuple(int(float(row[c])) for c in CROP_COLUMNS)  # top, height, left, width
        except ValueError:
            problems.append(f"{where}: crop columns {[row[c] for c in CROP_COLUMNS]} are not integers")
            crop = None
        name = row["img name"].strip()
        masks = [Path(mask_dir) / f"{name}.png"] if mask_dir else []
        records.append(
            _record(
                "hmss",
                f"hmss:{name}",
                f"hmss:{row['case id/cover img id'].strip()}",
                label,
                root / "imgs" / f"{name}.jpg",
                masks,
                problems,
                crop,
            )
        )
    return records


def read_datasets(raw: dict, include_normal: bool = False) -> list[dict]:
    """Every enabled dataset of the run config's `bus.raw` (busi, busis, dataset_b, hmss,
    hmss_masks); DataError listing every problem."""
    known = {"busi", "busis", "dataset_b", "hmss", "hmss_masks"}
    if not {key for key, path in (raw or {}).items() if path} & (known - {"hmss_masks"}):
        raise DataError(
            f"bus: raw names no dataset; give some of {sorted(known)} in the run config (bus.raw)"
        )
    problems: list[str] = []
    records = []
    if raw.get("busi"):
        records += read_busi(Path(raw["busi"]), include_normal, problems)
    if raw.get("busis"):
        records += read_busis(Path(raw["busis"]), problems)
    if raw.get("dataset_b"):
        records += read_dataset_b(Path(raw["dataset_b"]), problems)
    if raw.get("hmss"):
        records += read_hmss(Path(raw["hmss"]), raw.get("hmss_masks"), problems)
    if problems:
        raise DataError(f"bus: {len(problems)} problem(s) in the raw data, nothing written", problems)
    if not records:
        raise DataError("bus: the configured datasets hold no image")
    return records
