"""bus metrics (the paper's §3.2 metrics, Tables 2-3): per fold, then the mean over folds, as
the tables show, from the merged predictions of the folds' models (predict.py).

metrics.json: for the test set, every metric's mean over folds, `folds` (each fold's metrics and
confusion matrix) and `ci`: 95% BCa intervals of the fold mean from `bootstrap_samples`
resamples of the test images within each fold and label (stratified: each resample keeps a
fold's benign / malignant counts).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from medbench.errors import DataError
from medbench.evaluate.bootstrap import fold_mean_intervals, mean_over_folds
from medbench.fileio import read_csv_with_text_ids
from medbench.metrics import binary_classification_metrics


def fold_metrics(fold: dict[str, np.ndarray]) -> dict[str, float]:
    """One fold's test metrics: busbench's classification metrics, and DSC / JI averaged over the
    images that have a mask (rows without a segmentation output have no `dsc`)."""
    metrics = binary_classification_metrics(fold["label"], fold["prob"])
    if "dsc" in fold:
        with_mask = ~np.isnan(fold["dsc"])
        metrics |= {k: float(fold[k][with_mask].mean()) if with_mask.any() else float("nan")
                    for k in ("dsc", "ji")}
    return metrics


def _confusion(fold: dict[str, np.ndarray]) -> dict[str, int]:
    pred, label = fold["prob"] >= 0.5, fold["label"] == 1
    return {
        "tp": int((pred & label).sum()),
        "tn": int((~pred & ~label).sum()),
        "fp": int((pred & ~label).sum()),
        "fn": int((~pred & label).sum()),
    }


def _fold_arrays(table: pd.DataFrame) -> list[dict[str, np.ndarray]]:
    columns = [c for c in ("label", "prob", "dsc", "ji") if c in table]
    parts = [part for _, part in table.groupby("fold")] if "fold" in table else [table]
    return [{c: part[c].to_numpy(float) for c in columns} for part in parts]


def evaluate_folds(pred_dir, test_sets, n_boot: int, seed: int) -> dict:
    result = {}
    for test_set in test_sets:
        path = Path(pred_dir) / f"{test_set}.csv"
        if not path.is_file():
            raise DataError(f"{path}: predictions missing; re-run prediction")
        table = read_csv_with_text_ids(path)
        folds = _fold_arrays(table)
        per_fold, ci = fold_mean_intervals(folds, fold_metrics, n_boot, seed)
        result[test_set] = {
            "n": len(table),
            "positives": int(table["label"].sum()),
            **mean_over_folds(per_fold),
            "folds": [{**m, **_confusion(fold), "n": len(fold["label"])}
                      for m, fold in zip(per_fold, folds, strict=True)],
            "ci": {k: list(v) for k, v in ci.items()},
        }
    return result
