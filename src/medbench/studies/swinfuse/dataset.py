"""swinfuse datasets: MONAI transforms over the validated NIfTI volumes (the
released code's transforms: devalab/SwinFUSE scripts/Pretrain/utils/data_utils.py and the
fine-tuning scripts).

Pre-training (`PretrainCrops`): one item per patient, `crops` random ROI crops of each of the
run's modalities -> image (n, 1, X, Y, Z) and modality (n,) (0 CT, 1 MR). A CT+MR run thus has
both modalities in every batch, which the JSD term needs (the released loader gave one volume,
hence one modality, per step). Intensity [ours]: CT [-1000, 1000] HU -> [0, 1], MR 0.5-99.5
percentile -> [0, 1]; `intensity: none` leaves the raw values as the released code does.

Fine-tuning (`TaskVolumes`): train items are ROI crops with the task's augmentation; val / test
items whole volumes (segmented by sliding windows). BraTS: the three regions TC, WT, ET as
channels (MONAI's ConvertToMultiChannelBasedOnBratsClasses); MSD Task01: whole tumour (label >
0, [ours]: the code trains 2 classes); Task10: label 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from monai import transforms as T
from torch.utils.data import Dataset

from medbench.contracts import Sample

MODALITY_CODE = {"CT": 0, "MR": 1}
RAS_LABELS = (("L", "R"), ("P", "A"), ("I", "S"))  # explicit: MONAI changes the default


class SeededCompose:
    """A MONAI Compose the Trainer reseeds per epoch (its `set_random_seed` hook)."""

    def __init__(self, transforms: list):
        self.compose = T.Compose(transforms)

    def set_random_seed(self, seed: int) -> None:
        self.compose.set_random_state(seed=seed % 2**32)

    def __call__(self, data):
        return self.compose(data)


def _intensity(modality: str, kind: str) -> list:
    if kind == "none":
        return []
    if modality == "CT":
        return [T.ScaleIntensityRanged("image", -1000, 1000, 0.0, 1.0, clip=True)]
    return [T.ScaleIntensityRangePercentilesd("image", 0.5, 99.5, 0.0, 1.0, clip=True)]


def pretrain_transform(modality: str, roi, crops: int, intensity: str) -> SeededCompose:
    return SeededCompose(
        [
            T.LoadImaged("image", reader="NibabelReader", image_only=True),
            T.EnsureChannelFirstd("image"),
            T.Orientationd("image", axcodes="RAS", labels=RAS_LABELS),
            *_intensity(modality, intensity),
            T.SpatialPadd("image", roi),
            T.CropForegroundd("image", "image", k_divisible=list(roi)),
            T.RandSpatialCropSamplesd("image", roi, num_samples=crops, random_size=False),
        ]
    )


class PretrainCrops(Dataset):
    def __init__(
        self,
        volumes: pd.DataFrame,
        patients: list[str],
        modalities: list[str],
        roi,
        crops: int,
        intensity: str,
        seed: int,
    ):
        self.volumes = volumes.set_index(["patient", "modality"])["images"]
        self.patients, self.modalities = patients, modalities
        self.transforms = {m: pretrain_transform(m, roi, crops, intensity) for m in modalities}
        self.transform = self  # the Trainer's per-epoch reseeding hook
        self.set_random_seed(seed)

    def set_random_seed(self, seed: int) -> None:
        for i, transform in enumerate(self.transforms.values()):
            transform.set_random_seed(seed + i)

    def __len__(self) -> int:
        return len(self.patients)

    def __getitem__(self, i: int) -> Sample:
        crops, codes = [], []
        for modality in self.modalities:
            samples = self.transforms[modality]({"image": self.volumes[(self.patients[i], modality)]})
            crops += [torch.as_tensor(s["image"]).float() for s in samples]
            codes += [MODALITY_CODE[modality]] * len(samples)
        return {"image": torch.stack(crops), "modality": torch.tensor(codes)}


def _label(task: dict) -> list:
    if task["dataset"] == "brats21":
        return [T.ConvertToMultiChannelBasedOnBratsClassesd("label")]
    return [T.Lambdad("label", lambda y: (y > 0).to(torch.uint8))]  # whole tumour / lesion


def _load(task: dict) -> list:
    steps = [
        T.LoadImaged(["image", "label"], reader="NibabelReader", image_only=True),
        T.EnsureChannelFirstd(["image", "label"]),
    ]
    if task["dataset"] != "brats21":  # MSD: RAS, the task's spacing and intensity range [code]
        steps.append(T.Orientationd(["image", "label"], axcodes="RAS", labels=RAS_LABELS))
        if task.get("spacing"):
            steps.append(T.Spacingd(["image", "label"], task["spacing"], mode=("bilinear", "nearest")))
        low, high = task["intensity_range"]
        steps.append(T.ScaleIntensityRanged("image", low, high, 0.0, 1.0, clip=True))
    return steps + _label(task)


def _normalise(task: dict) -> list:
    return (
        [T.NormalizeIntensityd("image", nonzero=True, channel_wise=True)]
        if task["dataset"] == "brats21"
        else []
    )


def _augment(task: dict, roi) -> list:
    if task["dataset"] == "brats21":  # brats_fine_tune.py
        return [
            T.CropForegroundd(["image", "label"], "image", k_divisible=list(roi)),
            T.RandSpatialCropd(["image", "label"], roi, random_size=False),
            *(T.RandFlipd(["image", "label"], prob=0.5, spatial_axis=axis) for axis in range(3)),
            *_normalise(task),
            T.RandScaleIntensityd("image", 0.1, prob=1.0),
            T.RandShiftIntensityd("image", 0.1, prob=1.0),
        ]
    return [
        T.CropForegroundd(["image", "label"], "image"),
        T.SpatialPadd(["image", "label"], roi),
        T.RandCropByPosNegLabeld(["image", "label"], "label", roi, pos=1, neg=1, num_samples=1),
        T.RandAffined(
            ["image", "label"],
            prob=task.get("affine_prob", 1.0),
            rotate_range=(0, 0, np.pi / 15),
            scale_range=(0.1, 0.1, 0.1),
            mode=("bilinear", "nearest"),
        ),
    ]


class TaskVolumes(Dataset):
    def __init__(self, cases: pd.DataFrame, task: dict, roi, train: bool, seed: int):
        self.cases = cases.reset_index(drop=True)
        steps = _load(task) + (_augment(task, roi) if train else _normalise(task))
        self.transform = SeededCompose(steps) if train else None
        self.compose = self.transform or SeededCompose(steps)
        self.compose.set_random_seed(seed)
        self.mask_dtype = torch.float32 if task["dataset"] == "brats21" else torch.long

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, i: int) -> Sample:
        row = self.cases.iloc[i]
        sample = self.compose(
            {
                "image": row["images"].split(";") if ";" in row["images"] else row["images"],
                "label": row["label"],
            }
        )
        sample = sample[0] if isinstance(sample, list) else sample  # RandCropByPosNegLabel: a list
        return {
            "image": torch.as_tensor(sample["image"]).float(),
            "mask": torch.as_tensor(sample["label"]).to(self.mask_dtype),
            "row": torch.tensor(i),
        }
