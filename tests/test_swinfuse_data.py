"""swinfuse data: the NIfTI layouts, validation errors, BraTS regions, the patient-level split."""

from __future__ import annotations

import gzip
import json
import shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from medbench.cli import main
from medbench.studies.swinfuse.dataset import PretrainCrops, TaskVolumes
from medbench.studies.swinfuse.ingest import ingest
from medbench.studies.swinfuse.layout import TOY_LAYOUT
from medbench.studies.swinfuse.readers import read_datasets
from medbench.studies.swinfuse.splits import make_splits
from medbench.studies.swinfuse.toy import ToySwinfuseConfig, generate

from .conftest import REPO

YAML = REPO / "config" / "studies" / "swinfuse.yaml"
SMALL = ToySwinfuseConfig(
    shape=(40, 32, 32), synthrad_per_centre=2, brats_cases=6, msd01_cases=4, msd01_test_cases=1, msd10_cases=3
)
TASKS = {
    "brats21": {"dataset": "brats21", "modality": "MR", "activation": "sigmoid"},
    "msd01": {"dataset": "msd01", "modality": "MR", "activation": "softmax", "intensity_range": [0, 1500]},
    "msd10": {
        "dataset": "msd10",
        "modality": "CT",
        "activation": "softmax",
        "intensity_range": [-1024, 1024],
    },
}
SPLIT = {
    "pretrain": {"val_fraction": 0.1},
    "tasks": {"test_fold": 1, "test_fraction": 0.2, "val_fraction": 0.1},
}


def raw_paths(root):
    return {
        "synthrad": root / "synthrad2023/Task1/brain",
        "brats21": root / "brats2021",
        "brats21_folds": root / "brats2021/brats21_folds.json",
        "msd01": root / "msd/Task01_BrainTumour",
        "msd10": root / "msd/Task10_Colon",
    }


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("swinfuse") / "raw"
    generate(root, SMALL)
    return root


@pytest.fixture(scope="module")
def index(toy, tmp_path_factory):
    return ingest(read_datasets(raw_paths(toy), TASKS), tmp_path_factory.mktemp("swinfuse_data"))


def test_layouts_read_with_their_quirks(toy, index):
    assert raw_paths(toy) == {key: toy / folder for key, folder in TOY_LAYOUT.items()}  # the real names
    counts = index["dataset"].value_counts().to_dict()
    assert counts == {"synthrad": 12, "brats21": 6, "msd01": 4, "msd10": 3}  # 6 patients x CT + MR
    assert (toy / "msd/Task01_BrainTumour/imagesTr/._BRATS_001.nii.gz").is_file()  # junk skipped
    msd01 = index[index["dataset"] == "msd01"]
    assert set(msd01["channels"]) == {4} and set(msd01["shape"]) == {"40x32x32"}
    brats = index[index["dataset"] == "brats21"].iloc[0]
    assert [p.split("_")[-1] for p in brats["images"].split(";")] == [
        "flair.nii.gz",
        "t1ce.nii.gz",
        "t1.nii.gz",
        "t2.nii.gz",
    ]  # the folds JSON's order
    assert set(index.loc[index["dataset"] == "synthrad", "centre"]) == {"A", "B", "C"}


def test_overlap_of_msd01_and_brats_is_reported(index, toy):
    assert (
        index.loc[index["case_id"] == "BRATS_001", "digest"].item()
        == index.loc[index["case_id"] == "BraTS2021_00000", "digest"].item()
    )


def _run_ingest(root, tmp_path, capsys):
    override = {"raw": {k: str(v) for k, v in raw_paths(root).items()}, "data": {"image_size": [32, 32, 32]}}
    code = main(
        [
            "prepare",
            "ingest",
            "--config",
            str(YAML),
            "--override",
            json.dumps(override),
            "--data",
            str(tmp_path / "data"),
        ]
    )
    return code, capsys.readouterr().err


def _damaged_copy(toy, tmp_path, damage):
    root = tmp_path / "raw"
    shutil.copytree(toy, root)
    return damage(root) or root


def _truncate(root):
    path = root / "brats2021/TrainingData/BraTS2021_00001/BraTS2021_00001_t2.nii.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _wrong_label_shape(root):
    path = root / "msd/Task10_Colon/labelsTr/colon_002.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((40, 32, 30), np.uint8), np.eye(4)), path)


