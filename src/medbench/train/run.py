"""Build and run one model's training from the study config (the `medbench train` verb)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from medbench.config import model_config
from medbench.data.study_data import split_datasets
from medbench.models import create_model
from medbench.seeding import seed_everything
from medbench.train.losses import MultiTaskLoss
from medbench.train.optim import build_optimizer, build_schedule
from medbench.train.trainer import Trainer, TrainerConfig

log = logging.getLogger(__name__)


def model_arguments(cfg: dict, recipe: dict) -> dict:
    """Constructor arguments of a model: its `model_args`, the input size and pretraining."""
    return {**recipe.get("model_args", {}), "img_size": cfg["data"]["image_size"],
            "pretrained": recipe.get("pretrained", False),
            "pretrained_path": recipe.get("pretrained_path")}


def train_model(cfg: dict, model_name: str, protocol: str, cache_dir, splits_csv, out_dir,
                device: str | None = None) -> dict:
    recipe = model_config(cfg, model_name)
    seed = cfg["seed"]
    seed_everything(seed)
    data = split_datasets(cfg, cache_dir, splits_csv, protocol, ("train", "val"), seed)
    args = model_arguments(cfg, recipe)
    model = create_model(recipe["arch"], **args)
    loss_fn = MultiTaskLoss(recipe["loss"]["weights"], recipe["loss"].get("seg"))
    optimizer = build_optimizer(recipe["optimizer"], model.parameters(), recipe["lr"])
    steps = math.ceil(len(data["train"]) / recipe["batch_size"])
    schedule = build_schedule(recipe["schedule"], optimizer, steps, recipe["epochs"],
                              recipe["monitor"]["mode"])
    trainer_cfg = TrainerConfig(
        epochs=recipe["epochs"], batch_size=recipe["batch_size"],
        val_batch_size=recipe.get("val_batch_size", recipe["batch_size"]),
        monitor=recipe["monitor"]["metric"], mode=recipe["monitor"]["mode"], seed=seed,
        num_workers=recipe.get("num_workers", 0), device=device or recipe.get("device", "auto"),
        amp=recipe.get("amp", True),
        fingerprint={"recipe": recipe, "protocol": protocol, "seed": seed,
                     "data": cfg["data"], "augmentation": cfg.get("augmentation")},
    )
    meta = {"arch": recipe["arch"], "model_args": {**args, "pretrained": False,
                                                   "pretrained_path": None},
            "model": model_name, "tasks": list(recipe["loss"]["weights"])}
    log.info("training %s (%s) on %d slices, validating on %d; %d epochs of %d steps",
             model_name, recipe["arch"], len(data["train"]), len(data["val"]), recipe["epochs"], steps)
    trainer = Trainer(model, loss_fn, optimizer, schedule, data["train"], data["val"],
                      Path(out_dir), trainer_cfg, meta)
    return trainer.fit()
