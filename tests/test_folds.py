"""Organ-stratified folds: every image in one fold, each fold with each organ's share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medbench.data.folds import stratified_folds
from medbench.errors import ConfigError

# the Kaggle training set's organ counts (351 images)
ORGANS = ["kidney"] * 99 + ["prostate"] * 93 + ["largeintestine"] * 58 + ["spleen"] * 53 + ["lung"] * 48


def test_each_fold_holds_each_organs_share():
    folds = stratified_folds(ORGANS, 5, seed=0, what="organ")
    assert sorted(set(folds)) == [0, 1, 2, 3, 4] and len(folds) == len(ORGANS)
    table = pd.crosstab(pd.Series(ORGANS, name="organ"), pd.Series(folds, name="fold"))
    assert (table.max(axis=1) - table.min(axis=1)).max() <= 1  # as even as integers allow


def test_folds_depend_on_the_seed_only():
    assert np.array_equal(stratified_folds(ORGANS, 5, 3), stratified_folds(ORGANS, 5, 3))
    assert not np.array_equal(stratified_folds(ORGANS, 5, 3), stratified_folds(ORGANS, 5, 4))


def test_too_few_images_of_an_organ_is_a_config_error():
    with pytest.raises(ConfigError, match=r"organ \{'lung': 3\} has fewer items than the 5 folds"):
        stratified_folds(["kidney"] * 10 + ["lung"] * 3, 5, 0, what="organ")