def _four_d_ct(root):
    path = root / "synthrad2023/Task1/brain/1BA001/ct.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((40, 32, 32, 2), np.int16), np.eye(4)), path)


def _nan_voxel(root):
    path = root / "msd/Task10_Colon/imagesTr/colon_001.nii.gz"
    image = nib.load(path)
    data = np.asanyarray(image.dataobj).astype(np.float32)
    data[3, 4, 5] = np.nan
    nib.save(nib.Nifti1Image(data, image.affine), path)


def _fractional_label(root):
    path = root / "brats2021/TrainingData/BraTS2021_00002/BraTS2021_00002_seg.nii.gz"
    image = nib.load(path)
    data = np.asanyarray(image.dataobj).astype(np.float32)
    data[data == 2] = 0.5  # a resampled label: edema read as lesion by `label > 0`
    nib.save(nib.Nifti1Image(data, image.affine), path)


def _empty_dimension(root):
    nib.save(nib.Nifti1Image(np.zeros((0, 32, 32), np.int16), np.eye(4)),
             root / "synthrad2023/Task1/brain/1BB001/ct.nii.gz")


def _copied_case(root):
    cases = root / "brats2021/TrainingData"
    for source in (cases / "BraTS2021_00000").iterdir():
        shutil.copyfile(source, cases / "BraTS2021_00003" / source.name.replace("00000", "00003"))


@pytest.mark.parametrize(
    "damage, named, problem",
    [
        (_truncate, "BraTS2021_00001_t2.nii.gz", "unreadable or truncated"),
        (_wrong_label_shape, "colon_002.nii.gz", "shape (40, 32, 30) differs"),
        (_four_d_ct, "1BA001/ct.nii.gz", "4-D volume of shape (40, 32, 32, 2), expected 3-D"),
        (_nan_voxel, "colon_001.nii.gz", "1 voxel(s) are NaN or infinite"),
        (_fractional_label, "BraTS2021_00002_seg.nii.gz", "label values [0.5] are not integers"),
        (_empty_dimension, "1BB001/ct.nii.gz", "empty volume, a dimension of length 0 (shape (0, 32, 32))"),
        (_copied_case, "BraTS2021_00003_flair.nii.gz",
         "case BraTS2021_00003 holds the same voxels as case BraTS2021_00000"),
    ],
)
def test_bad_volumes_stop_with_the_file_named_and_nothing_written(
    toy, tmp_path, capsys, damage, named, problem
):
    code, err = _run_ingest(_damaged_copy(toy, tmp_path, damage), tmp_path, capsys)
    assert code != 0 and named in err and problem in err
    assert not (tmp_path / "data" / "volumes.csv").exists()


def test_the_truncation_is_real(toy, tmp_path):
    root = _damaged_copy(toy, tmp_path, _truncate)
    with pytest.raises((EOFError, OSError, gzip.BadGzipFile)):
        np.asanyarray(
            nib.load(root / "brats2021/TrainingData/BraTS2021_00001/BraTS2021_00001_t2.nii.gz").dataobj
        )


def test_splits_keep_a_patients_modalities_together_and_hold_out_brats_fold_1(index):
    splits, leakage = make_splits(index, SPLIT, TASKS, seed=0)
    synthrad = splits[splits["dataset"] == "synthrad"].merge(index[["case_id", "patient"]], on="case_id")
    assert (synthrad.groupby("patient")["role"].nunique() == 1).all()
    assert set(synthrad["role"]) == {"train", "val"}
    brats = splits[splits["dataset"] == "brats21"].merge(index[["case_id", "fold"]], on="case_id")
    assert set(brats.loc[brats["role"] == "test", "fold"].astype(int)) == {1}
    assert (brats.loc[brats["role"] != "test", "fold"].astype(int) != 1).all()
    for task in ("msd01", "msd10"):
        assert set(splits.loc[splits["dataset"] == task, "role"]) == {"train", "val", "test"}
    ours, code = leakage.set_index("protocol")["val_patients_with_a_training_volume"]
    assert ours == 0 and code >= 1  # the released volume split leaks a validation patient


