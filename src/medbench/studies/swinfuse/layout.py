"""Where the swinfuse study keeps its prepared data, and its test sets (no heavy imports: the
Snakefile loads the study to read its schema)."""

from __future__ import annotations

from pathlib import Path

# where the toy generator writes each dataset (a `raw` key) under its root: the real folder names
TOY_LAYOUT = {"synthrad": "synthrad2023/Task1/brain", "brats21": "brats2021",
              "brats21_folds": "brats2021/brats21_folds.json", "msd01": "msd/Task01_BrainTumour",
              "msd10": "msd/Task10_Colon"}
# the downstream tasks: each fine-tuned network is tested on its task's test cases
TEST_SETS = ("brats21", "msd01", "msd10")


def volumes_file(data_dir) -> Path:
    """Every validated volume (`medbench prepare ingest`)."""
    return Path(data_dir) / "volumes.csv"


def overlap_file(data_dir) -> Path:
    return Path(data_dir) / "overlap.csv"


def splits_file(data_dir) -> Path:
    return Path(data_dir) / "splits.csv"


def leakage_file(data_dir) -> Path:
    """Pre-training validation patients with a training volume: ours vs the released code's split."""
    return Path(data_dir) / "pretrain_leakage.csv"
