"""Which image of the two hubmap exports plays which role (the paper's §5-6 protocol).

- Training export (Kaggle's `train.csv`, HPA): 5 folds stratified by organ; the configured
  fold validates (checkpoint choice, ReduceLROnPlateau), the others train. The paper reports
  one fold.
- Kaggle scored on hidden test sets: "[Pub] HuBMAP + HPA" (private HPA images and HuBMAP
  images) and "[Priv] HuBMAP". Those are not downloadable, so we rebuild them: an organ-
  stratified share of the training export is held out before the folds (`hpa_test_fraction`,
  the public set's HPA part), and the evaluation export (HuBMAP images with masks) is divided
  by organ into a public share (`hubmap_public_fraction`) and the private rest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medbench.data.folds import stratified_folds
from medbench.errors import ConfigError, DataError

# the mask (rle) travels with the split, so later steps need only the images from the exports
KEEP = ("id", "organ", "data_source", "img_height", "img_width", "pixel_size", "tissue_thickness", "rle")


def _stratified_holdout(organs: pd.Series, fraction: float, seed: int, what: str) -> np.ndarray:
    """Boolean mask of a `fraction` share of every organ (at least one image each)."""
    from sklearn.model_selection import train_test_split

    if fraction <= 0:
        return np.zeros(len(organs), bool)
    counts = organs.value_counts()
    if (counts < 2).any():
        raise ConfigError(f"split: {what} has organ(s) with a single image: {counts[counts < 2].to_dict()}")
    n_held = max(int(round(fraction * len(organs))), organs.nunique())
    _, held = train_test_split(np.arange(len(organs)), test_size=n_held, stratify=organs,
                               random_state=seed)
    mask = np.zeros(len(organs), bool)
    mask[held] = True
    return mask


def hubmap_splits(training: pd.DataFrame, evaluation: pd.DataFrame, cfg: dict, seed: int) -> pd.DataFrame:
    """One row per image of both exports: source, set (train/val/test_pub/test_priv), fold."""
    if not 0 <= cfg["fold"] < cfg["n_folds"]:
        raise ConfigError(f"split.fold {cfg['fold']} is not one of the {cfg['n_folds']} folds")
    train = training.loc[:, KEEP].assign(source="training", fold=-1)
    held = _stratified_holdout(train["organ"], cfg["hpa_test_fraction"], seed, "the training export")
    train["set"] = np.where(held, "test_pub", "")
    rest = ~held
    train.loc[rest, "fold"] = stratified_folds(train.loc[rest, "organ"], cfg["n_folds"], seed, "organ")
    train.loc[rest, "set"] = np.where(train.loc[rest, "fold"] == cfg["fold"], "val", "train")
    test = evaluation.loc[:, KEEP].assign(source="evaluation", fold=-1)
    public = _stratified_holdout(test["organ"], cfg["hubmap_public_fraction"], seed + 1,
                                 "the evaluation export")
    test["set"] = np.where(public, "test_pub", "test_priv")
    return pd.concat([train, test], ignore_index=True)


def split_summary(splits: pd.DataFrame) -> pd.DataFrame:
    """Images per set, organ and data source (logged by the split step)."""
    return (splits.groupby(["set", "data_source", "organ"]).size().rename("images").reset_index())


def read_hubmap_splits(splits_csv) -> pd.DataFrame:
    splits = pd.read_csv(splits_csv, dtype={"id": str, "rle": str}, keep_default_na=False)
    missing = [c for c in ("source", "set", *KEEP) if c not in splits.columns]
    if missing:
        raise DataError(f"{splits_csv}: not a hubmap split table (missing {missing}); re-run the split step")
    return splits
