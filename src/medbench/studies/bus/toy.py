"""Synthetic breast-ultrasound data in the four public datasets' real layouts (readers.py).

    Dataset_BUSI_with_GT/{benign,malignant,normal}/"<class> (N).png" + "<class> (N)_mask.png"
    BUSIS/imgs/caseNNNN.bmp, BUSIS/GT/caseNNNN_GT.bmp, BUSIS/BUSIS562.csv
    DatasetB/imgs/NNNNNN.png, DatasetB/GT/NNNNNN.png, DatasetB/DatasetB.xlsx (Image, Type, Diagnosis)
    HMSS/imgs/<img name>.jpg + HMSS/HMSS.csv (13 columns, crop = top, height, left, width),
    HMSS/masks_private/<img name>.png (stands in for the authors' private masks)

The quirks are planted: BUSI images with extra lesions (`_mask_1`, one `_mask_2`), an RGBA mask,
an exact duplicate pair and a cross-class duplicate, all-black masks of normal images; Dataset B
ids that are not contiguous; HMSS cases with several images and a scanner UI the crop removes;
sizes that vary and are not square.

The signal is the one radiologists read (BI-RADS): tissue in horizontal layers (skin, fat,
glandular tissue, chest wall) with speckle; benign lesions oval and wider than tall with smooth
margins, moderately dark, with a bright column below (posterior enhancement); malignant ones
taller than wide with irregular margins, darker, with a posterior shadow. Each dataset has its
own gain and gamma (a domain shift).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from medbench.data.toy import checked_params
from medbench.errors import ConfigError
from medbench.fileio import atomic_dir
from medbench.studies.bus.layout import TOY_LAYOUT

log = logging.getLogger(__name__)
# each dataset's gain and gamma: a scanner / export domain shift
STYLE = {"busi": (1.0, 1.0), "busis": (0.85, 1.2), "dataset_b": (1.1, 0.9), "hmss": (0.95, 1.05)}


@dataclass(frozen=True)
class ToyBusConfig:
    seed: int = 0
    min_size: int = 80  # raw image sides vary in [min_size, max_size] px
    max_size: int = 144
    busi: tuple[int, int, int] = (24, 12, 6)  # benign, malignant, normal
    busis: tuple[int, int] = (12, 12)  # benign, malignant
    dataset_b: tuple[int, int] = (10, 6)
    hmss_cases: int = 16  # 1-4 images each
    # The planted signal, as (benign, malignant) pairs. Strong enough that every network of the
    # tables learns it from scratch in the toy budget, with a share of atypical lesions so that
    # no model can be perfect (a table where every row scores 1.0 compares nothing).
    lesion_size: tuple[float, float] = (0.08, 0.13)  # lesion radius / shorter image side, drawn in this range
    lesion_echo: tuple[float, float] = (0.25, 0.12)  # echogenicity inside the lesion (tissue 0.35-0.85)
    posterior: tuple[float, float] = (1.45, 0.55)  # gain of the column below the lesion: enhancement, shadow
    posterior_width: float = 0.8  # half-width of that column, in lesion radii
    atypical: float = 0.0  # share of lesions that look like the other class (shape, echo, posterior)
    speckle: float = 1.0  # strength of the multiplicative Rayleigh speckle (1: fully developed)

    @classmethod
    def from_dict(cls, params: dict | None) -> ToyBusConfig:
        tuples = ("busi", "busis", "dataset_b", "lesion_size", "lesion_echo", "posterior")
        cfg = cls(**checked_params(cls, params, "bus", tuples=tuples))
        if not 0 <= cfg.atypical <= 0.5:
            raise ConfigError(f"toy bus: atypical is a share of lesions in [0, 0.5], got {cfg.atypical}")
        return cfg


def _lesion(shape, rng, malignant: bool, cfg: ToyBusConfig, centre=None):
    """A lesion mask: an ellipse, benign wider than tall (width / height 1.4-2.0), malignant
    taller than wide (0.6-0.9) with its radius modulated by angle (an irregular margin)."""
    h, w = shape
    size = min(h, w) * rng.uniform(*cfg.lesion_size)
    aspect = rng.uniform(1.1, 1.67) if malignant else rng.uniform(0.5, 0.71)  # height / width
    ry, rx = size * np.sqrt(aspect), size / np.sqrt(aspect)
    cy, cx = centre or (rng.uniform(0.42, 0.62) * h, rng.uniform(0.3, 0.7) * w)
    yy, xx = np.mgrid[:h, :w]
    angle = np.arctan2(yy - cy, xx - cx)
    margin = 1 + 0.25 * np.sin(7 * angle + rng.uniform(0, 6)) + 0.12 * np.sin(13 * angle) if malignant else 1
    return (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) < np.square(margin), (cy, cx, rx, ry)


def _scan(shape, rng, malignant: bool | None, cfg: ToyBusConfig, lesions: int = 1):
    """(grey image in [0, 1], lesion masks) of one B-mode image; malignant None: no lesion."""
    h, w = shape
    depth = np.linspace(0, 1, h)[:, None]
    # echogenicity of the layers: skin, subcutaneous fat, glandular tissue, chest wall, whose
    # depths vary from breast to breast
    skin, fat, gland = rng.uniform(0.04, 0.08), rng.uniform(0.22, 0.34), rng.uniform(0.68, 0.82)
    depth = depth + rng.uniform(-0.08, 0.08) * np.linspace(-1, 1, w)[None, :]  # the probe's tilt
    echo = np.array([0.85, 0.35, 0.6, 0.75]) * rng.uniform(0.8, 1.2, 4)  # each breast its own
    bands = np.select([depth < skin, depth < fat, depth < gland], echo[:3], echo[3])
    tissue = bands * (1 + 0.1 * np.sin(2 * np.pi * (depth * 5 + rng.uniform())))
    masks = []
    if malignant is not None:
        for k in range(lesions):
            centre = None if k == 0 else (rng.uniform(0.4, 0.65) * h, rng.uniform(0.1, 0.9) * w)
            # an atypical lesion looks like the other class (e.g. a circumscribed carcinoma)
            looks = not malignant if rng.random() < cfg.atypical else malignant
            mask, (cy, cx, rx, ry) = _lesion(shape, rng, looks, cfg, centre)
            tissue = np.where(mask, cfg.lesion_echo[looks], tissue)
            column = np.abs(np.arange(w)[None, :] - cx) < rx * cfg.posterior_width
            below = (np.arange(h)[:, None] > cy + ry) & column
            tissue = tissue * np.where(below, cfg.posterior[looks], 1.0)  # enhancement / shadow
            masks.append(mask)
    speckle = 1 + cfg.speckle * (rng.rayleigh(0.5, shape) / 0.6267 - 1)  # mean 1
    image = np.clip(cv2.GaussianBlur((tissue * speckle).astype(np.float32), (3, 3), 0), 0, 1)
    return image, masks


def _styled(image: np.ndarray, dataset: str) -> np.ndarray:
    gain, gamma = STYLE[dataset]
    return np.clip(255 * np.clip(image * gain, 0, 1) ** gamma, 0, 255).astype(np.uint8)


def _shape(rng, cfg: ToyBusConfig) -> tuple[int, int]:
    return tuple(int(v) for v in rng.integers(cfg.min_size, cfg.max_size + 1, 2))


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), array):
        raise OSError(f"{path}: could not be written")


def _busi(root: Path, cfg: ToyBusConfig, rng) -> None:
    folder = root / TOY_LAYOUT["busi"]
    extra = {("benign", 2): 1, ("benign", 5): 2, ("malignant", 3): 1}  # _mask_1 (and _mask_2)
    for label, count in zip(("benign", "malignant", "normal"), cfg.busi, strict=True):
        for n in range(1, count + 1):
            malignant = None if label == "normal" else label == "malignant"
            image, masks = _scan(_shape(rng, cfg), rng, malignant, cfg, 1 + extra.get((label, n), 0))
            grey = _styled(image, "busi")
            _write(folder / label / f"{label} ({n}).png", cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
            if not masks:  # normal: an all-black mask
                masks = [np.zeros(grey.shape, bool)]
            for k, mask in enumerate(masks):
                suffix = "_mask" if k == 0 else f"_mask_{k}"
                out = mask.astype(np.uint8) * 255
                if (label, n) == ("benign", 3):  # an RGBA mask, as some real ones are
                    out = np.dstack([out, out, out, np.full_like(out, 255)])
                _write(folder / label / f"{label} ({n}){suffix}.png", out)
    # an exact duplicate within benign, and an image filed under both classes
    for source, target in (
        (("benign", 1), ("benign", cfg.busi[0] + 1)),
        (("benign", 4), ("malignant", cfg.busi[1] + 1)),
    ):
        for suffix in (".png", "_mask.png"):
            data = (folder / source[0] / f"{source[0]} ({source[1]}){suffix}").read_bytes()
            (folder / target[0] / f"{target[0]} ({target[1]}){suffix}").write_bytes(data)


def _busis(root: Path, cfg: ToyBusConfig, rng) -> None:
    rows = []
    for k, label in enumerate(["B"] * cfg.busis[0] + ["M"] * cfg.busis[1], 1):
        image, (mask,) = _scan(_shape(rng, cfg), rng, label == "M", cfg)
        _write(root / TOY_LAYOUT["busis"] / "imgs" / f"case{k:04d}.bmp", _styled(image, "busis"))
        _write(root / TOY_LAYOUT["busis"] / "GT" / f"case{k:04d}_GT.bmp", mask.astype(np.uint8) * 255)
        rows.append({"img name": f"case{k:04d}", "Ground Truth Name": f"case{k:04d}_GT", "tumor type": label})
    pd.DataFrame(rows).to_csv(root / TOY_LAYOUT["busis"] / "BUSIS562.csv", index=False)


def _dataset_b(root: Path, cfg: ToyBusConfig, rng) -> None:
    n = sum(cfg.dataset_b)
    ids = [f"{i:06d}" for i in [*range(1, n - n // 3 + 1), *range(295, 295 + n // 3)]]  # not contiguous
    labels = ["Benign"] * cfg.dataset_b[0] + ["Malignant"] * cfg.dataset_b[1]
    order = rng.permutation(n)
    rows = []
    for image_id, label in zip(ids, [labels[i] for i in order], strict=True):
        image, (mask,) = _scan(_shape(rng, cfg), rng, label == "Malignant", cfg)
        _write(root / TOY_LAYOUT["dataset_b"] / "imgs" / f"{image_id}.png", _styled(image, "dataset_b"))
        _write(root / TOY_LAYOUT["dataset_b"] / "GT" / f"{image_id}.png", mask.astype(np.uint8) * 255)
        rows.append({"Image": image_id, "Type": label, "Diagnosis": "FA" if label == "Benign" else "IDC"})
    sheet = pd.DataFrame(rows)
    sheet[""] = ""  # the real sheet keeps a legend beside the table (columns F:G)
    sheet["Legend"] = ["FA: fibroadenoma", "IDC: invasive ductal carcinoma"] + [""] * (n - 2)
    write_xlsx(sheet, root / TOY_LAYOUT["dataset_b"] / "DatasetB.xlsx")


XLSX_TIME = "2018-01-01T00:00:00Z"  # any fixed instant: the sheet's own dates


def write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    """`frame` as an .xlsx whose bytes depend on its content only. openpyxl stamps the workbook
    with the time of saving (docProps/core.xml) and the zip with each entry's write time: both
    are set to fixed values, so two exports of the same data are byte-identical."""
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            data = source.read(entry.filename)
            if entry.filename == "docProps/core.xml":
                stamp = rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*"
                data = re.sub(stamp, rb"\g<1>" + XLSX_TIME.encode(), data)
            target.writestr(zipfile.ZipInfo(entry.filename, date_time=(1980, 1, 1, 0, 0, 0)), data,
                            compress_type=zipfile.ZIP_DEFLATED)


def _hmss(root: Path, cfg: ToyBusConfig, rng) -> None:
    rows = []
    for case in range(cfg.hmss_cases):
        label = "Malignant" if case % 2 else "Benign"
        for k in range(int(rng.integers(1, 5))):
            name = f"hmss_{case:03d}_{k}"
            image, (mask,) = _scan(_shape(rng, cfg), rng, label == "Malignant", cfg)
            top, left = int(rng.integers(12, 20)), int(rng.integers(4, 10))
            height, width = image.shape
            frame = np.zeros((height + top + 6, width + left + 6), np.uint8)
            frame[: top - 4, 2:40] = 200  # the scanner's text band, cropped away
            frame[top : top + height, left : left + width] = _styled(image, "hmss")
            _write(root / TOY_LAYOUT["hmss"] / "imgs" / f"{name}.jpg", frame)
            _write(root / TOY_LAYOUT["hmss_masks"] / f"{name}.png", mask.astype(np.uint8) * 255)
            rows.append(
                {
                    "group": "breast",
                    "subgroup": "tumour",
                    "subgroup url": "",
                    "case description": "",
                    "img url": "",
                    "img name": name,
                    "case id/cover img id": f"case{case:03d}",
                    "crop r1": top,
                    "crop r2": height,
                    "crop col1": left,
                    "crop col2": width,
                    "tumor type": label,
                    "Notes": "",
                }
            )
    pd.DataFrame(rows).to_csv(root / TOY_LAYOUT["hmss"] / "HMSS.csv", index=False)


def generate(out_dir: str | Path, cfg: ToyBusConfig) -> None:
    rng = np.random.default_rng(cfg.seed)
    with atomic_dir(out_dir) as tmp:
        for writer in (_busi, _busis, _dataset_b, _hmss):
            writer(tmp, cfg, rng)
    log.info("toy bus data written to %s", out_dir)
