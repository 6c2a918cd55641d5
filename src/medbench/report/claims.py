"""The paper's comparative claims, checked on our run (results/<table>_claims.md).

Each claim of the study YAML's `claims:` (best / greater / less / equal on one test-set
metric) is checked twice: on the paper's own table (does the text match its numbers?) and on
our predictions, with a paired bootstrap over the test slices (or images, for Dice). A point
estimate that agrees is not enough to say the claim holds, so the verdict says whether the
paired 95% interval of the difference excludes zero, and whether the two models' own
intervals overlap.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from medbench.errors import ConfigError
from medbench.evaluate.bootstrap import CLASSIFICATION_METRICS, PER_SAMPLE_METRICS, paired_test
from medbench.report.relative_claims import RELATIVE_KINDS, check_relative_claim
from medbench.report.runs import Run, aligned_probabilities, sample_folds
from medbench.report.tables import cell_source, table_columns

CLAIM_METRICS = {m for metrics in CLASSIFICATION_METRICS.values() for m in metrics([0, 1], [0.2, 0.8])
                 } | set(PER_SAMPLE_METRICS)


def paper_cells(table_cfg: dict) -> dict[tuple[str, str], tuple[str, str]]:
    """(model, "test_set.metric") -> (row method, column) of every cell of the table."""
    cells = {}
    for row in table_cfg["rows"]:
        for column, source in table_columns(table_cfg).items():
            model, test_set, metric = cell_source(row, column, source)
            cells.setdefault((model, f"{test_set}.{metric}"), (row["method"], column))
    return cells


def _paper_value(paper: pd.DataFrame, cell: tuple[str, str] | None) -> float:
    if cell is None or cell[0] not in paper.index:
        return math.nan
    return float(paper.loc[cell])


def _paper_verdict(claim: dict, values: dict[str, float], paper_column: pd.Series) -> str:
    """Does the paper's own table support the claim (3-decimal values)?"""
    a = values[claim["models"][0]]
    if math.isnan(a):
        return "not in the table"
    if claim["kind"] == "best":
        return "yes" if a >= paper_column.max() else f"no (max {paper_column.max():.3f})"
    b = values[claim["models"][1]]
    ok = {"greater": a > b, "less": a < b, "equal": round(a, 3) == round(b, 3)}[claim["kind"]]
    return "yes" if ok else f"no ({a:.3f} vs {b:.3f})"


def _verdict(kind: str, test: dict) -> str:
    excludes_zero = test["low"] > 0 or test["high"] < 0
    if kind == "equal":
        return "consistent (difference interval includes 0)" if not excludes_zero else "does not hold"
    agrees = test["diff"] > 0 if kind in ("greater", "best") else test["diff"] < 0
    if agrees:
        return "holds (significant)" if excludes_zero else "holds as a point estimate only"
    return "contradicted (significant)" if excludes_zero else "does not hold (within noise)"


def _overlap(a_ci, b_ci) -> str:
    return "overlap" if a_ci[0] <= b_ci[1] and b_ci[0] <= a_ci[1] else "disjoint"


def _opponent(claim: dict, runs: dict[str, list[Run]], test_set: str, metric: str) -> str | None:
    """`best` claims: the strongest other model reporting the metric (by our seed-mean value);
    None when no other model of this run reports it."""
    def value(model):
        return float(np.mean([r.metrics[test_set][metric] for r in runs[model]]))

    others = [m for m in runs if m != claim["models"][0] and metric in runs[m][0].metrics.get(test_set, {})]
    return max(others, key=value) if others else None


