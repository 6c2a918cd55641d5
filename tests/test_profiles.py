"""The Snakemake profiles as shipped: every rule they name exists, the SLURM profile asks for a
GPU where the README says, reads job status with squeue, and its settings follow the environment."""

from __future__ import annotations

import subprocess
import sys

import pytest
from snakemake.profiles import ProfileConfigFileParser

from .conftest import REPO

PROFILES = sorted((REPO / "workflow" / "profiles").glob("*/config.yaml"))


def parsed(path, monkeypatch, **env) -> dict:
    for key in ("MEDBENCH_SLURM_GPUS", "MEDBENCH_SLURM_CPUS", "MEDBENCH_SLURM_PARTITION",
                "MEDBENCH_SLURM_GPU_PARTITION", "MEDBENCH_SLURM_ACCOUNT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with open(path) as stream:
        return dict(ProfileConfigFileParser().parse(stream))


@pytest.fixture(scope="module")
def known_rules() -> set[str]:
    run = subprocess.run([sys.executable, "-m", "snakemake", "--list-rules"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return set(run.stdout.split())


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.parent.name)
def test_profiles_name_only_rules_that_exist(profile, known_rules, monkeypatch):
    settings = parsed(profile, monkeypatch)
    named = {entry.split("=")[0] for entry in settings.get("set-threads", [])}
    named |= {entry.split(":")[0] for entry in settings.get("set-resources", [])}
    assert named <= known_rules, f"{profile}: no such rule(s) {sorted(named - known_rules)}"
    assert "cores" not in settings or profile.parent.name != "default"  # --cores from the command line


def test_slurm_profile_asks_training_for_a_gpu_and_polls_squeue(monkeypatch):
    slurm = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"
    settings = parsed(slurm, monkeypatch)
    assert settings["executor"] == "slurm" and settings["slurm-status-command"] == "squeue"
    resources = set(settings["set-resources"])
    for rule in ("train", "predict"):
        assert {f"{rule}:gpu=1", f"{rule}:slurm_partition=gpu"} <= resources
    assert set(settings["set-threads"]) == {"train=8", "predict=8"}
    # other jobs go to the cluster's default partition
    assert not any(r.startswith("slurm_partition") for r in settings["default-resources"])
    cpu = parsed(slurm, monkeypatch, MEDBENCH_SLURM_GPUS="0", MEDBENCH_SLURM_CPUS="2",
                 MEDBENCH_SLURM_PARTITION="debug", MEDBENCH_SLURM_ACCOUNT="lab")
    assert not any(":gpu=" in r for r in cpu["set-resources"])
    assert {"train:slurm_partition=debug", "predict:slurm_partition=debug"} <= set(cpu["set-resources"])
    assert {"slurm_partition=debug", "slurm_account=lab"} <= set(cpu["default-resources"])
    assert set(cpu["set-threads"]) == {"train=2", "predict=2"}
