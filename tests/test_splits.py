"""The paper's split protocol and the patient-disjoint one, and the leakage report."""

from __future__ import annotations

import pandas as pd
import pytest

from medbench.config import load_study_config
from medbench.data.cache import ImageCache
from medbench.errors import ConfigError, DataError
from medbench.studies.brain_ct.splits import leakage_report, make_split, make_splits

from .conftest import STUDY_YAML


@pytest.fixture(scope="module")
def index(toy_cache) -> pd.DataFrame:
    return ImageCache.load(toy_cache).index


@pytest.fixture(scope="module")
def split_cfg() -> dict:
    return {**load_study_config(STUDY_YAML)["split"], "test_fraction": 0.2}


@pytest.fixture(scope="module")
def splits(index, split_cfg) -> pd.DataFrame:
    return make_splits(index, split_cfg, seed=0)


def test_paper_protocol_proportions(index, splits, split_cfg):
    col = splits["split_paper"]
    h1 = index["hospital"] == 1
    test = col == "test_h1_4"
    assert (index.loc[test, "hospital"] == 1).all()
    assert test.sum() == round(0.2 * h1.sum())
    pool = index["hospital"].isin([1, 2, 3, 4]) & ~test
    assert (col[pool].isin(["train", "val"])).all()
    assert abs((col == "val").sum() / pool.sum() - 0.2) < 0.02
    assert (col[index["hospital"] > 4].isin(["", "test_h5_11"])).all()


def test_shift_test_set_matches_size_and_positive_ratio(index, splits):
    col = splits["split_paper"]
    h1, shift = index[col == "test_h1_4"], index[col == "test_h5_11"]
    assert len(shift) == len(h1)
    assert shift["hypodensity"].sum() == round(len(h1) * h1["hypodensity"].mean())
    assert set(shift["hospital"]) <= set(range(5, 12))


def test_patient_disjoint_shares_no_patient(splits):
    col = splits["split_patient_disjoint"]
    groups = {name: set(splits.loc[col == name, "patient_id"]) for name in
              ("train", "val", "test_h1_4", "test_h5_11")}
    names = list(groups)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not groups[a] & groups[b], (a, b)


def test_leakage_report_counts_shared_patients(splits):
    report = leakage_report(splits).set_index(["protocol", "test_set"])
    paper = splits[splits["split_paper"] == "test_h1_4"]
    train_patients = set(splits.loc[splits["split_paper"] == "train", "patient_id"])
    expected = len(set(paper["patient_id"]) & train_patients)
    assert expected > 0  # slice-level splits leak patients, the paper's own caveat
    assert report.loc[("paper", "test_h1_4"), "patients_shared_with_train"] == expected
    assert report.loc[("patient_disjoint", "test_h1_4"), "patients_shared_with_train"] == 0
    assert report.loc[("paper", "test_h5_11"), "patients_shared_with_train"] == 0


def test_deterministic_by_seed(index, split_cfg, splits):
    again = make_splits(index, split_cfg, seed=0)
    other = make_splits(index, split_cfg, seed=1)
    pd.testing.assert_frame_equal(splits, again)
    assert not splits["split_paper"].equals(other["split_paper"])


def test_errors_name_the_problem(index, split_cfg):
    with pytest.raises(ConfigError, match="unknown split protocol 'by_scanner'"):
        make_split(index, split_cfg, "by_scanner", 0)
    with pytest.raises(DataError, match=r"split.shift_hospitals: hospital\(s\) \[12\]"):
        make_split(index, {**split_cfg, "shift_hospitals": [5, 12]}, "paper", 0)