def test_brats_regions_are_nested_and_match_the_labels(index):
    cases = index[index["dataset"] == "brats21"].head(1)
    item = TaskVolumes(cases, TASKS["brats21"], [32, 32, 32], train=False, seed=0)[0]
    label = np.asarray(nib.load(cases["label"].item()).dataobj)
    tc, wt, et = item["mask"].numpy().astype(bool)
    assert np.array_equal(tc, np.isin(label, [1, 4])) and np.array_equal(wt, label > 0)
    assert np.array_equal(et, label == 4) and item["image"].shape == (4, 40, 32, 32)


def test_pretraining_items_hold_both_modalities_as_crops(index):
    synthrad = index[index["dataset"] == "synthrad"]
    data = PretrainCrops(
        synthrad, ["1BA001"], ["CT", "MR"], [32, 32, 32], crops=2, intensity="scaled", seed=0
    )
    item = data[0]
    assert item["image"].shape == (4, 1, 32, 32, 32) and item["modality"].tolist() == [0, 0, 1, 1]
    assert float(item["image"].min()) >= 0.0 and float(item["image"].max()) <= 1.0


def test_msd_labels_are_binarised_whole_tumour(index):
    cases = index[index["dataset"] == "msd01"].head(1)
    item = TaskVolumes(cases, TASKS["msd01"], [32, 32, 32], train=False, seed=0)[0]
    label = np.asarray(nib.load(cases["label"].item()).dataobj)
    assert set(np.unique(label)) == {0, 1, 2, 3}
    assert np.array_equal(item["mask"][0].numpy(), (label > 0).astype(int)) and item["image"].shape[0] == 4


def test_toy_pretraining_data_differ_by_modality(index):
    pair = index[(index["dataset"] == "synthrad") & (index["patient"] == "1BA001")].set_index("modality")
    ct, mr = (np.asarray(nib.load(pair.loc[m, "images"]).dataobj, float) for m in ("CT", "MR"))
    assert ct.min() < -900 and mr.min() >= 0
    assert pd.Series(ct.ravel()).corr(pd.Series(mr.ravel())) < 0.9  # bone bright on CT, dark on MR


def test_pretraining_validation_sees_the_same_views_every_epoch(tmp_path):
    """The SSL trainer's validation reseeds the crop transforms and the views: two passes give the
    same numbers (they select the checkpoint), the collapse monitor among them."""
    import torch

    from medbench.models import create_model
    from medbench.train.optim import build_optimizer, build_schedule
    from medbench.train.ssl import SSLLoss, SSLTrainer
    from medbench.train.trainer import TrainerConfig

    # volumes larger than the crops, so that crops can move
    generate(tmp_path / "raw", ToySwinfuseConfig(shape=(80, 48, 48), synthrad_per_centre=1, brats_cases=2,
                                                 brats_folds=2, msd01_cases=2, msd01_test_cases=0,
                                                 msd10_cases=1))
    brain = tmp_path / "raw" / "synthrad2023" / "Task1" / "brain"
    volumes = pd.DataFrame([{"patient": p.name, "modality": m, "images": str(p / f"{m.lower()}.nii.gz")}
                            for p in sorted(brain.glob("1B*")) for m in ("CT", "MR")])
    val = PretrainCrops(volumes, ["1BA001", "1BB001"], ["CT", "MR"], [64, 32, 32], crops=2,
                        intensity="scaled", seed=0)
    model = create_model("swin_ssl", img_size=[64, 32, 32], feature_size=12, window_size=4)
    optimizer = build_optimizer({"name": "adamw"}, model.parameters(), 1e-3)
    schedule = build_schedule({"name": "constant"}, optimizer, 1, 1, "min")
    config = TrainerConfig(epochs=1, batch_size=1, val_batch_size=1, device="cpu")
    trainer = SSLTrainer(model, SSLLoss(), optimizer, schedule, val, val, tmp_path, config,
                         {"model_args": {}})
    assert not torch.equal(val[0]["image"], val[0]["image"])  # the crops move from draw to draw ...
    first = trainer.validate(1)
    assert trainer.validate(2) == first  # ... but not between validations
    assert {"val_cos_mean", "val_cos_pos", "val_rec", "val_contrast"} <= set(first)
