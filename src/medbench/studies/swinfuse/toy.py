"""Synthetic CT / MR volumes in the four datasets' real NIfTI layouts.

    synthrad2023/Task1/brain/1B{A,B,C}NNN/{ct,mr,mask}.nii.gz + overview/1_brain_train.csv
    brats2021/TrainingData/BraTS2021_NNNNN/BraTS2021_NNNNN_{flair,t1,t1ce,t2,seg}.nii.gz
    brats2021/brats21_folds.json                      MONAI research-contributions format
    msd/Task01_BrainTumour/{imagesTr,labelsTr,imagesTs}/BRATS_NNN.nii.gz + dataset.json
    msd/Task10_Colon/{imagesTr,labelsTr}/colon_NNN.nii.gz + dataset.json

SynthRAD patients are one synthetic head seen by both modalities (paired, registered): skull
bright on CT and dark on MR, CSF dark on CT and bright on a T2-like MR, so CT-only and MR-only
pre-training see different images of the same anatomy; the brain has a folded grey / white
matter pattern (brighter grey matter on both), so crops differ in content and a contrastive
objective has something to tell apart; each centre has its own MR gain and bias field. The
tumours are the BraTS classes (necrotic core 1, edema 2, enhancing rim 4) with their
usual contrasts (bright edema on FLAIR/T2, bright rim on T1ce, dark core on T1); one case has
no enhancing tumour (an empty ET channel). MSD Task01 is 4-D channel-last with MSD's label codes
and another scanner gain, with AppleDouble `._*` junk files as in the real archive, and its
first case is a copy of a BraTS case (the cohorts overlap). Task10 is CT of a colon with a
hyperdense wall lesion.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter

from medbench.data.toy import checked_params
from medbench.fileio import atomic_dir
from medbench.studies.swinfuse.layout import TOY_LAYOUT

log = logging.getLogger(__name__)
CENTRES = {"A": (1.0, 0.0), "B": (1.6, 0.25), "C": (0.7, -0.2)}  # MR gain, bias-field slope
BRATS_MODALITIES = ("flair", "t1", "t1ce", "t2")
# mean intensity of each tissue per MR contrast: background, brain, edema, core, enhancing rim
TUMOUR_CONTRAST = {
    "flair": (0, 300, 750, 420, 450),
    "t1": (0, 420, 330, 140, 420),
    "t1ce": (0, 420, 340, 150, 950),
    "t2": (0, 320, 820, 700, 500),
}


@dataclass(frozen=True)
class ToySwinfuseConfig:
    seed: int = 0
    shape: tuple[int, int, int] = (72, 48, 48)  # voxels (x, y, z), 1 mm
    synthrad_per_centre: int = 4
    brats_cases: int = 15
    brats_folds: int = 5
    msd01_cases: int = 15
    msd01_test_cases: int = 3
    msd10_cases: int = 12

    @classmethod
    def from_dict(cls, params: dict | None) -> ToySwinfuseConfig:
        return cls(**checked_params(cls, params, "swinfuse", tuples=("shape",)))


def _ellipsoid(shape, centre, radii) -> np.ndarray:
    grid = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True)) <= 1.0


def _save(path: Path, array: np.ndarray, affine=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, np.eye(4) if affine is None else affine), path)


def _head(shape, rng) -> dict[str, np.ndarray]:
    """Tissue masks of a head: scalp/skull shell, brain, ventricles (CSF)."""
    centre = np.array(shape) / 2 + rng.uniform(-2, 2, 3)
    radii = np.array(shape) * rng.uniform(0.40, 0.45, 3)
    head = _ellipsoid(shape, centre, radii)
    brain = _ellipsoid(shape, centre, radii - 3)
    ventricles = _ellipsoid(shape, centre + rng.uniform(-1, 1, 3), radii * rng.uniform(0.18, 0.26, 3))
    return {"head": head, "skull": head & ~brain, "brain": brain & ~ventricles, "csf": ventricles}


def _grey_white(shape, rng) -> np.ndarray:
    """A folded grey / white matter pattern in [-1, 1] (a smoothed random field: grey > 0), so
    that two crops of one brain differ as they do in a scan, not only by where the skull is."""
    field = gaussian_filter(rng.normal(size=shape), sigma=2.0)
    return np.tanh(field / field.std())


def _synthrad(root: Path, cfg: ToySwinfuseConfig, rng) -> None:
    brain_dir, rows = root / TOY_LAYOUT["synthrad"], []
    for centre, (gain, slope) in CENTRES.items():
        for i in range(1, cfg.synthrad_per_centre + 1):
            pid, tissue = f"1B{centre}{i:03d}", _head(cfg.shape, rng)
            folds = _grey_white(cfg.shape, rng)[tissue["brain"]]
            ct = np.full(cfg.shape, -1000.0)
            for name, hu in (("skull", 1000), ("brain", 32 + 8 * folds), ("csf", 5)):  # grey 40, white 24
                ct[tissue[name]] = hu
            mr = np.zeros(cfg.shape)
            # T2-like: grey matter brighter than white, CSF brightest
            for name, value in (("skull", 60), ("brain", 500 + 150 * folds), ("csf", 900)):
                mr[tissue[name]] = value
            bias = 1 + slope * np.linspace(-1, 1, cfg.shape[0])[:, None, None]
            mr = np.clip(gain * bias * mr + rng.normal(0, 15, cfg.shape) * tissue["head"], 0, None)
            _save(brain_dir / pid / "ct.nii.gz", (ct + rng.normal(0, 10, cfg.shape)).astype(np.int16))
            _save(brain_dir / pid / "mr.nii.gz", mr.astype(np.float32))
            _save(brain_dir / pid / "mask.nii.gz", tissue["head"].astype(np.uint8))
            rows.append({"ID": pid, "Center": centre, "Task": 1, "Region": "brain"})
    (brain_dir / "overview").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(brain_dir / "overview" / "1_brain_train.csv", index=False)


def _tumour(shape, rng, enhancing: bool = True) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A head with a tumour: tissue masks and the BraTS label volume {0, 1, 2, 4}. The tumour core
    (radius 6.5-8.5 voxels) and its enhancing rim (3 voxels thick) are large enough at the toy's
    64 x 32 x 32 crops for the tumour core and enhancing tumour channels to be learnt in minutes,
    not only the whole tumour (with a 4-6 voxel core and a 2-voxel rim they stayed near 0 Dice)."""
    tissue = _head(shape, rng)
    brain = tissue["brain"] | tissue["csf"]
    centre = np.array(shape) / 2 + rng.uniform(-0.1, 0.1, 3) * np.array(shape)
    r = rng.uniform(6.5, 8.5)
    edema = _ellipsoid(shape, centre, r * rng.uniform(1.45, 1.75, 3)) & brain
    rim = _ellipsoid(shape, centre, [r] * 3) & brain
    core = _ellipsoid(shape, centre, [r - 3] * 3) & brain
    label = np.zeros(shape, np.uint8)
    label[edema] = 2
    label[rim] = 4 if enhancing else 1
    label[core] = 1
    return tissue, label


