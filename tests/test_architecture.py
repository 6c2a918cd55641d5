"""The package's shape: shared layers import only layers before them (data -> models -> train ->
evaluate -> report), never a study; a study imports shared layers and itself, never another
study; no module grows past 400 lines; 2-D jobs do not import MONAI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "medbench"
LAYERS = ("data", "models", "train", "evaluate", "report")
# bottom modules every layer may use; they use no layer (config: the study registry, to read a
# study's schema)
NEUTRAL = ("checkpoint", "config", "device", "errors", "fileio", "metrics", "progress", "seeding")


def modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def medbench_imports(path: Path) -> set[str]:
    """Every `medbench.<...>` module a file imports (at any depth of the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "medbench" or name.startswith("medbench.")}


def part(module: str, depth: int = 1) -> str:
    return ".".join(module.split(".")[depth:depth + 1])


@pytest.mark.parametrize("layer", LAYERS)
def test_a_shared_layer_imports_only_earlier_layers_and_no_study(layer):
    allowed = {*LAYERS[:LAYERS.index(layer) + 1], *NEUTRAL}
    wrong = {f"{path.relative_to(PACKAGE)}: {name}" for path in modules(PACKAGE / layer)
             for name in medbench_imports(path) if part(name) not in allowed}
    assert not wrong, sorted(wrong)


def test_neutral_modules_import_no_layer():
    wrong = {f"{name}.py: {imported}" for name in NEUTRAL
             for imported in medbench_imports(PACKAGE / f"{name}.py")
             if part(imported) not in NEUTRAL and imported != "medbench.studies"}
    assert not wrong, sorted(wrong)


def test_a_study_imports_shared_layers_and_itself_only():
    studies = PACKAGE / "studies"
    wrong = set()
    for folder in (p for p in studies.iterdir() if (p / "__init__.py").is_file()):
        for path in modules(folder):
            for name in medbench_imports(path):
                other_study = part(name) == "studies" and part(name, 2) not in ("", "study", folder.name)
                if other_study or part(name) == "cli":
                    wrong.add(f"{path.relative_to(PACKAGE)}: {name}")
    assert not wrong, sorted(wrong)


def test_no_module_over_400_lines():
    lines = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in modules(PACKAGE)}
    long = {name: n for name, n in lines.items() if n > 400}
    assert not long, long


def test_jobs_of_2d_studies_do_not_import_monai():
    # MONAI's import takes seconds; a training or prediction job of brain_ct / bus pays it only if
    # the registry, the trainer variants or the CLI import it eagerly
    code = ("import sys, medbench.cli, medbench.models, medbench.train.run, medbench.evaluate.predict; "
            "medbench.models.create_model('unet', encoder_name='resnet18'); print('monai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
