"""Finished runs as the reports see them: one per (model, training seed).

A run directory is `<runs>/<protocol>/seed<S>/<model>/` holding `metrics.json` and
`predictions/<test set>.csv` (first column: the sample's id); tables, claims and figures all
read runs through here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from medbench.errors import DataError
from medbench.fileio import read_csv_with_text_ids

SEED_DIR = re.compile(r"seed(\d+)")


@dataclass(frozen=True)
class Run:
    model: str
    seed: int
    directory: Path
    metrics: dict

    def predictions(self, test_set: str) -> pd.DataFrame:
        path = self.directory / "predictions" / f"{test_set}.csv"
        if not path.is_file():
            raise DataError(f"{path}: predictions missing; re-run `medbench predict`")
        return read_csv_with_text_ids(path)

    def segmentation_arrays(self, test_set: str, ids: str, values: str) -> dict:
        """{sample id: array} from the run's `<test_set>.npz` (`ids` and `values` name its arrays);
        refused with the file's name when the model has no segmentation output."""
        path = self.directory / "predictions" / f"{test_set}.npz"
        if not path.is_file():
            raise DataError(f"{path}: predictions missing; re-run `medbench predict`")
        with np.load(path) as arrays:
            if values not in arrays:
                raise DataError(f"{path}: model '{self.model}' has no segmentation output")
            return dict(zip(arrays[ids], arrays[values], strict=True))


def load_runs(metrics_paths) -> dict[str, list[Run]]:
    """Model -> its runs sorted by seed, from `.../seed<S>/<model>/metrics.json` paths."""
    runs: dict[str, list[Run]] = {}
    for path in map(Path, metrics_paths):
        match = SEED_DIR.fullmatch(path.parent.parent.name)
        if not match:
            raise DataError(f"{path}: expected a run directory .../seed<N>/<model>/metrics.json")
        try:
            metrics = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: unreadable metrics file ({exc})") from exc
        runs.setdefault(path.parent.name, []).append(
            Run(path.parent.name, int(match.group(1)), path.parent, metrics))
    return {model: sorted(found, key=lambda r: r.seed) for model, found in runs.items()}


def seed_probabilities(runs: list[Run], test_set: str, column: str = "prob"
                       ) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """(sample ids, labels (n,), values (seeds, n)) of one model, aligned across seeds.

    `column`: "prob" (brain_ct: classifier probabilities) or a per-sample score such as "dice"
    (hubmap: Dice per image; no labels, so they are zeros)."""
    tables = [run.predictions(test_set) for run in runs]
    tables = [t.set_index(t.columns[0]) for t in tables]  # the first column names the samples
    if column not in tables[0]:
        raise DataError(f"{runs[0].directory}: model '{runs[0].model}' has no '{column}' predictions")
    order = tables[0].index
    for run, table in zip(runs[1:], tables[1:], strict=True):
        if not table.index.sort_values().equals(order.sort_values()):
            raise DataError(f"{run.directory}: {test_set} samples differ from seed {runs[0].seed}'s")
    values = np.stack([t.loc[order, column].to_numpy() for t in tables])
    labels = tables[0]["label"].to_numpy() if "label" in tables[0] else np.zeros(len(order), int)
    return order, labels, values


def aligned_probabilities(runs_a: list[Run], runs_b: list[Run], test_set: str, column: str = "prob"):
    """Labels and both models' (seeds, n) values on the same samples in the same order."""
    ids_a, labels, a = seed_probabilities(runs_a, test_set, column)
    ids_b, _, b = seed_probabilities(runs_b, test_set, column)
    if sorted(ids_a) != sorted(ids_b):
        raise DataError(f"{runs_a[0].model} and {runs_b[0].model}: different {test_set} samples")
    position = {sid: i for i, sid in enumerate(ids_b)}
    return labels, a, b[:, [position[sid] for sid in ids_a]]


def sample_folds(runs: list[Run], test_set: str) -> np.ndarray | None:
    """The cross-validation fold of every sample, in `seed_probabilities`' order (None without
    folds): paired tests resample within folds."""
    table = runs[0].predictions(test_set)
    return table["fold"].to_numpy() if "fold" in table else None


def classifies(runs: list[Run]) -> bool:
    return any("auc" in m for m in runs[0].metrics.values() if isinstance(m, dict))
