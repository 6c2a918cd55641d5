"""Where the bus study keeps its prepared data, and the names its split uses (no heavy imports:
the Snakefile loads the study to read its schema)."""

from __future__ import annotations

from pathlib import Path

# where the toy generator writes each dataset (a `raw` key) under its root: the real folder names
TOY_LAYOUT = {"busi": "Dataset_BUSI_with_GT", "busis": "BUSIS", "dataset_b": "DatasetB", "hmss": "HMSS",
              "hmss_masks": "HMSS/masks_private"}
TEST_SETS = ("test",)  # each fold's test images; every image is tested once over the folds


def cache_dir(data_dir) -> Path:
    """The ingested images and masks with their index (`medbench prepare ingest`)."""
    return Path(data_dir) / "images"


def splits_file(data_dir) -> Path:
    return Path(data_dir) / "splits.csv"


def leakage_file(data_dir) -> Path:
    return Path(data_dir) / "leakage.csv"