def check_claims(claims: list[dict], table_cfg: dict, runs: dict[str, list[Run]],
                 paper: pd.DataFrame, n_boot: int, seed: int, classification: str = "macro") -> pd.DataFrame:
    cells = paper_cells(table_cfg)
    rows = []
    for claim in claims:
        if claim["kind"] in RELATIVE_KINDS:
            rows += check_relative_claim(claim, runs, n_boot, seed)
            continue
        test_set, metric = claim["metric"].split(".")
        same_metric = [cell for (_, source), cell in cells.items() if source == claim["metric"]]
        if metric not in CLAIM_METRICS or not same_metric:
            raise ConfigError(f"claim {claim['claim']!r}: metric {claim['metric']} is not a "
                              f"comparable column of {table_cfg['name']} (claims compare "
                              f"{sorted(CLAIM_METRICS)})")
        values = {m: _paper_value(paper, cells.get((m, claim["metric"]))) for m in claim["models"]}
        column = pd.Series([_paper_value(paper, cell) for cell in same_metric]).dropna()
        row = {"claim": claim["claim"], "source": claim.get("source", ""), "note": claim.get("note", ""),
               "paper": _paper_verdict(claim, values, column)}
        models = list(claim["models"])
        if claim["kind"] == "best" and models[0] in runs:
            opponent = _opponent(claim, runs, test_set, metric)
            if opponent is None:
                verdict = f"not comparable (no other model of this run reports {metric})"
                rows.append(row | {"verdict": verdict})
                continue
            models.append(opponent)
        missing = [m for m in models if m not in runs]
        if missing:
            rows.append(row | {"verdict": f"not run ({', '.join(missing)})"})
            continue
        column = metric if metric in PER_SAMPLE_METRICS else "prob"
        labels, a, b = aligned_probabilities(runs[models[0]], runs[models[1]], test_set, column)
        test = paired_test(labels, a, b, metric, n_boot=n_boot, seed=seed,
                           groups=sample_folds(runs[models[0]], test_set), classification=classification)
        rows.append(row | {
            "versus": models[1], "ours": test["a"], "theirs": test["b"], "diff": test["diff"],
            "low": test["low"], "high": test["high"], "p": test["p"],
            "intervals": _overlap(test["a_ci"], test["b_ci"]), "verdict": _verdict(claim["kind"], test),
        })
    return pd.DataFrame(rows)


def render_claims(checked: pd.DataFrame, title: str, data_kind: str, provenance: dict,
                  extra: list[str] = ()) -> str:
    """The claims file; `extra`: further sections (the paper's table checked against itself)."""
    kind_line = ("**Toy data**: these verdicts test the pipeline, not the paper."
                 if data_kind == "toy" else "**Real data**.")
    lines = [f"# Claims of the paper, checked: {title}", "", kind_line, "",
             "Run: " + ", ".join(f"{k} `{v}`" for k, v in provenance.items()), "",
             "*paper's table*: does the paper's own table support the sentence? *ours*: the "
             "claimed model's value vs the model it is compared with (for \"highest\": the "
             "strongest other model of this run). Δ: ours − theirs with its paired 95% "
             "bootstrap interval over test slices (images, for Dice) and two-sided p-value; "
             "*intervals*: whether the "
             "two models' own 95% intervals overlap. \"holds (significant)\" needs the paired "
             "interval to exclude 0.", "",
             "| # | claim | paper's table | ours vs | Δ [95% CI], p | intervals | verdict |",
             "|---|---|---|---|---|---|---|"]
    for i, row in enumerate(checked.to_dict("records"), 1):
        if "diff" in row and not pd.isna(row.get("diff")):
            versus = f"{row['ours']:.3f} vs {row['theirs']:.3f} ({row['versus']})"
            delta = f"{row['diff']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}], p = {row['p']:.3f}"
            overlap = row["intervals"]
        else:
            versus = delta = overlap = "·"
        note = f" *Note: {row['note']}*" if row.get("note") else ""
        lines.append(f"| {i} | {row['claim']} ({row['source']}){note} | {row['paper']} | {versus} | "
                     f"{delta} | {overlap} | **{row['verdict']}** |")
    held = checked["verdict"].str.startswith(("holds", "consistent")).sum()
    lines += ["", f"{held} of {len(checked)} claims hold in this run (\"no change\" claims: are "
              "consistent) as point estimates or better; "
              f"{checked['verdict'].eq('holds (significant)').sum()} with a paired interval "
              "excluding 0.", ""]
    return "\n".join([*lines, *extra])
