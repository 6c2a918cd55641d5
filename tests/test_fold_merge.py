"""Merging the predictions of a run's folds (cross-validation folds, or swinfuse's tasks)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medbench.evaluate.predict import merge_fold_predictions


def _write(folder, name, ids):
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"sample_id": ids, "dice": np.linspace(0, 1, len(ids))}).to_csv(
        folder / f"{name}.csv", index=False
    )
    np.savez(folder / f"{name}.npz", case_id=np.array(ids))


def test_each_fold_adds_its_own_test_sets_only(tmp_path):
    _write(tmp_path / "fold0", "test", ["a", "b"])
    _write(tmp_path / "fold1", "test", ["c"])
    _write(tmp_path / "foldbrats21", "brats21", ["x"])  # a task's network tests its own task only
    out = tmp_path / "merged"
    out.mkdir()
    merge_fold_predictions(
        {0: tmp_path / "fold0", 1: tmp_path / "fold1", "brats21": tmp_path / "foldbrats21"}, out
    )
    test = pd.read_csv(out / "test.csv")
    assert test["sample_id"].tolist() == ["a", "b", "c"] and test["fold"].tolist() == [0, 0, 1]
    brats = pd.read_csv(out / "brats21.csv")
    assert brats["sample_id"].tolist() == ["x"] and brats["fold"].tolist() == ["brats21"]
    with np.load(out / "test.npz") as arrays:
        assert arrays["case_id"].tolist() == ["a", "b", "c"]