def _mr_contrasts(tissue, label, rng, gain: float) -> dict[str, np.ndarray]:
    volumes = {}
    for modality, (bg, brain, edema, core, rim) in TUMOUR_CONTRAST.items():
        v = np.full(label.shape, float(bg))
        v[tissue["brain"] | tissue["csf"]] = brain
        for code, value in ((2, edema), (4, rim), (1, core)):
            v[label == code] = value
        v = gain * v + rng.normal(0, 20, label.shape) * tissue["head"]
        volumes[modality] = np.clip(v, 0, None)
    return volumes


def _brats(root: Path, cfg: ToySwinfuseConfig, rng) -> dict[str, np.ndarray]:
    base, folds = root / TOY_LAYOUT["brats21"], []
    first = None
    for i in range(cfg.brats_cases):
        case = f"BraTS2021_{i:05d}"
        tissue, label = _tumour(cfg.shape, rng, enhancing=i != 2)
        volumes = {m: v.astype(np.int16) for m, v in _mr_contrasts(tissue, label, rng, 1.0).items()}
        for modality, volume in volumes.items():
            _save(base / "TrainingData" / case / f"{case}_{modality}.nii.gz", volume)
        _save(base / "TrainingData" / case / f"{case}_seg.nii.gz", label)
        folds.append(
            {
                "fold": i % cfg.brats_folds,
                "label": f"TrainingData/{case}/{case}_seg.nii.gz",
                "image": [f"TrainingData/{case}/{case}_{m}.nii.gz" for m in ("flair", "t1ce", "t1", "t2")],
            }
        )
        first = first or (volumes, label)
    (root / TOY_LAYOUT["brats21_folds"]).write_text(json.dumps({"training": folds}, indent=1))
    return first


