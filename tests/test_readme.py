"""Every command the README gives is run by a test, as written:

- `snakemake ...`: planned (`-n`) in a copy of the smoke pipeline's work folder, where
  config/paper.yaml points at the toy exports (written in the real formats) instead of /path/to;
  `snakemake --report` is built for real;
- `medbench ...` and the benchmarks: run (the benchmarks at a tiny size);
- `dvc ...` and the SLURM profile: run on the real engines by CI (.ci/entry_points.sh), and
  `pytest`, `ruff`, `pip install` by .ci/run -- the test checks that those scripts run them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml

from .conftest import REPO

README = REPO / "README.md"
CI_SCRIPTS = (REPO / ".ci" / "run", REPO / ".ci" / "entry_points.sh")
PROGRAMS = ("snakemake", "medbench", "dvc", "pytest", "ruff", "pip", "python")
# the benchmarks' own arguments that make a run take seconds (the README gives the full size)
TINY_BENCHMARKS = {"benchmarks/vahadane.py": ["--size", "96", "--repeats", "1"],
                   "benchmarks/interval_coverage.py": ["--simulations", "40"]}


def readme_commands() -> list[str]:
    """The commands of the README: every line of its bash blocks and every inline code span
    that starts with a program the project uses, split at `&&`, comments removed."""
    text = README.read_text()
    blocks = [line for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
              for line in block.splitlines()]
    fragments = list(blocks)
    fragments += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    commands = []
    for fragment in fragments:
        for part in fragment.split("&&"):
            command = part.split(" #")[0].strip()
            if command.split(" ")[0] in PROGRAMS and (len(command.split()) > 1 or fragment in blocks):
                commands.append(command)  # a bare name in the text is not a command
    return sorted(set(commands))


COMMANDS = readme_commands()


def by_program(*programs: str) -> list[str]:
    return [c for c in COMMANDS if c.split()[0] in programs]


def test_the_readme_gives_the_commands_users_run():
    assert "snakemake --cores 8 results/table1.csv" in COMMANDS
    assert any(c.startswith("snakemake --profile workflow/profiles/slurm") for c in COMMANDS)
    assert "dvc repro" in COMMANDS and "pytest" in COMMANDS


@pytest.fixture(scope="module")
def real_data_workdir(workdir, tmp_path_factory) -> Path:
    """The workflow with config/paper.yaml's /path/to placeholders replaced by the toy exports of
    the smoke run (the real on-disk formats): what a user's config looks like once filled in."""
    work = tmp_path_factory.mktemp("readme")
    for name in ("workflow", "config"):
        shutil.copytree(workdir / name, work / name)
    (work / "data").mkdir()
    (work / "data" / "raw").symlink_to(workdir / "data" / "raw")
    toy = yaml.safe_load((work / "config" / "config.yaml").read_text())
    paper_file = work / "config" / "paper.yaml"
    paper = paper_file.read_text()
    for study, section in yaml.safe_load(paper).items():
        if isinstance(section, dict) and isinstance(section.get("raw"), dict):
            for key, path in section["raw"].items():
                if path:
                    paper = paper.replace(f" {path}\n", f" {toy[study]['raw'][key]}\n")
    assert "/path/to" not in paper
    paper_file.write_text(paper)
    return work


def _dry_run(command: str, work: Path) -> subprocess.CompletedProcess:
    args = shlex.split(command)[1:]
    env = dict(os.environ)
    if "--profile" in args:  # no SLURM here: plan the jobs the profile would submit
        env |= {"MEDBENCH_SLURM_GPUS": "1"}
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", *args], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c in by_program("snakemake") if "--report" not in c
                                     and "--lint" not in c])
def test_snakemake_commands_plan(command, workdir, real_data_workdir):
    if "--profile" in command and shutil.which("sinfo") is None:
        pytest.skip("the SLURM executor needs a SLURM client (CI runs this profile on a real cluster)")
    work = real_data_workdir if "paper.yaml" in command else workdir
    run = _dry_run(command, work)
    assert run.returncode == 0, f"{command}\n{run.stdout[-2000:]}{run.stderr[-3000:]}"
    for target in (a for a in shlex.split(command)[1:] if a.startswith("results/")):
        # planned (or built already), not read as a second config file
        assert target in run.stdout or "Nothing to be done" in run.stdout + run.stderr, run.stdout[-2000:]
    if "paper.yaml" in command:  # the published protocol on the (fake) real export
        assert "_toy" not in run.stdout and "data_kind" not in run.stderr, run.stdout[-2000:]


@pytest.mark.slow
def test_report_command_builds_the_report(workdir):
    (report,) = [c for c in by_program("snakemake") if "--report" in c]
    run = subprocess.run([sys.executable, "-m", *shlex.split(report)], cwd=workdir,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (workdir / shlex.split(report)[-1]).stat().st_size > 100_000


@pytest.mark.slow  # a CLI process each, importing torch and the study: 5-7 s apiece
@pytest.mark.parametrize("command", by_program("medbench"))
def test_medbench_commands_run(command):
    words = shlex.split(command)[1:]
    run = subprocess.run([sys.executable, "-m", "medbench.cli", *words],
                         capture_output=True, text=True, timeout=300)
    if run.returncode == 2 and "the following arguments are required" in run.stderr:
        # a verb the text names (`medbench prepare ingest`): the verb and its step exist
        run = subprocess.run([sys.executable, "-m", "medbench.cli", words[0], "--help"],
                             capture_output=True, text=True, timeout=300)
        assert all(word in run.stdout for word in words[1:]), run.stdout
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip()


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c in by_program("python") if "benchmarks/" in c])
def test_benchmark_commands_run_at_a_tiny_size(command, tmp_path):
    args = shlex.split(command)[1:]
    script = args[0]
    options = [a for a in args[1:] if a.startswith("--") and a not in {"--tiffs"}]
    assert all(o in TINY_BENCHMARKS[script] or o == "--help" for o in options), options
    extra = []
    if "--tiffs" in args:  # a folder of real stained TIFFs: one RGBA tile stands in for them
        tile = np.random.default_rng(0).integers(60, 250, (120, 100, 4), dtype=np.uint8)
        tifffile.imwrite(tmp_path / "10044.tiff", tile, photometric="rgb")
        extra = ["--tiffs", str(tmp_path)]
    run = subprocess.run([sys.executable, script, *TINY_BENCHMARKS[script], *extra], cwd=REPO,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    if extra:
        assert "tiff 10044" in run.stdout


@pytest.mark.parametrize("command", by_program("dvc", "pytest", "ruff", "pip")
                         + [c for c in by_program("snakemake") if "--lint" in c or "--profile" in c])
def test_ci_runs_the_remaining_commands_on_the_real_engines(command):
    scripts = "\n".join(path.read_text() for path in CI_SCRIPTS)
    words = [w for w in shlex.split(command) if not w.startswith(("/path/", "results/", "--configfile"))]
    if words[0] == "pip":  # .ci/run installs with the interpreter's pip
        words = ["pip", "install"]
    assert " ".join(words) in re.sub(r"\s*\\\n\s*", " ", scripts), f"no CI script runs `{command}`"
