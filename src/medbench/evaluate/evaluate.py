"""Metrics of one model from its saved predictions (the `medbench evaluate` verb)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from medbench.data.splits import TEST_SETS
from medbench.errors import DataError
from medbench.evaluate.metrics import binary_iou, classification_metrics


def evaluate_predictions(pred_dir: str | Path) -> dict[str, dict[str, float]]:
    pred_dir = Path(pred_dir)
    result: dict[str, dict[str, float]] = {}
    for name in TEST_SETS:
        csv, npz = pred_dir / f"{name}.csv", pred_dir / f"{name}.npz"
        if not csv.is_file() or not npz.is_file():
            raise DataError(f"{pred_dir}: predictions for {name} missing; re-run prediction")
        table = pd.read_csv(csv)
        metrics: dict[str, float] = {"n": len(table), "positives": int(table["label"].sum())}
        if "prob" in table:
            metrics |= classification_metrics(table["label"], table["prob"])
        with np.load(npz) as arrays:
            if "seg_pred" in arrays and len(arrays["seg_pred"]):
                metrics["iou"] = binary_iou(arrays["seg_pred"], arrays["mask"])
                metrics["n_masks"] = len(arrays["seg_pred"])
        result[name] = metrics
    return result
