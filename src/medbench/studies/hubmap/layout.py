"""Where the hubmap study keeps its prepared data, and the names its split uses (no heavy
imports: the Snakefile loads the study to read its schema)."""

from __future__ import annotations

from pathlib import Path

from medbench.errors import ConfigError

# the rebuilt Kaggle boards: "[Pub] HuBMAP+HPA" and "[Priv] HuBMAP" (see splits.py)
EVALUATION_SETS = ("test_pub", "test_priv")
# the split table's `source` of each export
SOURCES = ("training", "evaluation")
# where the toy generator writes each export (a `raw` key) under its root: HPA trains, HuBMAP evaluates
TOY_LAYOUT = {"training_export": "hpa", "evaluation_export": "hubmap"}


def splits_file(data_dir) -> Path:
    return Path(data_dir) / "splits.csv"


def stain_target_file(data_dir) -> Path:
    """Vahadane fitted once on the stain target image (`medbench prepare stain-target`)."""
    return Path(data_dir) / "stain_target.npz"


def cache_dir(data_dir) -> Path:
    """One preprocessed image per file: `<cache>/<source>/<id>.npz` (`medbench prepare preprocess`)."""
    return Path(data_dir) / "images"


def exports(cfg: dict) -> dict[str, Path]:
    """The Kaggle-format exports by split-table `source` (the run config's `hubmap.raw`)."""
    raw = cfg.get("raw") or {}
    keys = {"training": "training_export", "evaluation": "evaluation_export"}
    missing = [key for key in keys.values() if not raw.get(key)]
    if missing:
        raise ConfigError(f"hubmap: no raw.{' / raw.'.join(missing)}; give the Kaggle-format exports "
                          "(train.csv + train_images/) in the run config (hubmap.raw)")
    return {source: Path(raw[key]) for source, key in keys.items()}
