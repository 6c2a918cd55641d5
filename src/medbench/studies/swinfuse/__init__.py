"""swinfuse: SwinFUSE, modality-agnostic self-supervised pre-training of Swin UNETR on CT + MR
(results/table5.csv; Talasila et al., ISBI 2024, and the devalab/SwinFUSE code).

Data: SynthRAD2023 Task 1 brain (paired CT + MR, pre-training), BraTS 2021, MSD Task01
BrainTumour (MR) and Task10 Colon (CT) (fine-tuning), validated by `prepare ingest` and split by
`split`. Models of two kinds: pre-training runs (`trainer: ssl_pretrain`, one network each) and
the table's rows, Swin UNETR fine-tuned once per downstream task (the run's "folds" are the
tasks), each initialised from its `requires` pre-training run. Prepared data in `data_dir`:

    volumes.csv, overlap.csv          every validated volume; MSD Task01 cases also in BraTS
    splits.csv, pretrain_leakage.csv  roles; pre-training leakage of ours vs the code's split
"""

from __future__ import annotations

import logging
from pathlib import Path

from medbench.studies import Study, register_study
from medbench.studies.swinfuse.layout import (
    TEST_SETS,
    TOY_LAYOUT,
    leakage_file,
    overlap_file,
    splits_file,
    volumes_file,
)

log = logging.getLogger(__name__)


def _ingest(cfg: dict, data_dir: Path, item: str | None) -> None:
    from medbench.studies.swinfuse.ingest import ingest
    from medbench.studies.swinfuse.readers import read_datasets

    ingest(read_datasets(cfg.get("raw") or {}, cfg["tasks"]), data_dir)


def _is_pretraining(cfg: dict, model: str) -> bool:
    from medbench.config import model_config

    return model_config(cfg, model).get("trainer") == "ssl_pretrain"


@register_study
class Swinfuse(Study):
    name = "swinfuse"
    test_sets = TEST_SETS
    figure_kinds = ("pretrain_curves", "overlays", "id_ood")
    toy_layout = TOY_LAYOUT
    schema = Path(__file__).with_name("schema.yaml")

    def generate_toy(self, out_dir, params):
        from medbench.studies.swinfuse.toy import ToySwinfuseConfig, generate

        generate(out_dir, ToySwinfuseConfig.from_dict(params))

    def steps(self):
        return {"ingest": _ingest}

    def split(self, cfg, data_dir):
        import pandas as pd

        from medbench.fileio import write_csv
        from medbench.studies.swinfuse.splits import make_splits

        splits, leakage = make_splits(
            pd.read_csv(volumes_file(data_dir), dtype=str, keep_default_na=False),
            cfg["split"],
            cfg["tasks"],
            cfg["seed"],
        )
        write_csv(splits_file(data_dir), splits)
        write_csv(leakage_file(data_dir), leakage)
        log.info("roles:\n%s", splits.groupby(["dataset", "role"]).size().unstack(fill_value=0).to_string())
        log.info("pre-training leakage:\n%s", leakage.to_string(index=False))

    def folds(self, cfg, model=None):
        return [None] if model is None or _is_pretraining(cfg, model) else list(cfg["tasks"])

    def fold_recipe(self, cfg, model, fold):
        if fold is None:
            return {}
        task = cfg["tasks"][fold]
        channels = {"in_channels": task["in_channels"], "out_channels": task["out_channels"]}
        recipe = task.get("recipe") or {}
        return {
            **recipe,
            "model_args": {**recipe.get("model_args", {}), **channels},
            "loss": {"activation": task["activation"]},
        }

    def datasets(self, cfg, data_dir, protocol, names, seed, augment_train=True, fold=None, model=None):
        from medbench.studies.swinfuse.dataset import PretrainCrops, TaskVolumes

        volumes, splits = self._tables(data_dir)
        roi = cfg["data"]["image_size"]
        if fold is None:  # pre-training on SynthRAD patients
            from medbench.config import model_config

            pretrain = cfg["pretrain"]
            modalities = model_config(cfg, model)["model_args"].get("modalities", ["CT", "MR"])
            synthrad = volumes[volumes["dataset"] == "synthrad"].merge(splits, on=["dataset", "case_id"])
            return {
                name: PretrainCrops(
                    synthrad,
                    sorted(synthrad.loc[synthrad["role"] == name, "patient"].unique()),
                    modalities,
                    roi,
                    pretrain["crops"],
                    pretrain["intensity"],
                    seed,
                )
                for name in names
            }
        cases = volumes[volumes["dataset"] == fold].merge(splits, on=["dataset", "case_id"])
        task = cfg["tasks"][fold]
        return {
            name: TaskVolumes(
                cases[cases["role"] == ("test" if name == fold else name)],
                task,
                roi,
                name == "train" and augment_train,
                seed,
            )
            for name in names
        }

    @staticmethod
    def _tables(data_dir):
        import pandas as pd

        read = dict(dtype=str, keep_default_na=False)
        return pd.read_csv(volumes_file(data_dir), **read), pd.read_csv(splits_file(data_dir), **read)

    def predict(self, cfg, model, data_dir, protocol, out_dir, device, fold=None):
        from medbench.studies.swinfuse.predict import predict_task

        dataset = self.datasets(cfg, data_dir, protocol, [fold], cfg["seed"], fold=fold)[fold]
        predict_task(model, dataset, fold, cfg["tasks"][fold], cfg["inference"], out_dir, device)

    def evaluate(self, cfg, pred_dir):
        from medbench.studies.swinfuse.evaluation import evaluate_tasks

        return evaluate_tasks(
            pred_dir, cfg["tasks"], cfg["evaluation"].get("bootstrap_samples", 1000), cfg["seed"]
        )

    def table_sections(self, cfg, data_dir, protocol, runs=None):
        from medbench.studies.swinfuse.report import pretraining_lines, table_notes

        return [*table_notes(cfg, data_dir, overlap_file(data_dir), leakage_file(data_dir)),
                *pretraining_lines(cfg, runs or {})]

    def figures(self):
        from medbench.studies.swinfuse.figures import id_ood_figure, overlay_figure, pretrain_curves_figure

        return {
            "pretrain_curves": pretrain_curves_figure,
            "overlays": overlay_figure,
            "id_ood": id_ood_figure,
        }

    def check_config(self, cfg, source):
        from medbench.errors import ConfigError

        super_sets = [t for t in cfg.get("test_sets", {}) if t not in self.test_sets]
        if super_sets:
            raise ConfigError(
                f"{source}: test_sets {super_sets} are not swinfuse tasks {list(self.test_sets)}"
            )
        if list(cfg["tasks"]) != list(cfg["test_sets"]):
            raise ConfigError(
                f"{source}: tasks {list(cfg['tasks'])} and test_sets {list(cfg['test_sets'])} "
                "must name the same downstream tasks in the same order"
            )
