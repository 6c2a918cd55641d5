"""Metrics of one model from its saved predictions (the `medbench evaluate` verb).

Each test set gets its point metrics and, under "ci", 95% bootstrap intervals over slices
(brain_ct) or images (hubmap: mean Dice, also per organ and per data source).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from medbench.errors import DataError
from medbench.evaluate.bootstrap import bootstrap_ci, classification_ci, iou_ci
from medbench.metrics import binary_iou, classification_metrics


def _segmentation(arrays, n_boot: int, seed: int) -> tuple[dict, dict]:
    pred, mask = arrays["seg_pred"].astype(bool), arrays["mask"].astype(bool)
    inter = (pred & mask).sum(axis=(1, 2))
    union = (pred | mask).sum(axis=(1, 2))
    return ({"iou": binary_iou(pred, mask), "n_masks": len(pred)},
            iou_ci(inter, union, n_boot=n_boot, seed=seed))


def _dice(table: pd.DataFrame, n_boot: int, seed: int) -> tuple[dict, dict]:
    """Mean Dice per image; the same within each organ and data source (keys dice_<group>)."""
    dice = table["dice"].to_numpy(float)
    metrics = {"dice": float(dice.mean())}
    for column in ("organ", "data_source"):
        for group, values in table.groupby(column)["dice"]:
            metrics[f"dice_{str(group).lower()}"] = float(values.mean())
    return metrics, bootstrap_ci(lambda i: {"dice": float(dice[i].mean())}, len(dice), n_boot, seed)


def evaluate_predictions(pred_dir: str | Path, test_sets, n_boot: int = 1000, seed: int = 0) -> dict:
    pred_dir = Path(pred_dir)
    result: dict[str, dict] = {}
    for name in test_sets:
        csv, npz = pred_dir / f"{name}.csv", pred_dir / f"{name}.npz"
        if not csv.is_file() or not npz.is_file():
            raise DataError(f"{pred_dir}: predictions for {name} missing; re-run prediction")
        table = pd.read_csv(csv)
        if "dice" in table:
            metrics, ci = _dice(table, n_boot, seed)
            result[name] = {"n": len(table), **metrics, "ci": {k: list(v) for k, v in ci.items()}}
            continue
        metrics: dict = {"n": len(table), "positives": int(table["label"].sum())}
        ci: dict = {}
        if "prob" in table:
            metrics |= classification_metrics(table["label"], table["prob"])
            ci |= classification_ci(table["label"], table["prob"], n_boot=n_boot, seed=seed)
        with np.load(npz) as arrays:
            if "seg_pred" in arrays and len(arrays["seg_pred"]):
                seg, seg_ci = _segmentation(arrays, n_boot, seed)
                metrics |= seg
                ci |= seg_ci
        result[name] = metrics | {"ci": {k: list(v) for k, v in ci.items()}}
    return result
