"""The paper's table checked against itself (a table's `self_checks`), for classification
tables that print acc, sens, spec, f1, auc, fnr, fpr (percent; F1 a fraction):

- `auc_is_mean_of_sens_spec`: AUC = (Sens + Spec) / 2 -- what an AUC computed from 0/1
  predictions is (the bus authors' code does exactly that);
- `rates_are_complements`: FNR = 100 - Sens and FPR = 100 - Spec;
- `f1_implied`: the F1 that Sens and Spec give at the dataset's prevalence p
  (precision = Sens p / (Sens p + (1 - Spec)(1 - p))), against the printed one (flag >= 0.02);
- `accuracy_implied`: Acc = Sens p + Spec (1 - p), against the printed one (flag >= 1 point).
Folds of different prevalence move the implied values a little; gaps beyond the flags do not
come from rounding.
"""

from __future__ import annotations

import math

import pandas as pd

from medbench.errors import ConfigError


def _implied_f1(sens: float, spec: float, p: float) -> float:
    sens, spec = sens / 100, spec / 100
    precision = sens * p / (sens * p + (1 - spec) * (1 - p))
    return 2 * precision * sens / (precision + sens)


def _row_checks(row: pd.Series, check: str, p: float) -> list[tuple[str, float, float, bool]]:
    """(what, printed, implied, consistent) of one check on one row."""
    if check == "auc_is_mean_of_sens_spec":
        implied = (row["sens"] + row["spec"]) / 2
        return [("AUC", row["auc"], implied, abs(row["auc"] - implied) <= 0.1 + 1e-9)]
    if check == "rates_are_complements":
        return [(name, row[name], 100 - row[rate], abs(row[name] - (100 - row[rate])) <= 0.1 + 1e-9)
                for name, rate in (("fnr", "sens"), ("fpr", "spec"))]
    if check == "f1_implied":
        implied = _implied_f1(row["sens"], row["spec"], p)
        return [("F1", row["f1"], implied, abs(row["f1"] - implied) < 0.02)]
    if check == "accuracy_implied":
        implied = row["sens"] * p + row["spec"] * (1 - p)
        return [("Acc", row["acc"], implied, abs(row["acc"] - implied) < 1.0)]
    raise ConfigError(f"self_checks: unknown check {check!r}")


def self_check_lines(paper: pd.DataFrame, spec: dict) -> list[str]:
    """Markdown lines: every check on every row of the paper's table, inconsistencies first."""
    p = spec["prevalence"]
    rows = []
    for method, row in paper.iterrows():
        for check in spec["checks"]:
            for what, printed, implied, ok in _row_checks(row, check, p):
                if not (math.isnan(printed) or math.isnan(implied)):
                    rows.append((ok, method, check, what, printed, implied))
    failed = [r for r in rows if not r[0]]
    lines = ["## The paper's table checked against itself", "",
             f"Checks {', '.join(spec['checks'])} at the dataset's malignant prevalence {p}: "
             f"{len(rows) - len(failed)} of {len(rows)} values consistent.", "",
             "| row | check | printed | implied | |", "|---|---|---|---|---|"]
    for ok, method, check, what, printed, implied in sorted(rows, key=lambda r: r[0]):
        lines.append(f"| {method} | {check}: {what} | {printed:.3g} | {implied:.3g} | "
                     f"{'consistent' if ok else '**inconsistent**'} |")
    return [*lines, ""]
