"""Result tables: the paper's rows and columns filled with our values, and a Markdown view
with ours beside the paper's and the difference.

A model that was not run leaves its row empty; no number is ever copied from the paper into
our columns. The Markdown says whether the run used toy or real data, adds a paired test of
every classifier against the configured baseline, and ends with the study's own sections.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from medbench.config import row_models, study_tables
from medbench.errors import ConfigError, DataError
from medbench.evaluate.bootstrap import paired_test
from medbench.report.runs import Run, aligned_probabilities, classifies, sample_folds


def table_columns(table_cfg: dict) -> dict[str, str]:
    """Column name -> "test_set.metric", in the paper's order."""
    return {col: src for section in table_cfg["sections"] for col, src in section["columns"].items()}


def cell_source(row: dict, column: str, source: str) -> tuple[str, str, str]:
    """(model, test set, metric) of one cell. A row names its `model`, or one model per column
    (`models`, hubmap: one per loss); a bare "metric" source takes the row's `test_set`."""
    model = row.get("models", {}).get(column, row.get("model") or "")
    test_set, metric = source.split(".") if "." in source else (row.get("test_set", ""), source)
    return model, test_set, metric


def model_labels(table_cfg: dict) -> dict[str, str]:
    """Model -> label for figures: its row's method, or "<name> · <column label>" per column."""
    labels = {}
    for row in table_cfg["rows"]:
        if row.get("model"):
            labels.setdefault(row["model"], row["method"])
        for section in table_cfg["sections"]:
            names = dict(zip(section["columns"], section.get("labels", section["columns"]), strict=True))
            for column, model in row.get("models", {}).items():
                labels.setdefault(model, f"{row.get('name', row['method'])} · {names.get(column, column)}")
    return labels


def study_model_labels(cfg: dict) -> dict[str, str]:
    """Model -> label over every table of the study: from the first table that has the model."""
    labels: dict[str, str] = {}
    for table in study_tables(cfg):
        labels = model_labels(table) | labels
    return labels


