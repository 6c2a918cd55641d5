"""K-fold assignment stratified by a label (hubmap: 5 folds by organ, the paper's §3)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from medbench.errors import ConfigError


def stratified_folds(labels: Sequence, n_folds: int, seed: int, what: str = "label") -> np.ndarray:
    """Fold number (0 .. n_folds-1) of every item; each fold holds each label's share.

    Every label needs at least `n_folds` items, or some fold would miss it entirely.
    """
    from sklearn.model_selection import StratifiedKFold  # only the split step needs sklearn

    labels = pd.Series(list(labels))
    counts = labels.value_counts()
    scarce = {label: int(n) for label, n in counts[counts < n_folds].items()}
    if n_folds < 2:
        raise ConfigError(f"folds: need at least 2 folds, got {n_folds}")
    if scarce:
        raise ConfigError(f"folds: {what} {scarce} has fewer items than the {n_folds} folds")
    folds = np.empty(len(labels), dtype=int)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fold, (_, held) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        folds[held] = fold
    return folds
