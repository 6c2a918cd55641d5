"""hubmap split: organ-stratified folds of the training export, the rebuilt public and
private evaluation sets, and the split table's validation."""

from __future__ import annotations

import pandas as pd
import pytest

from medbench.errors import ConfigError, DataError
from medbench.studies.hubmap.kaggle import ORGANS
from medbench.studies.hubmap.splits import hubmap_splits, read_hubmap_splits

CFG = {"n_folds": 5, "fold": 0, "hpa_test_fraction": 0.1, "hubmap_public_fraction": 0.5}
COUNTS = {"kidney": 20, "prostate": 18, "largeintestine": 12, "spleen": 11, "lung": 10}


def _export(counts: dict, source: str, start: int) -> pd.DataFrame:
    organs = [o for o, n in counts.items() for _ in range(n)]
    return pd.DataFrame({"id": [str(start + i) for i in range(len(organs))], "organ": organs,
                         "data_source": source, "img_height": 3000, "img_width": 3000,
                         "pixel_size": 0.4, "tissue_thickness": 4, "rle": "1 2"})


@pytest.fixture
def splits():
    return hubmap_splits(_export(COUNTS, "HPA", 1000), _export(dict.fromkeys(ORGANS, 4), "HuBMAP", 5000),
                         CFG, seed=0)


def test_every_image_has_one_role(splits):
    assert len(splits) == sum(COUNTS.values()) + 20 and splits["id"].is_unique
    training, evaluation = splits[splits["source"] == "training"], splits[splits["source"] == "evaluation"]
    assert set(training["set"]) == {"train", "val", "test_pub"}
    assert set(evaluation["set"]) == {"test_pub", "test_priv"}


def test_held_out_hpa_images_are_a_stratified_tenth(splits):
    held = splits[(splits["source"] == "training") & (splits["set"] == "test_pub")]
    assert len(held) == 7  # round(0.1 * 71)
    assert set(held["organ"]) == set(ORGANS)
    assert (held["fold"] == -1).all()


def test_folds_are_stratified_by_organ_and_the_configured_fold_validates(splits):
    folded = splits[splits["fold"] >= 0]
    assert sorted(folded["fold"].unique()) == [0, 1, 2, 3, 4]
    per_fold = folded.groupby(["organ", "fold"]).size().unstack()
    assert (per_fold.max(axis=1) - per_fold.min(axis=1) <= 1).all()  # each organ spread evenly
    assert (folded.loc[folded["fold"] == 0, "set"] == "val").all()
    assert (folded.loc[folded["fold"] != 0, "set"] == "train").all()


def test_hubmap_images_split_by_organ_between_public_and_private(splits):
    evaluation = splits[splits["source"] == "evaluation"]
    per_organ = evaluation.groupby(["organ", "set"]).size().unstack()
    assert (per_organ["test_pub"] == 2).all() and (per_organ["test_priv"] == 2).all()


def test_split_is_deterministic_and_seeded():
    train, test = _export(COUNTS, "HPA", 1000), _export(dict.fromkeys(ORGANS, 4), "HuBMAP", 5000)
    a, b = hubmap_splits(train, test, CFG, 0), hubmap_splits(train, test, CFG, 0)
    pd.testing.assert_frame_equal(a, b)
    assert not hubmap_splits(train, test, CFG, 1)["set"].equals(a["set"])


def test_fold_outside_the_folds_is_a_config_error():
    with pytest.raises(ConfigError, match="split.fold 5 is not one of the 5 folds"):
        hubmap_splits(_export(COUNTS, "HPA", 0), _export(dict.fromkeys(ORGANS, 4), "HuBMAP", 500),
                      {**CFG, "fold": 5}, 0)


def test_an_organ_too_small_for_the_folds_is_named():
    counts = {**COUNTS, "lung": 5}  # one held out, 4 left for 5 folds
    with pytest.raises(ConfigError, match="lung"):
        hubmap_splits(_export(counts, "HPA", 0), _export(dict.fromkeys(ORGANS, 4), "HuBMAP", 500), CFG, 0)


def test_reading_a_table_that_is_no_hubmap_split_names_the_file(tmp_path):
    path = tmp_path / "splits.csv"
    pd.DataFrame({"slice_id": ["a"], "split_paper": ["train"]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"splits.csv: not a hubmap split table"):
        read_hubmap_splits(path)
