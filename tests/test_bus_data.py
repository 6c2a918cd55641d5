"""bus data: the four datasets' layouts with their quirks, ingestion, the case-grouped folds."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from medbench.cli import main
from medbench.data.cache import ImageCache
from medbench.errors import DataError
from medbench.studies.bus.ingest import ingest, pad_square, read_mask
from medbench.studies.bus.layout import TOY_LAYOUT
from medbench.studies.bus.readers import label_of, read_datasets
from medbench.studies.bus.splits import check_leakage, cross_validation, leakage_report
from medbench.studies.bus.toy import ToyBusConfig, generate

from .conftest import REPO

BUS_YAML = REPO / "config" / "studies" / "bus.yaml"


def raw_paths(root):
    return {
        "busi": root / "Dataset_BUSI_with_GT",
        "busis": root / "BUSIS",
        "dataset_b": root / "DatasetB",
        "hmss": root / "HMSS",
        "hmss_masks": root / "HMSS" / "masks_private",
    }


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("bus") / "raw"
    generate(root, ToyBusConfig())
    return root


@pytest.fixture(scope="module")
def data_dir(toy, tmp_path_factory):
    """The prepared data: the image cache (images/) and duplicates.csv beside it."""
    out = tmp_path_factory.mktemp("bus_data")
    ingest(read_datasets(raw_paths(toy)), out / "images", 64)
    return out


@pytest.fixture(scope="module")
def cache(data_dir):
    return ImageCache.load(data_dir / "images")


def test_the_layouts_read_with_their_quirks(toy):
    assert raw_paths(toy) == {key: toy / folder for key, folder in TOY_LAYOUT.items()}  # the real names
    records = read_datasets(raw_paths(toy))
    by_id = {r["image_id"]: r for r in records}
    counts = pd.Series([r["dataset"] for r in records]).value_counts().to_dict()
    assert {k: counts[k] for k in ("busi", "busis", "dataset_b")} == {
        "busi": 38,
        "busis": 24,
        "dataset_b": 16,
    }
    assert 16 <= counts["hmss"] <= 64  # BUSI: 24 + 12 and two copies; its normal images left out
    assert not any("_mask" in r["image"].name for r in records)  # masks are never images
    assert [m.name for m in by_id["busi:benign/benign (5)"]["masks"]] == [
        "benign (5)_mask.png",
        "benign (5)_mask_1.png",
        "benign (5)_mask_2.png",
    ]
    assert {r["label"] for r in records if r["image_id"].startswith("busi:malignant")} == {1}
    assert "dataset_b:000295" in by_id  # the sheet's ids, not a range 1..n
    hmss = [r for r in records if r["dataset"] == "hmss"]
    assert len({r["case_id"] for r in hmss}) == 16 < len(hmss)  # cases of several images
    assert all(r["crop"] is not None and len(r["masks"]) == 1 for r in hmss)
    normal = read_datasets({"busi": toy / "Dataset_BUSI_with_GT"}, include_normal=True)
    assert sum("normal" in r["image_id"] for r in normal) == 6


def test_labels_accept_the_datasets_spellings_and_name_a_bad_row():
    problems = []
    assert [label_of(v, "x", problems) for v in ("B", "benign", "0", 1, "Malignant", "m")] == [
        0,
        0,
        0,
        1,
        1,
        1,
    ]
    assert label_of("suspicious", "HMSS.csv row 7", problems) is None
    assert problems == ["HMSS.csv row 7: unknown label 'suspicious' (expected 0/1, B/M or Benign/Malignant)"]


def test_masks_merge_rgba_binarise_and_padding_centres(toy, cache):
    rgba = toy / "Dataset_BUSI_with_GT" / "benign" / "benign (3)_mask.png"
    assert cv2.imread(str(rgba), cv2.IMREAD_UNCHANGED).shape[2] == 4 and read_mask(rgba).any()
    index = cache.index.set_index("image_id")
    row = index.index.get_loc("busi:benign/benign (5)")
    separate = sum(
        read_mask(toy / "Dataset_BUSI_with_GT" / "benign" / f"benign (5){s}.png").sum()
        for s in ("_mask", "_mask_1", "_mask_2")
    )
    assert (
        cache.masks[row].sum() > 0
        and separate > read_mask(toy / "Dataset_BUSI_with_GT" / "benign" / "benign (5)_mask.png").sum()
    )  # the extra lesions count
    wide, tall = np.ones((10, 16)), np.ones((16, 11))
    assert (
        pad_square(wide).shape == (16, 16)
        and pad_square(wide)[:3].sum() == 0
        and pad_square(wide)[3:13].all()
    )
    assert (
        pad_square(tall).shape == (16, 16)
        and pad_square(tall)[:, :2].sum() == 0
        and pad_square(tall)[:, -3:].sum() == 0
    )
    assert cache.images.shape[1:] == (64, 64, 3) and set(np.unique(cache.masks)) <= {0, 1}


def test_duplicates_are_one_group_even_across_classes(cache, data_dir):
    index = cache.index.set_index("image_id")
    assert index.loc["busi:benign/benign (1)", "group"] == index.loc["busi:benign/benign (25)", "group"]
    cross = index.loc[["busi:benign/benign (4)", "busi:malignant/malignant (13)"]]
    assert cross["group"].nunique() == 1 and set(cross["label"]) == {0, 1}
    duplicates = pd.read_csv(data_dir / "duplicates.csv")
    assert duplicates["labels_disagree"].any()
    # only the two planted pairs: distinct images must not collide on a partial hash
    assert sorted(duplicates["image_id"]) == sorted(
        ["busi:benign/benign (1)", "busi:benign/benign (25)", "busi:benign/benign (4)",
         "busi:malignant/malignant (13)"])


def test_folds_have_the_configured_validation_share(cache):
    splits = cross_validation(cache.index, {"n_folds": 5, "val_fraction": 0.15}, seed=0)
    groups = cache.index.set_index("sample_id")["group"]
    for _, fold in splits.groupby("fold"):
        roles = fold["role"].value_counts()
        assert roles["test"] / len(fold) == pytest.approx(0.2, abs=0.05)
        assert roles["val"] / (roles["val"] + roles["train"]) == pytest.approx(0.15, abs=0.05)
        # busbench: floor(15%) of the non-test cases, not a fold of 1/round(1/0.15) = 14.3% of them
        rest = groups[fold.loc[fold["role"] != "test", "sample_id"]]
        val = groups[fold.loc[fold["role"] == "val", "sample_id"]]
        assert val.nunique() == int(0.15 * rest.nunique())


def test_folds_test_every_image_once_and_keep_cases_together(cache):
    splits = cross_validation(cache.index, {"n_folds": 5, "val_fraction": 0.15}, seed=0)
    tested = splits[splits["role"] == "test"]
    assert sorted(tested["sample_id"]) == sorted(cache.index["sample_id"])  # each image tested once
    leakage = leakage_report(splits, cache.index)
    assert (leakage[["groups_in_two_roles", "case_ids_in_two_roles"]] == 0).all().all()
    check_leakage(leakage, "splits")
    for fold, part in splits.groupby("fold"):
        test_labels = cache.index.set_index("sample_id").loc[
            part[part["role"] == "test"]["sample_id"], "label"
        ]
        assert 0.25 < test_labels.mean() < 0.75, fold  # stratified
        assert (part["role"] == "val").sum() > 0
    broken = splits.copy()
    first = cache.index.loc[0, "sample_id"]
    broken.loc[(broken["sample_id"] == first) & (broken["fold"] == 0), "role"] = "val"
    twin = cache.index.loc[cache.index["group"] == cache.index.loc[0, "group"], "sample_id"]
    if len(twin) > 1:
        with pytest.raises(DataError, match="cases shared between roles"):
            check_leakage(leakage_report(broken, cache.index), "splits")


@pytest.mark.parametrize(
    "damage, message",
    [
        ("corrupt", "malignant (2).png: unreadable or corrupt image"),
        ("mask_size", "benign (2)_mask.png: mask is 10x10"),
        ("folder", "unknown BUSI class folder 'suspicious'"),
    ],
)
def test_bad_input_is_named_and_nothing_is_written(toy, tmp_path, capsys, damage, message):
    root = tmp_path / "raw"
    shutil.copytree(toy, root)
    busi = root / "Dataset_BUSI_with_GT"
    if damage == "corrupt":
        (busi / "malignant" / "malignant (2).png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    elif damage == "mask_size":
        cv2.imwrite(str(busi / "benign" / "benign (2)_mask.png"), np.zeros((10, 10), np.uint8))
    else:
        (busi / "suspicious").mkdir()
    override = {"raw": {k: str(v) for k, v in raw_paths(root).items()}, "data": {"image_size": 64}}
    code = main(
        [
            "prepare",
            "ingest",
            "--config",
            str(BUS_YAML),
            "--override",
            json.dumps(override),
            "--data",
            str(tmp_path / "data"),
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def _posterior_contrast(root) -> dict[str, list[float]]:
    """Per BUSI lesion image: mean grey of the column below the lesion / beside it at that depth."""
    ratios: dict[str, list[float]] = {"benign": [], "malignant": []}
    for label in ratios:
        # (1)-(8): the generated images; (9) is a planted copy of a benign image filed as malignant
        for mask_path in sorted((root / "Dataset_BUSI_with_GT" / label).glob("* ([1-8])_mask.png")):
            image = cv2.imread(str(mask_path).replace("_mask", ""), cv2.IMREAD_GRAYSCALE).astype(float)
            mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) > 0
            rows, cols = np.nonzero(mask)
            below = slice(rows.max() + 3, image.shape[0])
            column = image[below, cols.min():cols.max() + 1].mean()
            beside = np.concatenate([image[below, : max(cols.min() - 4, 1)], image[below, cols.max() + 4:]],
                                    axis=1)
            ratios[label].append(column / beside.mean())
    return ratios


def test_the_toy_signal_follows_its_parameters(tmp_path):
    """Posterior enhancement below benign lesions, shadow below malignant ones; `atypical`
    lesions swap them; `lesion_size` sets the lesion radius."""
    signal = {"busi": (8, 8, 1), "busis": (1, 1), "dataset_b": (1, 1), "hmss_cases": 1,
              "lesion_size": (0.18, 0.26), "posterior": (2.0, 0.3), "speckle": 0.3}
    generate(tmp_path / "typical", ToyBusConfig(**signal))
    ratios = _posterior_contrast(tmp_path / "typical")
    assert min(ratios["benign"]) > 1.0 > max(ratios["malignant"])
    assert np.mean(ratios["benign"]) > 1.2 and np.mean(ratios["malignant"]) < 0.7
    generate(tmp_path / "atypical", ToyBusConfig(**signal, atypical=0.5))
    flipped = _posterior_contrast(tmp_path / "atypical")
    assert sum(r < 1 for r in flipped["benign"]) + sum(r > 1 for r in flipped["malignant"]) >= 3
    mask = cv2.imread(str(tmp_path / "typical/Dataset_BUSI_with_GT/benign/benign (6)_mask.png"), 0) > 0
    side = min(mask.shape)
    assert np.pi * (0.18 * side) ** 2 * 0.5 < mask.sum() < np.pi * (0.26 * side) ** 2 * 1.5
    with pytest.raises(Exception, match="atypical is a share of lesions"):
        ToyBusConfig.from_dict({"atypical": 0.9})
