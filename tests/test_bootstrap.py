"""Bootstrap intervals cover the point estimate and shrink with more data; paired tests
detect a real AUC difference and not a null one."""

from __future__ import annotations

import numpy as np
import pytest

from medbench.evaluate.bootstrap import (
    classification_ci,
    fold_mean_intervals,
    iou_ci,
    paired_test,
    percentile_interval,
)
from medbench.metrics import classification_metrics


def _scores(n, separation, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    return labels, 1 / (1 + np.exp(-(labels * separation + rng.normal(0, 1, n))))


def test_interval_contains_the_estimate_and_narrows_with_n():
    small = classification_ci(*_scores(80, 1.5, 0), n_boot=400)
    labels, probs = _scores(2000, 1.5, 0)
    large = classification_ci(labels, probs, n_boot=400)
    point = classification_metrics(labels, probs)
    for key in ("acc", "auc", "f1"):
        assert large[key][0] <= point[key] <= large[key][1]
        assert large[key][1] - large[key][0] < small[key][1] - small[key][0]


def test_same_seed_same_interval():
    labels, probs = _scores(100, 1.0, 1)
    assert classification_ci(labels, probs, n_boot=200, seed=3) == classification_ci(
        labels, probs, n_boot=200, seed=3)


def test_iou_interval_of_pooled_iou():
    inter, union = np.array([5, 8, 0, 10]), np.array([10, 10, 4, 12])
    ci = iou_ci(inter, union, n_boot=500)["iou"]
    assert ci[0] <= 23 / 36 <= ci[1]
    assert iou_ci(np.ones(5), np.ones(5), n_boot=50)["iou"] == (1.0, 1.0)


def test_paired_test_detects_a_better_model_but_not_a_copy():
    labels, strong = _scores(300, 2.5, 2)
    rng = np.random.default_rng(9)
    weak = 1 / (1 + np.exp(-(labels * 0.3 + rng.normal(0, 1, 300))))
    better = paired_test(labels, strong, weak, n_boot=500)
    assert better["diff"] > 0 and better["low"] > 0 and better["p"] < 0.01
    same = paired_test(labels, strong, strong, n_boot=200)
    assert same["diff"] == 0 and same["p"] == pytest.approx(1.0)


def test_paired_test_on_accuracy_and_on_seed_averages():
    labels, strong = _scores(300, 2.5, 2)
    rng = np.random.default_rng(9)
    weak = 1 / (1 + np.exp(-(labels * 0.3 + rng.normal(0, 1, 300))))
    acc = paired_test(labels, strong, weak, metric="acc", n_boot=300)
    assert acc["diff"] == pytest.approx(classification_metrics(labels, strong)["acc"]
                                        - classification_metrics(labels, weak)["acc"])
    assert acc["a_ci"][0] <= acc["a"] <= acc["a_ci"][1]
    # two seeds of the strong model vs one of the weak: the seed-averaged AUC is compared
    seeds = np.stack([strong, np.clip(strong + rng.normal(0, 0.05, 300), 0, 1)])
    averaged = paired_test(labels, seeds, weak, n_boot=300)
    per_seed = [paired_test(labels, s, weak, n_boot=10)["a"] for s in seeds]
    assert averaged["a"] == pytest.approx(np.mean(per_seed))
    assert averaged["low"] > 0


def test_bca_interval_matches_scipy_on_a_skewed_mean():
    """The fold tables' BCa interval against scipy's own BCa, on the mean of exponential data (a
    skewed statistic, where BCa and percentile intervals differ)."""
    from scipy.stats import bootstrap

    from medbench.evaluate.bootstrap import bca_interval

    data = np.random.default_rng(1).exponential(size=40)
    boots = data[np.random.default_rng(2).integers(0, 40, (20000, 40))].mean(axis=1)
    jackknife = np.array([np.delete(data, i).mean() for i in range(40)])
    ours = bca_interval(boots, data.mean(), jackknife, 0.95)
    theirs = bootstrap((data,), np.mean, n_resamples=20000, method="BCa", random_state=3).confidence_interval
    percentile = percentile_interval(boots, 0.95)
    assert ours == pytest.approx((theirs.low, theirs.high), abs=0.02)
    assert abs(ours[1] - percentile[1]) > 0.02  # BCa moved the upper end: the test can tell them apart


def test_fold_mean_intervals_hold_the_fold_mean():
    rng = np.random.default_rng(0)
    folds = [{"label": (rng.random(30) < 0.4).astype(float), "score": rng.normal(size=30)} for _ in range(3)]
    folds = [{**f, "score": f["score"] + f["label"]} for f in folds]
    per_fold, ci = fold_mean_intervals(folds, lambda f: {"gap": f["score"][f["label"] == 1].mean()
                                                         - f["score"][f["label"] == 0].mean()}, 500, 0)
    mean = np.mean([m["gap"] for m in per_fold])
    assert ci["gap"][0] < mean < ci["gap"][1]
