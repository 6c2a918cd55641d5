from __future__ import annotations

from pathlib import Path

import pytest

from medbench.studies.brain_ct.toy import ToyBrainCTConfig, generate

REPO = Path(__file__).resolve().parents[1]
STUDY_YAML = REPO / "config" / "studies" / "brain_ct.yaml"

# Small enough for seconds, large enough that every split has positives.
SMALL_TOY = {"matrix": 64, "patients_per_hospital": [10, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4],
             "slices_per_patient": [5, 7]}


@pytest.fixture(scope="session")
def toy_export(tmp_path_factory) -> Path:
    """A small toy brain-CT export (read-only for tests: copy it before damaging it)."""
    out = tmp_path_factory.mktemp("toy") / "brain_ct"
    generate(out, ToyBrainCTConfig.from_dict(SMALL_TOY))
    return out


@pytest.fixture(scope="session")
def toy_cache(toy_export, tmp_path_factory) -> Path:
    from medbench.studies.brain_ct.ingest import ingest

    out = tmp_path_factory.mktemp("cache") / "slices"
    ingest(toy_export / "manifest.csv", out, 32, {"center": 40, "width": 80})
    return out
