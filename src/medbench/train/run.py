"""Build and run one model's training from the study config (the `medbench train` verb).

The study provides the datasets (`train`, `val`); everything else comes from the model's recipe.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from torch.utils.data import Dataset

from medbench.checkpoint import save_checkpoint
from medbench.config import deep_merge, model_config
from medbench.errors import ConfigError
from medbench.fileio import file_digest, write_csv
from medbench.models import create_model
from medbench.seeding import seed_everything
from medbench.train import ssl, volumes  # noqa: F401 (their Trainer variants register themselves)
from medbench.train.optim import build_optimizer, build_schedule, parameter_groups
from medbench.train.trainer import TrainerConfig, get_trainer

log = logging.getLogger(__name__)


def model_arguments(cfg: dict, recipe: dict) -> dict:
    """Constructor arguments of a model: its `model_args`, the input size and pretraining,
    and the auxiliary heads its loss trains (hubmap)."""
    args = {**recipe.get("model_args", {}), "img_size": cfg["data"]["image_size"],
            "pretrained": recipe.get("pretrained", False),
            "pretrained_path": recipe.get("pretrained_path")}
    aux_levels = (recipe["loss"].get("aux") or {}).get("levels")
    return args | {"aux_levels": list(aux_levels)} if aux_levels else args


def data_files(data_dir) -> list[Path]:
    """Every file of a study's prepared data (hidden temporary files aside)."""
    return sorted(p for p in Path(data_dir).rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data_dir).parts))


def _check_frozen(model_name: str, recipe: dict, frozen_checkpoint) -> None:
    required = recipe.get("requires")
    if required and not frozen_checkpoint:
        raise ConfigError(f"model '{model_name}' needs --frozen-checkpoint (the '{required}' run)")
    if frozen_checkpoint and not required:
        raise ConfigError(f"model '{model_name}' has no `requires`: it takes no frozen checkpoint")


def _fingerprint(cfg, recipe, protocol, data_dir, frozen_checkpoint) -> dict:
    """What a checkpoint must match to be resumed: recipe, protocol and input contents."""
    inputs = [*data_files(data_dir), frozen_checkpoint]
    return {"recipe": recipe, "protocol": protocol, "seed": cfg["seed"], "data": cfg["data"],
            "augmentation": cfg.get("augmentation"),
            "inputs": [file_digest(f) for f in inputs if f]}


def train_model(cfg: dict, model_name: str, protocol: str, datasets: Callable[[], dict[str, Dataset]],
                data_dir, out_dir, device: str | None = None, frozen_checkpoint: str | None = None,
                recipe_changes: dict | None = None) -> dict:
    """Train `model_name` on `datasets()["train"]`, validating on `["val"]` (built after seeding);
    `data_dir`'s files and the recipe fingerprint the run for resuming. `recipe_changes`: a
    fold's changes to the model's recipe (merged into it)."""
    recipe = deep_merge(model_config(cfg, model_name), recipe_changes or {})
    _check_frozen(model_name, recipe, frozen_checkpoint)
    seed_everything(cfg["seed"])
    data = datasets()
    args = model_arguments(cfg, recipe)
    frozen = {"frozen_checkpoint": str(frozen_checkpoint)} if frozen_checkpoint else {}
    model = create_model(recipe["arch"], **args, **frozen)
    groups = parameter_groups(model, recipe["lr"], recipe.get("head_lr_scale", 1.0))
    optimizer = build_optimizer(recipe["optimizer"], groups, recipe["lr"])
    steps = recipe.get("steps_per_epoch") or math.ceil(len(data["train"]) / recipe["batch_size"])
    mode = recipe["monitor"]["mode"]
    trainer_cfg = TrainerConfig(
        epochs=recipe["epochs"], batch_size=recipe["batch_size"],
        val_batch_size=recipe.get("val_batch_size", recipe["batch_size"]),
        monitor=recipe["monitor"]["metric"], mode=mode, seed=cfg["seed"],
        num_workers=recipe.get("num_workers", 0), device=device or recipe.get("device", "auto"),
        amp=recipe.get("amp", True), keep_last=recipe.get("keep_last", False),
        steps_per_epoch=recipe.get("steps_per_epoch"),
        fingerprint=_fingerprint(cfg, recipe, protocol, data_dir, frozen_checkpoint),
    )
    # The checkpoint holds the frozen weights too: rebuilding it needs no frozen path or download.
    tasks = list(recipe["loss"].get("weights", ["seg"]))
    meta = {"arch": recipe["arch"], "model": model_name, "tasks": tasks,
            "model_args": {**args, "pretrained": False, "pretrained_path": None}}
    log.info("training %s (%s) on %d samples, validating on %d; %d epochs of %d steps",
             model_name, recipe["arch"], len(data["train"]), len(data["val"]), recipe["epochs"], steps)
    trainer_cls = get_trainer(recipe.get("trainer", "default"))
    schedule = build_schedule(recipe["schedule"], optimizer, steps, recipe["epochs"], mode)
    loss = trainer_cls.build_loss(recipe["loss"], recipe["epochs"])
    trainer = trainer_cls(model, loss, optimizer, schedule,
                          data["train"], data["val"], Path(out_dir), trainer_cfg, meta)
    return trainer.fit()


def train_folds(cfg: dict, model_name: str, protocol: str, datasets: Callable[[int | None], Callable],
                folds: list[int | str | None], data_dir, out_dir, device: str | None = None,
                frozen_checkpoint: str | None = None,
                fold_recipe: Callable[[int | str | None], dict] | None = None) -> dict:
    """One training per fold (`datasets(fold)` builds its datasets) in `<out_dir>/fold<k>/`, each
    resumable on its own. The run's `model.pt` then names its folds' models and `metrics.csv`
    holds every fold's epochs (a `fold` column). Without folds ([None]): one plain training."""
    if folds == [None]:
        return train_model(cfg, model_name, protocol, datasets(None), data_dir, out_dir, device,
                           frozen_checkpoint)
    out_dir, fold_recipe = Path(out_dir), fold_recipe or (lambda fold: {})
    results = {fold: train_model(cfg, model_name, protocol, datasets(fold), data_dir, out_dir / f"fold{fold}",
                                 device, frozen_checkpoint, fold_recipe(fold)) for fold in folds}
    history = pd.concat([pd.DataFrame(r["history"]).assign(fold=fold) for fold, r in results.items()],
                        ignore_index=True)
    write_csv(out_dir / "metrics.csv", history[["fold", *history.columns.drop("fold")]])
    save_checkpoint(out_dir / "model.pt", {"folds": {fold: f"fold{fold}/model.pt" for fold in folds}})
    return {"best_epoch": {f: r["best_epoch"] for f, r in results.items()},
            "best_score": {f: r["best_score"] for f, r in results.items()}, "history": history}