def read_paper_results(path: str | Path, columns: list[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: paper results table not found")
    paper = pd.read_csv(path, na_values=["-", ""], keep_default_na=False)
    missing = [c for c in ["method", *columns] if c not in paper.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}")
    return paper.set_index("method")


def _scale(table_cfg: dict, column: str) -> float:
    """100 for the columns the paper prints in percent (`percent:`), else 1."""
    return 100.0 if column in table_cfg.get("percent", ()) else 1.0


def _digits(table_cfg: dict, column: str) -> int:
    return 1 if column in table_cfg.get("percent", ()) else 3


def _values(runs, test_set: str, metric: str) -> list[float]:
    return [float(v) for run in runs if (v := run.metrics.get(test_set, {}).get(metric)) is not None]


FIDELITY = {"port": "port of {source}", "rebuilt": "rebuilt from {source}", "ours": "ours: {source}"}
NOT_PORTED = "†"  # marks a row's method in every section when it is not a port of public code


OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}


REQUIRED_SEPARATOR = "; from "  # a row's budget, then the run it starts from (`requires`)


def recipe_budget(recipe: dict) -> str:
    """A training recipe's budget as text: epochs, batches per epoch, batch size, optimiser (and
    the output layer's own rate, `head_lr_scale`)."""
    steps = f"{recipe['steps_per_epoch']} batches" if recipe.get("steps_per_epoch") else "1 pass"
    head = recipe.get("head_lr_scale", 1)
    return (f"{recipe['epochs']} epochs × {steps}, batch {recipe['batch_size']}, "
            f"{OPTIMIZERS[recipe['optimizer']['name']]} lr {recipe['lr']:g}"
            + (f" (output layer ×{head:g})" if head != 1 else ""))


def row_budgets(table_cfg: dict, recipes_of: Callable[[str], dict]) -> tuple[dict[str, str], dict[str, str]]:
    """(method -> its models' training budget, method -> the `recipe_note` saying where a budget
    comes from). `recipes_of(model)`: the model's recipe per fold or task ({fold: recipe}); a
    model that starts from another run (`requires`) names it with that run's budget."""
    def model_budget(model: str) -> str:
        recipes = recipes_of(model)
        texts = {fold: recipe_budget(r) for fold, r in recipes.items()}
        text = next(iter(texts.values())) if len(set(texts.values())) == 1 else \
            "; ".join(f"{fold}: {t}" for fold, t in texts.items())
        required = next(iter(recipes.values())).get("requires")
        return f"{text}{REQUIRED_SEPARATOR}{required} ({model_budget(required)})" if required else text

    budgets, notes = {}, {}
    for row in table_cfg["rows"]:
        texts = dict.fromkeys(model_budget(m) for m in row_models(row))
        budgets[row["method"]] = " / ".join(texts)
        notes[row["method"]] = next(iter(recipes_of(row_models(row)[0]).values())).get("recipe_note", "")
    return budgets, notes


def fidelity_text(row: dict) -> str:
    """How a row's model was built (`fidelity` of the row): a port of public code (named), rebuilt
    from a paper's description, or our design."""
    return FIDELITY[row["fidelity"]["kind"]].format(source=row["fidelity"]["source"])


def build_table(table_cfg: dict, runs_by_model: dict[str, list[Run]],
                budgets: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per paper row; our value (the mean over seeds) where the row's model was run, then
    how the row was built (`fidelity`) and, given `budgets` (method -> text), its training budget.

    With several seeds per model, `<column>_sd` columns hold the standard deviations.
    """
    columns = table_columns(table_cfg)
    several = any(len(runs) > 1 for runs in runs_by_model.values())
    rows = []
    for spec in table_cfg["rows"]:
        row = {"method": spec["method"], "model": " ".join(row_models(spec))}
        for col, src in columns.items():
            model, test_set, metric = cell_source(spec, col, src)
            scale = _scale(table_cfg, col)
            values = [v * scale for v in _values(runs_by_model.get(model, []), test_set, metric)]
            row[col] = round(float(np.mean(values)), 4) if values else math.nan
            if several:
                row[f"{col}_sd"] = round(float(np.std(values, ddof=1)), 4) if len(values) > 1 else math.nan
        if several:
            row["seeds"] = max((len(runs_by_model.get(m, [])) for m in row_models(spec)), default=0)
        row["fidelity"] = fidelity_text(spec)
        if budgets is not None:
            row["budget"] = budgets.get(spec["method"], "")
        rows.append(row)
    unknown = set(runs_by_model) - {m for spec in table_cfg["rows"] for m in row_models(spec)}
    if unknown:
        raise ConfigError(f"table {table_cfg['name']}: model(s) {sorted(unknown)} have no row")
    return pd.DataFrame(rows)


def interval_table(table_cfg: dict, runs_by_model: dict[str, list[Run]]) -> pd.DataFrame:
    """Like `build_table`, with each cell's 95% bootstrap interval "[low, high]" ("" if none,
    or if the model has several seeds: their spread is then shown as ± sd instead)."""
    rows = []
    for spec in table_cfg["rows"]:
        row = {"method": spec["method"]}
        for col, src in table_columns(table_cfg).items():
            model, test_set, metric = cell_source(spec, col, src)
            runs = runs_by_model.get(model, [])
            metrics = runs[0].metrics if len(runs) == 1 else {}
            low, high = (v * _scale(table_cfg, col) for v in
                         metrics.get(test_set, {}).get("ci", {}).get(metric, (math.nan, math.nan)))
            d = _digits(table_cfg, col)
            row[col] = "" if math.isnan(low) else f"[{low:.{d}f}, {high:.{d}f}]"
        rows.append(row)
    return pd.DataFrame(rows)


def paired_tests(table_cfg: dict, runs_by_model: dict[str, list[Run]], n_boot: int,
                 seed: int, classification: str = "macro") -> pd.DataFrame:
    """Each classifier's metric minus the baseline's on the same test slices (paired bootstrap)."""
    spec = table_cfg["paired_test"]
    baseline, metric = spec["baseline"], spec["metric"]
    if baseline not in runs_by_model:
        return pd.DataFrame()
    rows = []
    for row in table_cfg["rows"]:
        model = row.get("model")
        if model == baseline or model not in runs_by_model or not classifies(runs_by_model[model]):
            continue
        for test_set in spec["test_sets"]:
            labels, ours, base = aligned_probabilities(runs_by_model[model], runs_by_model[baseline],
                                                       test_set)
            result = paired_test(labels, ours, base, metric, n_boot=n_boot, seed=seed,
                                 groups=sample_folds(runs_by_model[model], test_set),
                                 classification=classification)
            rows.append({"method": row["method"], "test_set": test_set,
                         **{k: result[k] for k in ("diff", "low", "high", "p")}})
    return pd.DataFrame(rows)


def _cell(ours: float, paper: float, spread: str = "", digits: int = 3) -> str:
    ours_s = "" if math.isnan(ours) else f"{ours:.{digits}f}"
    paper_s = "—" if math.isnan(paper) else f"{paper:.{digits}f}"
    if not ours_s:
        return f"· / {paper_s}"
    delta = "" if math.isnan(paper) else f" ({ours - paper:+.{digits}f})"
    if spread.startswith("±"):
        return f"**{ours_s} {spread}** / {paper_s}{delta}"
    spread = f" {spread}" if spread else ""
    return f"**{ours_s}**{spread} / {paper_s}{delta}"


def _spread(ours: pd.DataFrame, intervals: pd.DataFrame | None, i: int, col: str, digits: int = 3) -> str:
    """"± sd" over seeds where the table has them, else the bootstrap interval (or "")."""
    sd = ours.loc[i, f"{col}_sd"] if f"{col}_sd" in ours else math.nan
    if not math.isnan(sd):
        return f"± {sd:.{digits}f}"
    return "" if intervals is None else intervals.loc[i, col]


def _paired_section(table_cfg: dict, tests: pd.DataFrame) -> list[str]:
    spec = table_cfg["paired_test"]
    baseline = next(r["method"] for r in table_cfg["rows"] if r.get("model") == spec["baseline"])
    lines = [f"## Paired test: {spec['metric']} against {baseline}", "",
             f"{spec['metric']}(model) − {spec['metric']}(baseline) on the same test slices; 95% "
             "paired bootstrap interval; two-sided bootstrap p-value (not corrected for "
             "multiple comparisons). With several seeds, each resample compares seed means.", "",
             "| Method | " + " | ".join(spec["test_sets"]) + " |", "|---|" + "---|" * len(spec["test_sets"])]
    for method, group in tests.groupby("method", sort=False):
        cells = {r.test_set: f"{r.diff:+.3f} [{r.low:+.3f}, {r.high:+.3f}], p = {r.p:.3f}"
                 for r in group.itertuples()}
        lines.append(f"| {method} | " + " | ".join(cells.get(t, "") for t in spec["test_sets"]) + " |")
    return [*lines, ""]


def _rows_section(table_cfg: dict, ours: pd.DataFrame, notes: dict[str, str]) -> list[str]:
    """Every row's fidelity and budget; a budget unlike the table's usual one carries its reason."""
    lines = ["## Rows: how each was built and trained", "",
             f"{NOT_PORTED}: not a port of public code (rebuilt from a paper's description, or ours).", ""]
    budgets = ours["budget"] if "budget" in ours else pd.Series("", index=ours.index)
    own = _own_budgets(budgets)
    usual = own[own != ""].mode()
    lines += ["| Method | Built from | Training budget |", "|---|---|---|"]
    for i, row in ours.iterrows():
        budget = budgets[i]
        if budget and len(usual) and own[i] != usual.iloc[0]:
            budget += f" (differs: {notes.get(row['method']) or 'no reason given in the study YAML'})"
        lines.append(f"| {_method(table_cfg, row['method'])} | {row['fidelity']} | {budget or '·'} |")
    return [*lines, ""]


def _method(table_cfg: dict, method: str) -> str:
    spec = next(r for r in table_cfg["rows"] if r["method"] == method)
    return method if spec["fidelity"]["kind"] == "port" else f"{method} {NOT_PORTED}"


def _own_budgets(budgets: pd.Series) -> pd.Series:
    """Each row's own training budget, without the run it starts from (`; from <run> (...)`),
    which is a row of its own."""
    return budgets.str.split(REQUIRED_SEPARATOR, regex=False).str[0]


def budget_line(ours: pd.DataFrame) -> str:
    """The run line's budget: the one every row shares (a row's own training, not the run it
    starts from), or the most common one."""
    budgets = _own_budgets(ours["budget"][ours["budget"] != ""]) if "budget" in ours \
        else pd.Series(dtype=str)
    if budgets.empty:
        return ""
    if budgets.nunique() == 1:
        return f"budget of every row `{budgets.iloc[0]}`"
    usual = budgets.mode().iloc[0]
    return f"budget `{usual}` ({(budgets != usual).sum()} row(s) differ: see Rows)"


def render_markdown(table_cfg: dict, ours: pd.DataFrame, paper: pd.DataFrame, data_kind: str,
                    provenance: dict, intervals: pd.DataFrame | None = None,
                    tests: pd.DataFrame | None = None, extra: list[str] = (),
                    budget_notes: dict[str, str] | None = None) -> str:
    """The table's Markdown: title, caption, the run (data kind, provenance, budget), every
    section beside the paper, how each row was built and trained (`budget_notes`: method -> why
    its budget differs), the paired tests; `extra`: the study's own sections (lines) at the end."""
    kind_line = (
        "**Toy data** (synthetic data in the real format, from `medbench toy`): these numbers check "
        "that the pipeline runs and learns; they are not comparable with the paper's."
        if data_kind == "toy" else "**Real data**: the published protocol on the configured dataset."
    )
    budget = budget_line(ours)
    lines = [f"# {table_cfg['title']}", "", *([table_cfg["caption"], ""] if table_cfg.get("caption") else []),
             kind_line, "",
             "Each cell: **ours** [95% bootstrap interval over test slices or images] / paper "
             "(ours − paper); "
             "with several training seeds **mean ± sd** over seeds. `·`: not run here; "
             "`—`: not reported.", "",
             "Run: " + ", ".join([*(f"{k} `{v}`" for k, v in provenance.items()), *[budget][:bool(budget)]]),
             ""]
    for section in table_cfg["sections"]:
        cols = list(section["columns"])
        lines += [f"## {section['title']}", "",
                  "| Method | " + " | ".join(section.get("labels", cols)) + " |",
                  "|---|" + "---|" * len(cols)]
        for i, row in ours.iterrows():
            paper_row = paper.loc[row["method"]] if row["method"] in paper.index else None
            cells = [_cell(row[c], math.nan if paper_row is None else float(paper_row[c]),
                           _spread(ours, intervals, i, c, _digits(table_cfg, c)), _digits(table_cfg, c))
                     for c in cols]
            if all(c.startswith("· / —") for c in cells):
                continue  # the paper reports nothing here and we ran nothing
            lines.append(f"| {_method(table_cfg, row['method'])} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += _rows_section(table_cfg, ours, budget_notes or {})
    if tests is not None and len(tests):
        lines += _paired_section(table_cfg, tests)
    return "\n".join([*lines, *extra])


def provenance(cfg: dict, protocol: str, runs_by_model: dict[str, list[Run]]) -> dict:
    seeds = sorted({run.seed for runs in runs_by_model.values() for run in runs})
    return {"study": cfg["study"], "protocol": protocol, "split seed": cfg["seed"],
            "training seeds": ", ".join(map(str, seeds)), "image_size": cfg["data"]["image_size"]}
