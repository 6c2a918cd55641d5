"""A study added without touching a shared file: a module, a YAML and a rules file in a test
fixture folder, whose table the generic rules build through Snakemake."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow
FIXTURE = Path(__file__).parent / "fixtures" / "tiny_study"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("plugin")
    for name in ("workflow", "config"):
        shutil.copytree(REPO / name, work / name)
    shutil.copytree(FIXTURE, work / "tiny_study")
    return work


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(workdir / "tiny_study"),
                                                         os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args,
           "--configfile", "config/smoke.yaml", "tiny_study/run.yaml"]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)


def test_a_plugin_studys_table_comes_from_the_generic_rules(workdir):
    run = snakemake(workdir, "results/tiny_table.csv", "results/tiny_table_claims.md",
                    "results/figures/tiny_table/roc.png", "results/figures/tiny_table/curves.png")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", run.stderr, flags=re.MULTILINE))  # the job stats
    assert stats == {"tiny_toy": "1", "tiny_split": "1", "train": "2", "predict": "2", "evaluate": "2",
                     "table": "1", "claims": "1", "figure": "2", "total": "12"}
    table = pd.read_csv(workdir / "results" / "tiny_table.csv").set_index("model")
    assert table[["acc", "auc"]].notna().all().all() and table["auc"].between(0, 1).all()
    md = (workdir / "results" / "tiny_table.md").read_text()
    assert "| Tiny CNN † | **" in md and "/ 0.950 (" in md  # ours beside the fixture's "paper"
    assert "| Tiny CNN † | ours: a test fixture | 2 epochs × 1 pass" in md  # how the row was built
    claims = (workdir / "results" / "tiny_table_claims.md").read_text()
    assert "The wider CNN has the higher AUC" in claims
    for name in ("roc", "curves"):
        assert (workdir / "results" / "figures" / "tiny_table" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert (workdir / "runs" / "tiny" / "paper" / "seed0" / "tiny_cnn" / "predictions" / "test.csv").is_file()
