"""Bootstrap confidence intervals and paired comparisons over test slices.

Slices are resampled with replacement (percentile intervals, Efron & Tibshirani 1993; the
means over cross-validation folds: BCa intervals, which measured closer to 95% there). A
paired comparison resamples the same slices for both models, so the correlation between
their errors on shared slices is kept; its two-sided p-value is twice the smaller tail of
the bootstrap distribution of the difference around zero.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import norm

from medbench.metrics import binary_classification_metrics, classification_metrics, roc_auc


def _indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_ci(statistic: Callable[[np.ndarray], dict[str, float]], n: int, n_boot: int = 1000,
                 seed: int = 0, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile intervals of every value `statistic(indices)` returns."""
    samples: dict[str, list[float]] = {}
    for idx in _indices(n, n_boot, seed):
        for key, value in statistic(idx).items():
            samples.setdefault(key, []).append(value)
    return {key: percentile_interval(np.asarray(vals, float), level) for key, vals in samples.items()}


def classification_ci(labels, probs, **kwargs) -> dict[str, tuple[float, float]]:
    labels, probs = np.asarray(labels), np.asarray(probs)
    return bootstrap_ci(lambda i: classification_metrics(labels[i], probs[i]), len(labels), **kwargs)


def iou_ci(intersections, unions, **kwargs) -> dict[str, tuple[float, float]]:
    """IoU pooled over slices: resample slices, then sum their intersections and unions."""
    inter, union = np.asarray(intersections, float), np.asarray(unions, float)

    def pooled(i):
        total = union[i].sum()
        return {"iou": inter[i].sum() / total if total else float("nan")}

    return bootstrap_ci(pooled, len(inter), **kwargs)


# metrics that are the mean of a per-sample score (hubmap: Dice per image; bus: DSC and Jaccard
# per image with a mask, NaN for the others)
PER_SAMPLE_METRICS = ("dice", "dice_mean", "dsc", "ji")
# the classification metrics of a study (`evaluation.classification`): brain_ct's Table 1 (macro
# F1, AUC of the probabilities) or bus's (binary F1, AUC of the 0/1 predictions, sens, spec, ...)
CLASSIFICATION_METRICS = {"macro": classification_metrics, "binary": binary_classification_metrics}


def seed_mean_metric(labels: np.ndarray, probs: np.ndarray, metric: str,
                     classification: str = "macro") -> float:
    """`metric` of every seed's probabilities (rows of `probs`), averaged over seeds; for a
    per-sample metric `probs` holds the per-sample scores themselves."""
    if metric in PER_SAMPLE_METRICS:
        return float(np.nanmean(probs))
    if metric == "auc" and classification == "macro":  # the common case, without the threshold metrics
        return float(np.mean([roc_auc(labels, p) for p in probs]))
    return float(np.mean([CLASSIFICATION_METRICS[classification](labels, p)[metric] for p in probs]))


def strata(labels: np.ndarray, within: np.ndarray | None = None) -> list[np.ndarray]:
    """Positions of each label among `within` (default: all samples): what a stratified
    resample draws from, one stratum at a time."""
    within = np.arange(len(labels)) if within is None else within
    return [within[labels[within] == value] for value in np.unique(labels[within])]


