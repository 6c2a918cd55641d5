"""bus predictions and metrics (the paper's §3.2 metrics, Tables 2-3): per fold, then the mean
over folds, as the tables show.

Predictions of one fold's model on its test images: `test.csv` (sample_id, label, prob, and
per image with a mask `dsc`, `ji` of the mask probability > 0.5; NaN elsewhere) and `test.npz` (the mask
probabilities of those images, uint8 x 255, for the overlay figure). The pipeline merges the
folds (a `fold` column).

metrics.json: for the test set, every metric's mean over folds, `folds` (each fold's metrics and
confusion matrix) and `ci`: 95% percentile intervals of the fold mean from `bootstrap_samples`
resamples of the test images within each fold and label (stratified: each resample keeps a
fold's benign / malignant counts).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from medbench.errors import DataError
from medbench.evaluate.bootstrap import fold_mean_intervals, mean_over_folds
from medbench.fileio import atomic_path, read_csv_with_text_ids, write_csv
from medbench.metrics import binary_classification_metrics, overlap_per_image

MASK_THRESHOLD = 0.5  # busbench's pred_df: a pixel is lesion when its probability is > 0.5


def predict_fold(model, dataset, test_set: str, out_dir, device) -> None:
    # imported here: evaluation needs only the metrics, not the models (seconds per job)
    from torch.utils.data import DataLoader

    from medbench.models.inference import infer

    pred = infer(
        model,
        DataLoader(dataset, batch_size=32),
        device,
        amp=device.type == "cuda",
        desc=f"predict {test_set}",
    )
    index = dataset.cache.index
    table = pd.DataFrame(
        {
            "sample_id": index["sample_id"].to_numpy()[pred["row"]],
            "label": pred["label"].astype(int),
            "prob": pred["cls_prob"],
        }
    )
    arrays = {}
    if "seg_prob" in pred:
        keep = pred["has_mask"].astype(bool)
        dsc, ji = overlap_per_image(pred["seg_prob"][keep] > MASK_THRESHOLD, pred["mask"][keep])
        table["dsc"], table["ji"] = np.nan, np.nan
        table.loc[keep, "dsc"], table.loc[keep, "ji"] = dsc, ji
        arrays = {
            "seg_sample_id": table["sample_id"].to_numpy()[keep].astype(str),
            "seg_prob": np.round(pred["seg_prob"][keep] * 255).astype(np.uint8),
        }
    write_csv(Path(out_dir) / f"{test_set}.csv", table)
    with atomic_path(Path(out_dir) / f"{test_set}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


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
