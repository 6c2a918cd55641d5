"""bus predictions and metrics (spec A7): per fold, then the mean over folds, as the tables show.

Predictions of one fold's model on its test images: `test.csv` (sample_id, label, prob, and
per image with a mask `dsc`, `ji` at threshold 0.5; NaN elsewhere) and `test.npz` (the mask
probabilities of those images, uint8 x 255, for the overlay figure). The pipeline merges the
folds (a `fold` column).

metrics.json: for the test set, every metric's mean over folds, `folds` (each fold's metrics and
confusion matrix) and `ci`: 95% percentile intervals of the fold mean from `bootstrap_samples`
resamples of the test images within each fold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from medbench.errors import DataError
from medbench.evaluate.bootstrap import percentile_interval
from medbench.fileio import atomic_path, read_csv_with_text_ids, write_csv
from medbench.metrics import binary_classification_metrics, overlap_per_image


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
        dsc, ji = overlap_per_image(pred["seg_prob"][keep] >= 0.5, pred["mask"][keep])
        table["dsc"], table["ji"] = np.nan, np.nan
        table.loc[keep, "dsc"], table.loc[keep, "ji"] = dsc, ji
        arrays = {
            "seg_sample_id": table["sample_id"].to_numpy()[keep].astype(str),
            "seg_prob": np.round(pred["seg_prob"][keep] * 255).astype(np.uint8),
        }
    write_csv(Path(out_dir) / f"{test_set}.csv", table)
    with atomic_path(Path(out_dir) / f"{test_set}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def fold_metrics(table: pd.DataFrame) -> dict[str, float]:
    metrics = binary_classification_metrics(table["label"], table["prob"])
    if "dsc" in table and table["dsc"].notna().any():
        metrics |= {"dsc": float(table["dsc"].mean()), "ji": float(table["ji"].mean())}
    return metrics


def _confusion(table: pd.DataFrame) -> dict[str, int]:
    pred, label = table["prob"] >= 0.5, table["label"] == 1
    return {
        "tp": int((pred & label).sum()),
        "tn": int((~pred & ~label).sum()),
        "fp": int((pred & ~label).sum()),
        "fn": int((~pred & label).sum()),
    }


def _mean(per_fold: list[dict]) -> dict[str, float]:
    return {k: float(np.mean([m[k] for m in per_fold])) for k in per_fold[0]}


def evaluate_folds(pred_dir, test_sets, n_boot: int, seed: int) -> dict:
    result = {}
    for test_set in test_sets:
        path = Path(pred_dir) / f"{test_set}.csv"
        if not path.is_file():
            raise DataError(f"{path}: predictions missing; re-run prediction")
        table = read_csv_with_text_ids(path)
        folds = [part for _, part in table.groupby("fold")] if "fold" in table else [table]
        per_fold = [fold_metrics(part) for part in folds]
        rng = np.random.default_rng(seed)
        resampled = [
            _mean([fold_metrics(part.iloc[rng.integers(0, len(part), len(part))]) for part in folds])
            for _ in range(n_boot)
        ]
        ci = {
            k: list(percentile_interval(np.array([r[k] for r in resampled], float), 0.95))
            for k in per_fold[0]
        }
        result[test_set] = {
            "n": len(table),
            "positives": int(table["label"].sum()),
            **_mean(per_fold),
            "folds": [
                {**m, **_confusion(part), "n": len(part)} for m, part in zip(per_fold, folds, strict=True)
            ],
            "ci": ci,
        }
    return result
