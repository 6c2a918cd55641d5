"""What a reproduced study gives the shared pipeline.

A study owns its data: it writes the toy export, prepares the raw data into `data_dir` (the
study's interim folder, `<paths.interim>/<study>`), and turns that into datasets and test-set
predictions. Training, evaluation, tables, claims and the generic figures (ROC, curves) are
shared and reach a study only through this interface; the CLI finds the study named by a study
config's `study:` key (`medbench.studies.get_study`).

Files a study writes into `data_dir` are its own business, with one convention the generic
rules rely on: every `medbench` verb of a study takes `--data <data_dir>`, and the study's
Snakemake rules file declares which of those files training and prediction need.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from medbench.errors import ConfigError

if TYPE_CHECKING:  # imported lazily: the Snakefile loads studies to read their schemas
    import torch
    from torch.utils.data import Dataset

# figure(cfg, spec, runs, data_dir, out): draw `out` from the study config, the figure's
# `figures.<kind>` section, the finished runs (model -> [Run], possibly empty) and the data
FigureFn = Callable[..., None]
# step(cfg, data_dir, item): one data-preparation step; `item` names one unit of a per-item step
StepFn = Callable[[dict, Path, "str | None"], None]


class Study:
    name: ClassVar[str]
    # the test sets the study's split builds (the study YAML's `test_sets:` must name them)
    test_sets: ClassVar[tuple[str, ...]]
    # JSON-schema fragment of the study's own config sections, merged into the common schema
    schema: ClassVar[Path | None] = None
    # the study-only figures `figures()` draws, by name (the Snakefile reads the names without
    # importing the drawing code)
    figure_kinds: ClassVar[tuple[str, ...]] = ()
    # with toy data, where `generate_toy` writes each raw dataset (a key of the run config's
    # `raw`) under its one output folder; empty: the study's toy writes where `raw` says
    toy_layout: ClassVar[dict[str, str]] = {}

    # ------------------------------------------------------------------ data
    def generate_toy(self, out_dir: Path, params: dict) -> None:
        """Write a synthetic export in the real on-disk format (`medbench toy`)."""
        raise ConfigError(f"study {self.name} has no toy data generator")

    def split(self, cfg: dict, data_dir: Path) -> None:
        """Write the split table(s) into `data_dir` (`medbench split`)."""
        raise NotImplementedError

    def steps(self) -> dict[str, StepFn]:
        """Study-only data-preparation steps (`medbench prepare <step>`), by name."""
        return {}

    def folds(self, cfg: dict, model: str | None = None) -> list[int | str | None]:
        """What one run of `model` trains a network for: cross-validation folds (bus) or
        downstream tasks (swinfuse), each tested on its own test samples ([None]: one network)."""
        return [None]

    def fold_recipe(self, cfg: dict, model: str, fold: int | str | None) -> dict:
        """Changes to `model`'s recipe for one fold (e.g. a task's input channels and loss)."""
        return {}

    def datasets(self, cfg: dict, data_dir: Path, protocol: str, names, seed: int,
                 augment_train: bool = True, fold: int | str | None = None,
                 model: str | None = None) -> dict[str, Dataset]:
        """torch Datasets of the splits `names` of `protocol` (train, val or test sets) of `fold`
        (for `model`, where the data depend on it: e.g. its pre-training modalities); each item
        a `medbench.contracts.Sample`."""
        raise NotImplementedError

    # ------------------------------------------------------------------ results
    def predict(self, cfg: dict, model: torch.nn.Module, data_dir: Path, protocol: str, out_dir: Path,
                device: torch.device, fold: int | None = None) -> None:
        """Write `<out_dir>/<test set>.csv` and `.npz` for every test set (`medbench predict`)
        of `fold` (the pipeline merges the folds: each sample is tested once)."""
        raise NotImplementedError

    def evaluate(self, cfg: dict, pred_dir: Path) -> dict:
        """metrics.json of one run from its predictions (`medbench evaluate`); the default: the
        shared classification / segmentation / Dice metrics with bootstrap intervals."""
        from medbench.evaluate.evaluate import evaluate_predictions

        return evaluate_predictions(pred_dir, list(cfg["test_sets"]),
                                    cfg.get("evaluation", {}).get("bootstrap_samples", 1000), cfg["seed"])

    def table_sections(self, cfg: dict, data_dir: Path, protocol: str, runs: dict | None = None) -> list[str]:
        """Extra Markdown lines at the end of the result table (e.g. a leakage report); `runs`:
        the table's finished runs (model -> [Run]), whose folders hold what else the rules file
        declares for the table (`TABLE_DATA`)."""
        return []

    def figures(self) -> dict[str, FigureFn]:
        """Study-only figure kinds (`medbench figure <kind>`), by name."""
        return {}

    # ------------------------------------------------------------------ config
    def check_config(self, cfg: dict, source: str) -> None:
        """Consistency the schema cannot express; the default: `test_sets` names the study's."""
        declared = list(cfg.get("test_sets", {}))
        if declared != list(self.test_sets):
            raise ConfigError(f"{source}: test_sets {declared} differ from the sets the {self.name} "
                              f"split builds: {list(self.test_sets)}")
