"""swinfuse metrics (Dice per task and region, as the released fine-tuning scripts) from the
predictions (`predict.py`).

metrics.json, per task: the mean Dice of each channel over the cases that have it, BraTS'
`dice_mean` (the per-case mean of its channels, then the mean over cases), 95% percentile
intervals from `bootstrap_samples` resamples of the cases, and `dice_bestval`: the best Dice
on our validation split during the run's training, the number that selected the checkpoint.
The released scripts report the analogous number on their held-out fold itself (they select and
report on one set); ours is no test result.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from medbench.errors import DataError
from medbench.evaluate.bootstrap import percentile_interval
from medbench.fileio import read_csv_with_text_ids

CHANNELS = {"brats21": ["dice_tc", "dice_wt", "dice_et"]}  # MSD tasks: ["dice"]


def channels(task: dict) -> list[str]:
    return CHANNELS.get(task["dataset"], ["dice"])


def _case_metrics(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    return table[names + (["dice_mean"] if len(names) > 1 else [])].astype(float)


def _means(values: pd.DataFrame) -> dict[str, float]:
    return {k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for k, v in values.items()}


def best_validation_dice(run_dir: Path) -> dict[str, float]:
    """Per task (the `fold` column of the run's metrics.csv), the best epoch's validation Dice."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return {}
    history = pd.read_csv(path)
    return {str(task): float(part["val_dice"].max()) for task, part in history.groupby("fold")}


def evaluate_tasks(pred_dir, tasks: dict, n_boot: int, seed: int) -> dict:
    result, bestval = {}, best_validation_dice(Path(pred_dir).parent)
    for test_set, task in tasks.items():
        path = Path(pred_dir) / f"{test_set}.csv"
        if not path.is_file():
            raise DataError(f"{path}: predictions missing; re-run prediction")
        values = _case_metrics(read_csv_with_text_ids(path), channels(task))
        rng = np.random.default_rng(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            resampled = [
                _means(values.iloc[rng.integers(0, len(values), len(values))]) for _ in range(n_boot)
            ]
        ci = {k: list(percentile_interval(np.array([r[k] for r in resampled], float), 0.95)) for k in values}
        result[test_set] = {
            "n": len(values),
            **_means(values),
            "ci": ci,
            "dice_bestval": bestval.get(test_set, float("nan")),
        }
    return result
