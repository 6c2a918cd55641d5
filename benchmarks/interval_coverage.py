"""Do the tables' 95% intervals hold 95% of the time, and does the paired test reject a true
null 5% of the time? Measured on simulated test sets whose true values are known, with the
same resampling code that fills the tables:

    python benchmarks/interval_coverage.py [--simulations 1000] [--bootstrap 1000] [--jobs 2] [--cases TEXT]

Cases (sizes of the paper's test sets; the toy runs' are smaller):
- per slice (brain_ct Table 1: `classification_ci`): AUC, accuracy and macro F1 at 0.5 of 179
  slices, 30% positive;
- per image (hubmap Table 2: the mean Dice's `bootstrap_ci`): 100 images;
- within folds (bus Tables 3, 4: `fold_mean_intervals`): 5 folds of 45 test images, each fold's
  own model; AUC from probabilities and from 0/1 predictions, F1, DSC, their fold means;
- paired tests (`paired_test`, the tables' "against the baseline" and the claims): two models of
  equal true AUC (false-positive rate at alpha 0.05), and a true difference of 0.04 (coverage of
  the difference), per slice, over three training seeds, and within folds.

Truth: scores are binormal (negatives N(0, 1), a model's positives N(d, 1); AUC = Phi(d / sqrt 2));
a prediction is positive when the score exceeds the threshold the model's 0.5 stands for. Two
models share part of their noise (correlation 0.6), as two networks do on the same images.
Targets: coverage 93-97%, false positives <= 6%.
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np
from scipy.stats import norm

from medbench.evaluate.bootstrap import bootstrap_ci, classification_ci, fold_mean_intervals, paired_test
from medbench.metrics import binary_classification_metrics, overlap_per_image

PREVALENCE, THRESHOLD, NOISE_SHARED = 0.3, 1.0, 0.6


def truth(d: float, prevalence: float = PREVALENCE, c: float = THRESHOLD) -> dict[str, float]:
    """Population metrics of a binormal model with separation d, thresholded at score c."""
    tpr, fpr = 1 - norm.cdf(c - d), 1 - norm.cdf(c)
    pos, neg = prevalence * tpr, (1 - prevalence) * fpr
    prec = pos / (pos + neg)
    f1_pos = 2 * prec * tpr / (prec + tpr)
    npv = (1 - prevalence) * (1 - fpr) / ((1 - prevalence) * (1 - fpr) + prevalence * (1 - tpr))
    f1_neg = 2 * npv * (1 - fpr) / (npv + 1 - fpr)
    return {"auc": float(norm.cdf(d / math.sqrt(2))), "acc": pos + (1 - prevalence) * (1 - fpr),
            "f1": (f1_pos + f1_neg) / 2, "f1_pos": f1_pos, "auc01": (tpr + 1 - fpr) / 2}


def draw(rng, n: int, ds: list[float], prevalence: float = PREVALENCE):
    """Labels and every model's probabilities on one test set (models share part of their noise)."""
    labels = (rng.random(n) < prevalence).astype(int)
    labels[:2] = [0, 1]  # both classes: an AUC exists
    shared = rng.standard_normal(n)
    probs = []
    for d in ds:
        noise = math.sqrt(NOISE_SHARED) * shared + math.sqrt(1 - NOISE_SHARED) * rng.standard_normal(n)
        probs.append(1 / (1 + np.exp(-(d * labels + noise - THRESHOLD))))  # 0.5 <=> score = THRESHOLD
    return labels, probs


def covered(interval, value) -> bool:
    return interval[0] <= value <= interval[1]


def per_slice(sim: int, n_boot: int) -> dict[str, bool]:
    rng = np.random.default_rng(sim)
    d = 1.5
    labels, (probs,) = draw(rng, 179, [d])
    ci = classification_ci(labels, probs, n_boot=n_boot, seed=sim)
    true = truth(d)
    return {f"{k}": covered(ci[k], true[k]) for k in ("auc", "acc", "f1")}


def per_image(sim: int, n_boot: int) -> dict[str, bool]:
    rng = np.random.default_rng(sim)
    a, b = 4.0, 2.0  # Dice per image ~ Beta(4, 2): mean 0.667, some images near 0
    dice = rng.beta(a, b, 100)
    ci = bootstrap_ci(lambda i: {"dice": float(dice[i].mean())}, len(dice), n_boot, sim)
    return {"dice": covered(ci["dice"], a / (a + b))}


def _bus_fold(rng, d: float, n: int) -> dict[str, np.ndarray]:
    labels, (probs,) = draw(rng, n, [d], prevalence=0.45)
    # masks: a lesion of 60 pixels, predicted with per-image quality drawn around Dice 0.7
    truth_mask = np.zeros((n, 100), bool)
    truth_mask[:, :60] = True
    shift = rng.integers(5, 35, n)
    pred = np.zeros_like(truth_mask)
    for i, s in enumerate(shift):
        pred[i, s:s + 60] = True
    dsc, ji = overlap_per_image(pred, truth_mask)
    return {"label": labels.astype(float), "prob": probs, "dsc": dsc, "ji": ji}


