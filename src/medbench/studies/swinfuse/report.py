"""swinfuse's notes under Table 5: in- or out-of-distribution per cell, the evaluation protocol,
the downstream cohorts' overlap and the pre-training split's leakage."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from medbench.config import model_config, required_models, row_models


def pretraining_modalities(cfg: dict, model: str) -> list[str]:
    """The modalities a row's encoder was pre-trained on, through its `requires` chain ([]: scratch)."""
    seen: list[str] = []
    required = model_config(cfg, model).get("requires")
    while required:
        recipe = model_config(cfg, required)
        seen += [m for m in recipe.get("model_args", {}).get("modalities", []) if m not in seen]
        required = recipe.get("requires")
    return seen


def pretraining_lines(cfg: dict, runs: dict) -> list[str]:
    """A line per pre-training run behind the table's rows: its final validation losses and
    the collapse monitor (mean pairwise cosine of the contrastive embeddings, and of the two
    views of one crop), read from the run's metrics.csv beside the rows' runs."""
    from medbench.train.ssl import COLLAPSED  # the trainer's own threshold

    seed_dirs = sorted({run.directory.parent for found in runs.values() for run in found})
    rows = []
    for seed_dir in seed_dirs:
        for model in required_models(cfg, runs):
            path = seed_dir / model / "metrics.csv"
            if not path.is_file():
                continue
            last = pd.read_csv(path).iloc[-1]
            cosine, positive = last.get("val_cos_mean", float("nan")), last.get("val_cos_pos", float("nan"))
            verdict = "**collapsed**" if cosine > COLLAPSED else "not collapsed"
            rows.append(f"| {model} | {seed_dir.name} | {int(last['epoch'])} | {last['val_rec']:.4f} | "
                        f"{last['val_contrast']:.4f} | {cosine:.3f} | {positive:.3f} | {verdict} |")
    if not rows:
        return []
    return ["", "## Pre-training runs: did the contrastive embeddings collapse?", "",
            "Final epoch of each pre-training run, on the validation crops (the same views every epoch): "
            "reconstruction L1 (selects the checkpoint), NT-Xent, and the mean cosine between the "
            "contrastive embeddings of all crops and of the two views of one crop. A mean near 1 means "
            f"every crop is embedded alike (collapsed: > {COLLAPSED}); the NT-Xent term then has "
            "no gradient and teaches the encoder nothing.", "",
            "| run | seed | epochs | val rec L1 | val NT-Xent | mean pairwise cosine | positive pairs | |",
            "|---|---|---|---|---|---|---|---|", *rows]


def distribution(cfg: dict, model: str, task: str) -> str:
    """ID if the task's modality was seen in pre-training, OOD if not, '—' without pre-training."""
    modalities = pretraining_modalities(cfg, model)
    if not modalities:
        return "—"
    return "ID" if cfg["tasks"][task]["modality"] in modalities else "OOD"


def distribution_table(cfg: dict, table_cfg: dict) -> pd.DataFrame:
    rows = []
    for row in table_cfg["rows"]:
        model = next(iter(row_models(row)))
        rows.append(
            {
                "method": row["method"],
                "pre-training": "+".join(pretraining_modalities(cfg, model)) or "none",
                **{
                    f"{task} ({spec['modality']})": distribution(cfg, model, task)
                    for task, spec in cfg["tasks"].items()
                },
            }
        )
    return pd.DataFrame(rows)


def _markdown(frame: pd.DataFrame) -> list[str]:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    return lines + ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]


def table_notes(cfg: dict, data_dir, overlap_path: Path, leakage_path: Path) -> list[str]:
    table_cfg = cfg["tables"][0] if "tables" in cfg else cfg["table"]
    lines = [
        "## In- or out-of-distribution",
        "",
        "A cell is in-distribution (ID) when its task's modality was in the row's pre-training data.",
        "",
        *_markdown(distribution_table(cfg, table_cfg)),
        "",
        "## Protocol",
        "",
        "- Dice per case on each task's **test** split; the model is selected on a separate validation "
        "split, whose best Dice is the `*_bestval` section (no test result). The released scripts "
        "select the best epoch on the held-out fold and report that fold's Dice: selection and report "
        "on one set, optimistic by construction.",
        "- Channels with an empty ground truth are left out (MONAI `ignore_empty`); `brats21_mean` is "
        "the mean of a case's TC, WT and ET, then over cases.",
        "- Paper: no results table is available (abstract only); the claims check the abstract's "
        "sentences on this run.",
    ]
    if overlap_path.is_file():
        shared = pd.read_csv(overlap_path)
        lines.append(
            f"- {len(shared)} MSD Task01 case(s) have the voxels of a BraTS 2021 case (`overlap.csv`): "
            "the two MR test sets are not independent cohorts."
        )
    if leakage_path.is_file():
        lines += ["", "## Pre-training split", "", *_markdown(pd.read_csv(leakage_path))]
    return lines
