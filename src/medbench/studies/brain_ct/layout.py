"""Where the brain_ct study keeps its prepared data, and the names its split uses (no heavy
imports: the Snakefile loads the study to read its schema)."""

from __future__ import annotations

from pathlib import Path

from medbench.errors import ConfigError

# the split protocols make_split implements (the study YAML's `protocols` picks among them)
PROTOCOLS = ("paper", "patient_disjoint")
TEST_SETS = ("test_h1_4", "test_h5_11")


def slices_dir(data_dir) -> Path:
    """The slice cache (`medbench prepare ingest`)."""
    return Path(data_dir) / "slices"


def splits_file(data_dir) -> Path:
    return Path(data_dir) / "splits.csv"


def leakage_file(data_dir) -> Path:
    return Path(data_dir) / "leakage.csv"


def manifest(cfg: dict) -> Path:
    """The export's manifest CSV (the run config's `brain_ct.raw.manifest`)."""
    path = (cfg.get("raw") or {}).get("manifest")
    if not path:
        raise ConfigError("brain_ct: no raw.manifest; give the manifest CSV of your export in the "
                          "run config (brain_ct.raw.manifest)")
    return Path(path)