def _bus_metrics(fold: dict[str, np.ndarray]) -> dict[str, float]:
    metrics = binary_classification_metrics(fold["label"], fold["prob"])
    return {"auc_prob": metrics["auc_prob"], "auc": metrics["auc"], "f1": metrics["f1"],
            "dsc": float(fold["dsc"].mean())}


def within_folds(sim: int, n_boot: int) -> dict[str, bool]:
    rng = np.random.default_rng(sim)
    ds = [1.2, 1.4, 1.6, 1.5, 1.3]  # five fold models, each its own quality
    folds = [_bus_fold(rng, d, 45) for d in ds]
    _, ci = fold_mean_intervals(folds, _bus_metrics, n_boot, sim)
    true = [truth(d, 0.45) for d in ds]
    dsc_true = float(np.mean(overlap_per_image(*_dice_population())[0]))
    targets = {"auc_prob": np.mean([t["auc"] for t in true]), "auc": np.mean([t["auc01"] for t in true]),
               "f1": np.mean([t["f1_pos"] for t in true]), "dsc": dsc_true}
    return {k: covered(ci[k], v) for k, v in targets.items()}


def _dice_population():
    """Every shift of the simulated lesion, equally likely: the population of per-image Dice."""
    truth_mask = np.zeros((30, 100), bool)
    truth_mask[:, :60] = True
    pred = np.zeros_like(truth_mask)
    for i, s in enumerate(range(5, 35)):
        pred[i, s:s + 60] = True
    return pred, truth_mask


def paired(sim: int, n_boot: int, ds=(1.5, 1.5), seeds: int = 1, folds: int = 0) -> dict[str, bool]:
    """The paired test of model A against B: does it reject (p < 0.05), does its interval hold the
    true difference?"""
    rng = np.random.default_rng(sim)
    if folds:
        parts = [draw(rng, 45, [ds[0]] * seeds + [ds[1]] * seeds, prevalence=0.45) for _ in range(folds)]
        labels = np.concatenate([p[0] for p in parts])
        probs = [np.concatenate([p[1][k] for p in parts]) for k in range(2 * seeds)]
        groups = np.repeat(np.arange(folds), 45)
        metric, classification, key = "auc", "binary", "auc01"
    else:
        labels, probs = draw(rng, 179, [ds[0]] * seeds + [ds[1]] * seeds)
        groups, metric, classification, key = None, "auc", "macro", "auc"
    result = paired_test(labels, np.stack(probs[:seeds]), np.stack(probs[seeds:]), metric, n_boot=n_boot,
                         seed=sim, groups=groups, classification=classification)
    prevalence = 0.45 if folds else PREVALENCE
    true_diff = truth(ds[0], prevalence)[key] - truth(ds[1], prevalence)[key]
    return {"rejects": result["p"] < 0.05, "diff": covered((result["low"], result["high"]), true_diff)}


CASES = {
    "per slice (brain_ct), n 179": per_slice,
    "per image Dice (hubmap), n 100": per_image,
    "within 5 folds (bus), 45 per fold": within_folds,
    "paired AUC, equal models, per slice": paired,
    "paired AUC, true diff +0.04, per slice": partial(paired, ds=(1.65, 1.4)),
    "paired AUC, equal models, 3 seeds each": partial(paired, seeds=3),
    "paired AUC (0/1), equal models, 5 folds": partial(paired, folds=5),
}


def run_case(case, simulations: int, n_boot: int, jobs: int) -> dict[str, float]:
    with ProcessPoolExecutor(jobs) as pool:
        outcomes = list(pool.map(partial(case, n_boot=n_boot), range(simulations), chunksize=8))
    return {k: float(np.mean([o[k] for o in outcomes])) for k in outcomes[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--simulations", type=int, default=1000, help="simulated test sets per case")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="resamples per interval (the tables' 1000)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cases", default="", help="only the cases whose name contains this text")
    args = parser.parse_args()
    cases = {name: case for name, case in CASES.items() if args.cases in name}
    if not cases:
        parser.error(f"--cases {args.cases!r} matches none of: {', '.join(CASES)}")
    print(f"{args.simulations} simulated test sets per case, {args.bootstrap} bootstrap resamples; "
          "target: coverage 93-97%, false positives <= 6%\n")
    print(f"{'case':44s} {'measure':18s} {'rate':>7s}  verdict")
    failures = 0
    for name, case in cases.items():
        start = time.time()
        rates = run_case(case, args.simulations, args.bootstrap, args.jobs)
        for measure, rate in rates.items():
            if measure == "rejects" and "diff +" in name:  # a true difference: power, no target
                print(f"{name:44s} {'power':18s} {100 * rate:6.1f}%")
                continue
            ok = rate <= 0.06 if measure == "rejects" else 0.93 <= rate <= 0.97
            failures += not ok
            label = "false positives" if measure == "rejects" else f"coverage {measure}"
            print(f"{name:44s} {label:18s} {100 * rate:6.1f}%  {'ok' if ok else 'OUT OF TARGET'}")
        print(f"{'':44s} ({time.time() - start:.0f} s)")
    print(f"\n{failures} measure(s) out of target")


if __name__ == "__main__":
    main()
