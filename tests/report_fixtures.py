"""Finished runs on disk (metrics.json, metrics.csv, predictions) for report tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from medbench.metrics import classification_metrics

TEST_SETS = ("test_h1_4", "test_h5_11")


def scores(n: int, separation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3 == 0
    return labels.astype(int), 1 / (1 + np.exp(-(labels * separation + rng.normal(0, 1, n) - 1)))


def write_run(root: Path, model: str, seed: int, separation: float | None, n: int = 120,
              seg: bool = False, size: int = 16) -> Path:
    """A run under root/seed<seed>/<model>; separation None: a segmentation-only model."""
    run = root / f"seed{seed}" / model
    (run / "predictions").mkdir(parents=True)
    metrics = {}
    for k, test_set in enumerate(TEST_SETS):
        labels, probs = scores(n, separation or 0.0, seed * 10 + k)
        ids = np.array([f"s{i:04d}" for i in range(n)])
        table = pd.DataFrame({"slice_id": ids, "label": labels})
        metrics[test_set] = {"n": n}
        if separation is not None:
            table["prob"] = probs
            metrics[test_set] |= classification_metrics(labels, probs)
        table.to_csv(run / "predictions" / f"{test_set}.csv", index=False)
        arrays = {"slice_id": ids, "label": labels}
        if seg:
            masks = np.zeros((n, size, size), np.uint8)
            masks[:, 4:10, 4:10] = 1
            arrays |= {"seg_slice_id": ids, "mask": masks, "seg_pred": np.roll(masks, 1, axis=2)}
        np.savez(run / "predictions" / f"{test_set}.npz", **arrays)
    (run / "metrics.json").write_text(json.dumps(metrics))
    monitor = "val_auc" if separation is not None else "val_iou"
    pd.DataFrame({"epoch": [1, 2], "train_loss": [0.9, 0.5], "val_loss": [0.8, 0.6],
                  monitor: [0.6, 0.7]}).to_csv(run / "metrics.csv", index=False)
    return run / "metrics.json"
