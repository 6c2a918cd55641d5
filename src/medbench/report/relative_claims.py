"""Claims about relative differences (swinfuse's abstract: "a 1-2% trade-off", "up to 27%
better"), checked on our per-sample metrics with a paired bootstrap over the test samples.

r = (mean_A - mean_B) / mean_B of a per-sample metric (e.g. Dice per case) over the samples
both models were tested on, averaged over training seeds per sample.
- `relative_diff_in` (band [lo, hi]): one row per metric; holds when r lies in the band,
  significantly so when its whole 95% interval does; above the band the claimed model is better
  than claimed, below it worse.
- `relative_diff_max` (band: the claimed maximum): the largest r over the metrics; holds when
  it is positive (significantly: its interval excludes 0). The claimed magnitude is reported,
  not tested.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medbench.evaluate.bootstrap import percentile_interval
from medbench.report.runs import Run

RELATIVE_KINDS = ("relative_diff_in", "relative_diff_max")


def per_sample(runs: list[Run], test_set: str, metric: str) -> pd.Series:
    """A per-sample metric, averaged over the seeds' runs, by sample id."""
    tables = [
        run.predictions(test_set).set_index(run.predictions(test_set).columns[0])[metric] for run in runs
    ]
    return pd.concat(tables, axis=1).mean(axis=1)


def relative_difference(a: pd.Series, b: pd.Series, n_boot: int, seed: int) -> dict:
    paired = pd.concat([a, b], axis=1, join="inner").dropna().to_numpy()
    rng = np.random.default_rng(seed)

    def r(rows):
        return (rows[:, 0].mean() - rows[:, 1].mean()) / rows[:, 1].mean()

    draws = np.array([r(paired[rng.integers(0, len(paired), len(paired))]) for _ in range(n_boot)])
    low, high = percentile_interval(draws[np.isfinite(draws)], 0.95)
    p = min(1.0, 2 * min((draws <= 0).mean(), (draws >= 0).mean()))
    return {
        "ours": paired[:, 0].mean(),
        "theirs": paired[:, 1].mean(),
        "diff": r(paired),
        "low": low,
        "high": high,
        "p": p,
    }


def _in_band(test: dict, band) -> str:
    lo, hi = band
    if lo <= test["low"] and test["high"] <= hi:
        return "holds (significant)"
    if lo <= test["diff"] <= hi:
        return "holds as a point estimate only"
    return "does not hold: " + ("better than claimed" if test["diff"] > hi else "worse than claimed")


def _positive(test: dict, band) -> str:
    claimed = f"claimed up to {band[1]:+.0%}, ours {test['diff']:+.1%}"
    if test["low"] > 0:
        return f"holds (significant; {claimed})"
    return f"holds as a point estimate only ({claimed})" if test["diff"] > 0 else f"does not hold ({claimed})"


def check_relative_claim(claim: dict, runs: dict[str, list[Run]], n_boot: int, seed: int) -> list[dict]:
    base = {
        "claim": claim["claim"],
        "source": claim.get("source", ""),
        "note": claim.get("note", ""),
        "paper": "n/a (no table)",
    }
    a, b = claim["models"]
    missing = [m for m in (a, b) if m not in runs]
    if missing:
        return [base | {"verdict": f"not run ({', '.join(missing)})"}]
    tests = {}
    for source in claim["metrics"]:
        test_set, metric = source.split(".")
        tests[source] = relative_difference(
            per_sample(runs[a], test_set, metric), per_sample(runs[b], test_set, metric), n_boot, seed
        )
    rows = [(source, test) for source, test in tests.items()]
    if claim["kind"] == "relative_diff_max":
        rows = [max(rows, key=lambda item: item[1]["diff"])]
    verdict = _in_band if claim["kind"] == "relative_diff_in" else _positive
    return [
        base
        | {
            "claim": f"{claim['claim']} [{source}, relative]",
            "versus": b,
            **test,
            "intervals": "·",
            "verdict": verdict(test, claim["band"]),
        }
        for source, test in rows
    ]
