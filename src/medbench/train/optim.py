"""Optimisers and learning-rate schedules named in study configs.

Schedules step either per iteration ("poly", as Swin-Unet and the brain_ct paper, eq. 6:
lr = base * (1 - iter / max_iter) ** power) or per epoch ("plateau": ReduceLROnPlateau on the
monitored validation metric), or never ("constant"). "cosine": per iteration, MONAI's
WarmupCosineSchedule (linear warm-up over `warmup_steps`, then cosine decay to 0 over the run;
SwinFUSE's pre-training and, per iteration instead of per epoch, its fine-tuning).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from medbench.errors import ConfigError


def parameter_groups(model: torch.nn.Module, lr: float, head_lr_scale: float = 1.0) -> list[dict]:
    """The optimiser's parameter groups: the whole model at `lr`, or with `head_lr_scale` != 1 the
    model's output layer (its `output_layer()`) apart at lr * head_lr_scale. Adam moves every
    weight by about the learning rate per step, so in a budget of a few dozen steps a freshly
    initialised output layer stays near its random start while the features under it change."""
    if head_lr_scale == 1:
        return [{"params": list(model.parameters())}]
    if not hasattr(model, "output_layer"):
        raise ConfigError(f"head_lr_scale: {type(model).__name__} has no output_layer() to scale")
    head = list(model.output_layer().parameters())
    ids = {id(p) for p in head}
    body = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": body}, {"params": head, "lr": lr * head_lr_scale}]


def build_optimizer(cfg: dict, params, lr: float) -> torch.optim.Optimizer:
    name = cfg["name"]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.get("momentum", 0.0),
                               weight_decay=cfg.get("weight_decay", 0.0))
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, betas=tuple(cfg.get("betas", (0.9, 0.999))),
                   weight_decay=cfg.get("weight_decay", 0.0))
    raise ConfigError(f"optimizer.name: unknown optimiser '{name}'; known: sgd, adam, adamw")


@dataclass
class Schedule:
    scheduler: object | None
    interval: str  # "step", "epoch" or "never"

    def step_iteration(self) -> None:
        if self.interval == "step":
            self.scheduler.step()

    def step_epoch(self, monitored: float | None) -> None:
        if self.interval == "epoch" and monitored is not None:
            self.scheduler.step(monitored)

    def state_dict(self) -> dict:
        return self.scheduler.state_dict() if self.scheduler else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scheduler:
            self.scheduler.load_state_dict(state)


def poly_factor(iteration: int, max_iterations: int, power: float) -> float:
    return max(0.0, 1.0 - iteration / max_iterations) ** power


def build_schedule(cfg: dict, optimizer, steps_per_epoch: int, epochs: int, mode: str) -> Schedule:
    name = cfg["name"]
    if name == "poly":
        total, power = steps_per_epoch * epochs, cfg.get("power", 0.9)
        sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: poly_factor(it, total, power))
        return Schedule(sched, "step")
    if name == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=cfg.get("factor", 0.1), patience=cfg.get("patience", 10),
            min_lr=cfg.get("min_lr", 0.0))
        return Schedule(sched, "epoch")
    if name == "constant":
        return Schedule(None, "never")
    if name == "cosine":
        from monai.optimizers import WarmupCosineSchedule

        total = steps_per_epoch * epochs
        warmup = min(cfg.get("warmup_steps", 0), total - 1)
        return Schedule(WarmupCosineSchedule(optimizer, warmup_steps=warmup, t_total=total), "step")
    raise ConfigError(f"schedule.name: unknown schedule '{name}'; known: poly, plateau, constant, cosine")