MSD01_LABELS = {2: 1, 1: 2, 4: 3}  # BraTS code -> MSD code: edema 1, non-enhancing 2, enhancing 3


def _msd01(root: Path, cfg: ToySwinfuseConfig, rng, brats_case) -> None:
    task = root / TOY_LAYOUT["msd01"]
    training, test = [], []
    for i in range(1, cfg.msd01_cases + cfg.msd01_test_cases + 1):
        name = f"BRATS_{i:03d}.nii.gz"
        if i == 1:  # the cohorts overlap: a BraTS case re-released in the decathlon
            volumes, label = brats_case
        else:
            tissue, label = _tumour(cfg.shape, rng)
            volumes = _mr_contrasts(tissue, label, rng, 1.3)
        image = np.stack([volumes[m] for m in ("flair", "t1", "t1ce", "t2")], axis=-1).astype(np.float32)
        if i > cfg.msd01_cases:
            _save(task / "imagesTs" / name, image)
            test.append(f"./imagesTs/{name}")
            continue
        msd_label = np.zeros_like(label)
        for brats_code, msd_code in MSD01_LABELS.items():
            msd_label[label == brats_code] = msd_code
        _save(task / "imagesTr" / name, image)
        _save(task / "labelsTr" / name, msd_label)
        training.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
    for folder in ("imagesTr", "labelsTr"):  # macOS AppleDouble files shipped in the archive
        (task / folder / "._BRATS_001.nii.gz").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    _dataset_json(
        task,
        "BrainTumour",
        {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"},
        {"0": "background", "1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour"},
        training,
        test,
    )


def _msd10(root: Path, cfg: ToySwinfuseConfig, rng) -> None:
    task, training = root / TOY_LAYOUT["msd10"], []
    x, y, z = cfg.shape
    for i in range(1, cfg.msd10_cases + 1):
        body = _ellipsoid(cfg.shape, (x / 2, y / 2, z / 2), (x * 0.48, y * 0.42, z * 0.45))
        centre = (x / 2, y / 2 + rng.uniform(-4, 4), z / 2 + rng.uniform(-4, 4))
        wall = _ellipsoid(cfg.shape, centre, (x, 7, 7))
        lumen = _ellipsoid(cfg.shape, centre, (x, 4.5, 4.5))
        lesion = (
            wall
            & ~lumen
            & _ellipsoid(cfg.shape, (rng.uniform(0.3, 0.7) * x, *centre[1:]), (rng.uniform(6, 10), 8, 8))
        )
        ct = np.full(cfg.shape, -1000.0)
        ct[body] = -100  # fat
        ct[wall] = 40
        ct[lumen] = -1000
        ct[lesion] = 110
        name = f"colon_{i:03d}.nii.gz"
        _save(task / "imagesTr" / name, (ct + rng.normal(0, 12, cfg.shape)).astype(np.int16))
        _save(task / "labelsTr" / name, lesion.astype(np.uint8))
        training.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
    _dataset_json(
        task, "Colon", {"0": "CT"}, {"0": "background", "1": "colon cancer primaries"}, training, []
    )


def _dataset_json(task: Path, name, modality, labels, training, test) -> None:
    (task / "dataset.json").write_text(
        json.dumps(
            {
                "name": name,
                "tensorImageSize": "4D" if len(modality) > 1 else "3D",
                "modality": modality,
                "labels": labels,
                "numTraining": len(training),
                "numTest": len(test),
                "training": training,
                "test": test,
            },
            indent=1,
        )
    )


def generate(out_dir: str | Path, cfg: ToySwinfuseConfig) -> None:
    rng = np.random.default_rng(cfg.seed)
    with atomic_dir(out_dir) as tmp:
        _synthrad(tmp, cfg, rng)
        _msd01(tmp, cfg, rng, _brats(tmp, cfg, rng))
        _msd10(tmp, cfg, rng)
    log.info("toy swinfuse data written to %s", out_dir)
