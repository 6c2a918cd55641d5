"""Result tables: the paper's rows and columns filled with our values, and a Markdown view
with ours beside the paper's and the difference.

A model that was not run leaves its row empty; no number is ever copied from the paper into
our columns. The Markdown says whether the run used toy or real data.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from medbench.errors import ConfigError, DataError


def table_columns(table_cfg: dict) -> dict[str, str]:
    """Column name -> "test_set.metric", in the paper's order."""
    return {col: src for section in table_cfg["sections"] for col, src in section["columns"].items()}


def read_paper_results(path: str | Path, columns: list[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: paper results table not found")
    paper = pd.read_csv(path, na_values=["-", ""], keep_default_na=False)
    missing = [c for c in ["method", *columns] if c not in paper.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}")
    return paper.set_index("method")


def build_table(table_cfg: dict, metrics_by_model: dict[str, dict]) -> pd.DataFrame:
    """One row per paper row; our metric values where the row's model was run."""
    columns = table_columns(table_cfg)
    rows = []
    for spec in table_cfg["rows"]:
        row = {"method": spec["method"], "model": spec.get("model") or ""}
        metrics = metrics_by_model.get(row["model"])
        for col, src in columns.items():
            test_set, metric = src.split(".")
            value = (metrics or {}).get(test_set, {}).get(metric)
            row[col] = round(float(value), 4) if value is not None else math.nan
        rows.append(row)
    unknown = set(metrics_by_model) - {r["model"] for r in rows}
    if unknown:
        raise ConfigError(f"table {table_cfg['name']}: model(s) {sorted(unknown)} have no row")
    return pd.DataFrame(rows)


def interval_table(table_cfg: dict, metrics_by_model: dict[str, dict]) -> pd.DataFrame:
    """Like `build_table`, with each cell's 95% bootstrap interval "[low, high]" ("" if none)."""
    rows = []
    for spec in table_cfg["rows"]:
        metrics = metrics_by_model.get(spec.get("model") or "", {})
        row = {"method": spec["method"]}
        for col, src in table_columns(table_cfg).items():
            test_set, metric = src.split(".")
            low, high = metrics.get(test_set, {}).get("ci", {}).get(metric, (math.nan, math.nan))
            row[col] = "" if math.isnan(low) else f"[{low:.3f}, {high:.3f}]"
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(ours: float, paper: float, interval: str = "") -> str:
    ours_s = "" if math.isnan(ours) else f"{ours:.3f}"
    paper_s = "—" if math.isnan(paper) else f"{paper:.3f}"
    if not ours_s:
        return f"· / {paper_s}"
    delta = "" if math.isnan(paper) else f" ({ours - paper:+.3f})"
    interval = f" {interval}" if interval else ""
    return f"**{ours_s}**{interval} / {paper_s}{delta}"


def render_markdown(table_cfg: dict, ours: pd.DataFrame, paper: pd.DataFrame, data_kind: str,
                    provenance: dict, intervals: pd.DataFrame | None = None) -> str:
    kind_line = (
        "**Toy data** (synthetic DICOM export from `medbench toy`): these numbers check that the "
        "pipeline runs and learns; they are not comparable with the paper's."
        if data_kind == "toy" else "**Real data**: the published protocol on the configured dataset."
    )
    lines = [f"# {table_cfg['title']}", "", kind_line, "",
             "Each cell: **ours** [95% bootstrap interval over test slices] / paper (ours − paper). "
             "`·`: not run here; `—`: not reported.", "",
             "Run: " + ", ".join(f"{k} `{v}`" for k, v in provenance.items()), ""]
    for section in table_cfg["sections"]:
        cols = list(section["columns"])
        lines += [f"## {section['title']}", "",
                  "| Method | " + " | ".join(section.get("labels", cols)) + " |",
                  "|---|" + "---|" * len(cols)]
        for i, row in ours.iterrows():
            paper_row = paper.loc[row["method"]] if row["method"] in paper.index else None
            cells = [_cell(row[c], math.nan if paper_row is None else float(paper_row[c]),
                           "" if intervals is None else intervals.loc[i, c]) for c in cols]
            if all(c.startswith("· / —") for c in cells):
                continue  # the paper reports nothing here and we ran nothing
            lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def load_metrics(paths: list[str | Path]) -> dict[str, dict]:
    """Model name (the run directory's name) -> its metrics.json content."""
    out = {}
    for path in map(Path, paths):
        try:
            out[path.parent.name] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: unreadable metrics file ({exc})") from exc
    return out


def provenance(cfg: dict, protocol: str) -> dict:
    return {"study": cfg["study"], "protocol": protocol, "seed": cfg["seed"],
            "image_size": cfg["data"]["image_size"]}
