from __future__ import annotations

import shutil
import subprocess
import sys
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


@pytest.fixture
def export(toy_export, tmp_path) -> Path:
    """A copy of the toy brain-CT export that a test may damage."""
    dst = tmp_path / "export"
    shutil.copytree(toy_export, dst)
    return dst


WINDOW = {"center": 40, "width": 80}  # the toy's brain window (HU)


@pytest.fixture(scope="session")
def toy_cache(toy_export, tmp_path_factory) -> Path:
    from medbench.studies.brain_ct.ingest import ingest

    out = tmp_path_factory.mktemp("cache") / "slices"
    ingest(toy_export / "manifest.csv", out, 32, WINDOW)
    return out


SMOKE = ["--configfile", "config/smoke.yaml"]


def snakemake(workdir: Path, *args: str, configs: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`snakemake --cores 2 ARGS` on the smoke config (+ `configs`) in `workdir`."""
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args, *SMOKE, *configs]  # nargs="+" last
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    """A copy of the workflow that has run the whole smoke pipeline (the default target): every
    rule of every study, once per test session."""
    work = tmp_path_factory.mktemp("pipeline")
    for name in ("workflow", "config"):
        shutil.copytree(REPO / name, work / name)
    run = snakemake(work)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return work