def stratified_resample(members: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """One bootstrap resample that keeps every stratum's size (e.g. each label's count)."""
    return np.concatenate([m[rng.integers(0, len(m), len(m))] for m in members])


def bca_interval(values: np.ndarray, observed: float, jackknife: np.ndarray,
                 level: float) -> tuple[float, float]:
    """Bias-corrected and accelerated percentile interval (Efron & Tibshirani 1993, ch. 14):
    the percentiles move by the bootstrap's median bias (z0) and by the skew the jackknife
    values show (acceleration), which a plain percentile interval ignores. NaN resamples are
    dropped; a bias or skew that cannot be estimated falls back to the percentile interval."""
    values, jackknife = values[~np.isnan(values)], jackknife[~np.isnan(jackknife)]
    if not len(values) or np.isnan(observed):
        return percentile_interval(values, level)
    below = (np.sum(values < observed) + 0.5 * np.sum(values == observed)) / len(values)
    z0 = norm.ppf(np.clip(below, 1 / (len(values) + 1), len(values) / (len(values) + 1)))
    spread = jackknife.mean() - jackknife
    denominator = 6 * np.sum(spread**2) ** 1.5
    accel = np.sum(spread**3) / denominator if denominator > 0 else 0.0
    z = z0 + norm.ppf([(1 - level) / 2, (1 + level) / 2])
    quantiles = norm.cdf(z0 + z / (1 - accel * z))
    low, high = np.quantile(values, quantiles)
    return float(low), float(high)


def _fold_jackknife(folds: list[dict[str, np.ndarray]], per_fold: list[dict[str, float]],
                    metrics: Callable[[dict], dict[str, float]]) -> dict[str, np.ndarray]:
    """The fold mean of every metric with one test sample left out, for every sample of every
    fold (only the left-out sample's fold changes)."""
    values: dict[str, list[float]] = {}
    for f, fold in enumerate(folds):
        n = len(fold["label"])
        for i in range(n):
            keep = np.delete(np.arange(n), i)
            left_out = [metrics({k: v[keep] for k, v in fold.items()}) if g == f else m
                        for g, m in enumerate(per_fold)]
            for key, value in mean_over_folds(left_out).items():
                values.setdefault(key, []).append(value)
    return {k: np.asarray(v, float) for k, v in values.items()}


def fold_mean_intervals(folds: list[dict[str, np.ndarray]], metrics: Callable[[dict], dict[str, float]],
                        n_boot: int, seed: int, level: float = 0.95
                        ) -> tuple[list[dict[str, float]], dict[str, tuple[float, float]]]:
    """Cross-validation: each fold's `metrics` of its test samples (arrays of one length, with a
    `label`), and BCa intervals of their mean over folds, resampling every fold's samples
    within each label (`n_boot` times). BCa rather than percentile: with ~45 images per fold,
    percentile intervals of the fold-mean F1 held the true value 92.6% of the time
    (benchmarks/interval_coverage.py), under the 95% they state."""
    per_fold = [metrics(fold) for fold in folds]
    members = [strata(np.asarray(fold["label"])) for fold in folds]
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(n_boot):
        picked = [{k: v[stratified_resample(m, rng)] for k, v in fold.items()}
                  for fold, m in zip(folds, members, strict=True)]
        for key, value in mean_over_folds([metrics(fold) for fold in picked]).items():
            samples.setdefault(key, []).append(value)
    observed = mean_over_folds(per_fold)
    jackknife = _fold_jackknife(folds, per_fold, metrics)
    return per_fold, {k: bca_interval(np.asarray(v, float), observed[k], jackknife[k], level)
                      for k, v in samples.items()}


def mean_over_folds(per_fold: list[dict[str, float]]) -> dict[str, float]:
    """Every metric's mean over the folds (NaN where a fold has none, e.g. no mask)."""
    return {k: float(np.mean([m.get(k, np.nan) for m in per_fold])) for k in per_fold[0]}


def _grouped_indices(groups: np.ndarray, labels: np.ndarray, n_boot: int, seed: int):
    """Resamples within each group (cross-validation folds), stratified by label in the group:
    one index array per group."""
    rng = np.random.default_rng(seed)
    members = [strata(labels, np.flatnonzero(groups == g)) for g in np.unique(groups)]
    for _ in range(n_boot):
        yield [stratified_resample(m, rng) for m in members]


def paired_test(labels, probs_a, probs_b, metric: str = "auc", n_boot: int = 2000,
                seed: int = 0, groups=None, classification: str = "macro") -> dict[str, float]:
    """metric(a) - metric(b) on the same slices: its 95% interval and two-sided p-value.

    `probs_a`/`probs_b` are (n,) or (seeds, n): with several seeds per model each resample
    compares the seed-averaged metrics, so the test is about the models, not one seed. Also
    returns both models' own 95% intervals from the same resamples (for "do they overlap").
    With `groups` (the fold of each sample), samples are resampled within their fold and label
    and the metric is the mean of the folds' (cross-validation: what the tables report).
    """
    labels = np.asarray(labels)
    a, b = np.atleast_2d(np.asarray(probs_a, float)), np.atleast_2d(np.asarray(probs_b, float))

    def value(probs, parts):  # the mean over folds of the fold's metric
        return float(np.mean([seed_mean_metric(labels[i], probs[:, i], metric, classification)
                              for i in parts]))

    if groups is None or len(np.unique(groups)) == 1:
        resamples = ([i] for i in _indices(len(labels), n_boot, seed))
        whole = [np.arange(len(labels))]
    else:
        groups = np.asarray(groups)
        resamples = _grouped_indices(groups, labels, n_boot, seed)
        whole = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    samples = np.array([(value(a, parts), value(b, parts)) for parts in resamples])
    samples = samples[~np.isnan(samples).any(axis=1)]
    diffs = samples[:, 0] - samples[:, 1]
    low, high = percentile_interval(diffs, 0.95)
    p = min(1.0, 2 * min((diffs <= 0).mean(), (diffs >= 0).mean())) if len(diffs) else float("nan")
    value_a, value_b = value(a, whole), value(b, whole)
    return {"a": value_a, "b": value_b, "diff": value_a - value_b, "low": low, "high": high,
            "p": float(p), "a_ci": percentile_interval(samples[:, 0], 0.95),
            "b_ci": percentile_interval(samples[:, 1], 0.95)}
