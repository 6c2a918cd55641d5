"""One Trainer for every study: models return a dict of task outputs, the loss is composed
from config, and the loop handles checkpoints, resume, best-model selection and metrics.

Files in `out_dir`:
    checkpoints/last.pt   everything needed to resume (written atomically every epoch); deleted
                          once training has finished, unless `keep_last` (it holds the optimiser
                          state too: 2-3x the weights)
    checkpoints/best.pt   weights of the best epoch so far by the monitored metric; renamed to
                          model.pt once training has finished
    metrics.csv           one row per finished epoch (rewritten every epoch)
    model.pt              the best weights: the one file of the run that later steps read

Reproducibility: every epoch reseeds torch, the shuffling generator and the augmentation
from (seed, epoch), so a run resumed after epoch k continues exactly as an uninterrupted one.

Variants (nnU-Net style) subclass Trainer and register under a name that a recipe's `trainer:`
key selects. A variant overrides what it changes and nothing else: what a batch costs
(`training_step`, e.g. self-supervised pretext losses), how the validation set is scored
(`validate`: e.g. sliding windows over whole volumes; `validation_metrics` when only the
metrics of the usual predictions differ), and the loss it trains with (`loss_name`: a variant
that needs its own loss names it, and a recipe naming another one is refused).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from medbench.checkpoint import load_checkpoint, save_checkpoint
from medbench.device import resolve_device
from medbench.errors import ConfigError
from medbench.fileio import write_csv
from medbench.metrics import binary_iou, binary_log_loss, dice_per_image, roc_auc
from medbench.models.inference import infer
from medbench.progress import progress
from medbench.train import losses
from medbench.train.optim import Schedule

log = logging.getLogger(__name__)


@dataclass
class TrainerConfig:
    epochs: int
    batch_size: int
    val_batch_size: int
    monitor: str = "val_loss"  # a column of metrics.csv
    mode: str = "min"  # "min" or "max"
    seed: int = 0
    num_workers: int = 0
    device: str = "auto"
    amp: bool = True  # used on CUDA only
    keep_last: bool = False  # keep checkpoints/last.pt after the run (e.g. to inspect the optimiser)
    # an epoch of this many batches drawn from reshuffled passes over the training set (Keras'
    # fit(steps_per_epoch=...) on a looping generator); None: one pass over the training set
    steps_per_epoch: int | None = None
    fingerprint: dict = field(default_factory=dict)  # resume only a run of the same config


def _reseed_worker(worker_id: int) -> None:
    info = torch.utils.data.get_worker_info()
    transform = getattr(info.dataset, "transform", None)
    if transform is not None:
        transform.set_random_seed(torch.initial_seed() % 2**31)


class Trainer:
    loss_name: str | None = None  # None: the recipe's `loss: {name: ...}` (train/losses.py)

    @classmethod
    def build_loss(cls, loss_cfg: dict, epochs: int) -> torch.nn.Module:
        name = loss_cfg.get("name", cls.loss_name)
        if cls.loss_name and name != cls.loss_name:
            raise ConfigError(f"loss '{name}': the {cls.__name__} trains with '{cls.loss_name}' "
                              "(give it no loss name, or that one)")
        return losses.build_loss({**loss_cfg, "name": name} if name else loss_cfg, epochs)

    def __init__(self, model: torch.nn.Module, loss_fn: torch.nn.Module, optimizer, schedule: Schedule,
                 train_data: Dataset, val_data: Dataset, out_dir: str | Path, cfg: TrainerConfig,
                 model_meta: dict | None = None):
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.model = model.to(self.device)
        self.loss_fn, self.optimizer, self.schedule = loss_fn, optimizer, schedule
        self.train_data, self.val_data = train_data, val_data
        self.out_dir = Path(out_dir)
        self.model_meta = model_meta or {}
        self.use_amp = cfg.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.history: list[dict] = []
        self.best_score: float | None = None
        self.fingerprint = hashlib.sha256(
            json.dumps(cfg.fingerprint, sort_keys=True, default=str).encode()).hexdigest()

    # ------------------------------------------------------------------ data
    def _epoch_seed(self, epoch: int) -> int:
        """Every random stream of an epoch derives from (seed, epoch): resume is exact."""
        return self.cfg.seed * 100_003 + epoch

    def _loader(self, data: Dataset, batch_size: int, shuffle: bool, epoch: int,
                steps: int | None = None) -> DataLoader:
        generator = torch.Generator().manual_seed(self._epoch_seed(epoch))
        # `steps` batches from back-to-back permutations of the data (RandomSampler without
        # replacement repeats whole permutations)
        sampler = RandomSampler(data, num_samples=steps * batch_size, generator=generator) if steps else None
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle and sampler is None,
                          sampler=sampler, generator=generator,
                          num_workers=self.cfg.num_workers, pin_memory=self.device.type == "cuda",
                          worker_init_fn=_reseed_worker if self.cfg.num_workers else None,
                          drop_last=False)

    def _to_device(self, batch: dict) -> dict:
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    # ------------------------------------------------------------------ loop
    def fit(self) -> dict:
        start_epoch = self._resume()
        for epoch in range(start_epoch, self.cfg.epochs + 1):
            t0 = time.time()
            torch.manual_seed(self._epoch_seed(epoch))
            transform = getattr(self.train_data, "transform", None)
            if transform is not None:
                transform.set_random_seed(self._epoch_seed(epoch))
            if hasattr(self.loss_fn, "set_epoch"):  # losses that change over training
                self.loss_fn.set_epoch(epoch)
            row = {"epoch": epoch, "lr": self.optimizer.param_groups[0]["lr"]}
            row |= self.train_epoch(epoch)
            row |= self.validate(epoch)
            row["seconds"] = round(time.time() - t0, 2)
            self.schedule.step_epoch(row.get(self.cfg.monitor))
            self._end_epoch(epoch, row)
        return self._finish()

    def train_epoch(self, epoch: int) -> dict:
        self.model.train()
        sums: dict[str, float] = {}
        n = 0
        loader = self._loader(self.train_data, self.cfg.batch_size, True, epoch, self.cfg.steps_per_epoch)
        bar = progress(loader, desc=f"epoch {epoch}/{self.cfg.epochs}", unit="batch", leave=False)
        for batch in bar:
            loss, parts = self.training_step(self._to_device(batch))
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.schedule.step_iteration()
            size = len(batch["image"])
            n += size
            for key, value in {"loss": float(loss.detach()), **parts}.items():
                sums[key] = sums.get(key, 0.0) + value * size
            bar.set_postfix(loss=f"{sums['loss'] / n:.4f}", refresh=False)
        return {f"train_{k}" if k == "loss" else f"train_{k}_loss": v / n for k, v in sums.items()}

    def training_step(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of one training batch and its named parts (logged per epoch)."""
        with torch.autocast(self.device.type, enabled=self.use_amp):
            outputs = self.model(batch["image"])
        return self.loss_fn(outputs, batch)

    def predict(self, data: Dataset, desc: str = "predict") -> dict:
        loader = self._loader(data, self.cfg.val_batch_size, False, 0)
        return infer(self.model, loader, self.device, self.use_amp, self.loss_fn, desc)

    def validate(self, epoch: int) -> dict:
        return self.validation_metrics(self.predict(self.val_data, desc=f"val {epoch}"))

    def validation_metrics(self, pred: dict) -> dict:
        metrics = {"val_loss": pred["loss"]}
        if "cls_prob" in pred:
            metrics["val_auc"] = roc_auc(pred["label"], pred["cls_prob"])
            metrics["val_cls_loss"] = binary_log_loss(pred["label"], pred["cls_prob"])
        if "seg_pred" in pred:
            keep = pred["has_mask"].astype(bool)
            metrics["val_iou"] = binary_iou(pred["seg_pred"][keep], pred["mask"][keep])
        if "seg_prob" in pred:
            metrics["val_dice"] = float(dice_per_image(pred["seg_prob"] >= 0.5, pred["mask"]).mean())
        return metrics

    # ------------------------------------------------------------------ state
    def _is_better(self, score: float | None) -> bool:
        if score is None or np.isnan(score):
            return self.best_score is None
        if self.best_score is None or np.isnan(self.best_score):
            return True
        return score > self.best_score if self.cfg.mode == "max" else score < self.best_score

    def _end_epoch(self, epoch: int, row: dict) -> None:
        self.history.append(row)
        score = row.get(self.cfg.monitor)
        if self._is_better(score):
            self.best_score = score
            save_checkpoint(self.out_dir / "checkpoints" / "best.pt", self._weights(epoch, score))
        save_checkpoint(self.out_dir / "checkpoints" / "last.pt", {
            "epoch": epoch, "fingerprint": self.fingerprint, "history": self.history,
            "best_score": self.best_score, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
        })
        write_csv(self.out_dir / "metrics.csv", pd.DataFrame(self.history))
        shown = {k: round(v, 4) for k, v in row.items() if isinstance(v, float)}
        log.info("epoch %d/%d %s", epoch, self.cfg.epochs, shown)

    def _weights(self, epoch: int, score) -> dict:
        return {**self.model_meta, "epoch": epoch, "monitor": self.cfg.monitor, "score": score,
                "state_dict": self.model.state_dict()}

    def _resume(self) -> int:
        path = self.out_dir / "checkpoints" / "last.pt"
        if not path.is_file():
            return 1
        state = load_checkpoint(path, self.device)
        if state.get("fingerprint") != self.fingerprint:
            log.warning("%s belongs to a different configuration; starting afresh", path)
            return 1
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.scaler.load_state_dict(state["scaler"])
        self.history, self.best_score = state["history"], state["best_score"]
        write_csv(self.out_dir / "metrics.csv", pd.DataFrame(self.history))
        log.info("resuming from %s after epoch %d", path, state["epoch"])
        return state["epoch"] + 1

    def _finish(self) -> dict:
        checkpoints, model_file = self.out_dir / "checkpoints", self.out_dir / "model.pt"
        if (checkpoints / "best.pt").is_file():  # else renamed already by a run killed just after
            os.replace(checkpoints / "best.pt", model_file)  # a rename: one copy on disk
        best = load_checkpoint(model_file)
        if not self.cfg.keep_last:
            (checkpoints / "last.pt").unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # other files a user put there stay
                checkpoints.rmdir()
        return {"best_epoch": best["epoch"], "best_score": best["score"], "history": self.history}



_TRAINERS: dict[str, type[Trainer]] = {"default": Trainer}


def register_trainer(name: str):
    """Class decorator: make a Trainer variant selectable as `trainer: <name>` in a recipe."""

    def register(cls: type[Trainer]) -> type[Trainer]:
        if name in _TRAINERS:
            raise ValueError(f"trainer '{name}' registered twice")
        _TRAINERS[name] = cls
        return cls

    return register


def get_trainer(name: str) -> type[Trainer]:
    if name not in _TRAINERS:
        raise ConfigError(f"trainer: unknown variant '{name}'; registered: {sorted(_TRAINERS)}")
    return _TRAINERS[name]
