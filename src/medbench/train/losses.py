"""Losses composed from the study config.

brain_ct (Japanese paper, eq. 1-5): L = l_cls*CE + l_seg*(l_ce*CE + l_dice*Dice) + l_rec*MSE.
hubmap (§4.3): BCE (+ 0.2 BCE of an auxiliary head, switched between encoder levels).
bus (Hybrid-MT-ESTAN §2.4, busbench): w_cls * (focal | weighted BCE) + w_seg * Dice on one logit.
swinfuse: the self-supervised terms (train/ssl.py) and MONAI's Dice on volumes (train/volumes.py),
registered there beside the Trainer variants that train with them.
Segmentation terms are averaged over the samples of the batch that carry a mask only; a batch
with none contributes no segmentation loss.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from segmentation_models_pytorch.losses import DiceLoss
from torchvision.ops import sigmoid_focal_loss

from medbench.errors import ConfigError

TASKS = ("cls", "seg", "rec")


class SegmentationLoss(nn.Module):
    """ce_weight * cross-entropy + dice_weight * multi-class soft Dice (smp), from logits."""

    def __init__(self, ce_weight: float = 0.4, dice_weight: float = 0.6):
        super().__init__()
        self.ce_weight, self.dice_weight = ce_weight, dice_weight
        self.dice = DiceLoss(mode="multiclass", from_logits=True)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.ce_weight * F.cross_entropy(logits, target) + self.dice_weight * self.dice(
            logits, target)


class MultiTaskLoss(nn.Module):
    def __init__(self, weights: dict[str, float], seg: dict | None = None):
        super().__init__()
        unknown = set(weights) - set(TASKS)
        if unknown:
            raise ConfigError(f"loss.weights: unknown task(s) {sorted(unknown)}; known: {TASKS}")
        self.weights = dict(weights)
        self.seg_loss = SegmentationLoss(**(seg or {}))

    def forward(self, outputs: dict, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        parts: dict[str, torch.Tensor] = {}
        if "cls" in self.weights:
            parts["cls"] = F.cross_entropy(outputs["cls"].float(), batch["label"])
        if "seg" in self.weights:
            keep = batch["has_mask"]
            parts["seg"] = (self.seg_loss(outputs["seg"][keep].float(), batch["mask"][keep])
                            if keep.any() else outputs["seg"].sum() * 0.0)
        if "rec" in self.weights:
            parts["rec"] = F.mse_loss(outputs["rec"].float(), batch["image"])
        total = sum(self.weights[t] * v for t, v in parts.items())
        return total, {t: float(v.detach()) for t, v in parts.items()}


class AuxiliaryBCELoss(nn.Module):
    """hubmap paper §4.3: BCE of the main output (+ 0.2 x BCE of an auxiliary head on one
    encoder level against the mask resized (nearest) to that level).

    `levels` holds one level (auxiliary loss) or two: the switched auxiliary loss uses the
    first until `switch_fraction` of the epochs have passed, then the second (paper: "second
    block" for epochs 1-60, "first block" for 61-120). No `levels`: plain BCE ("Normal").
    The Trainer calls `set_epoch` before every epoch.
    """

    def __init__(self, epochs: int, aux_weight: float = 0.2, levels: tuple[int, ...] = (),
                 switch_fraction: float = 0.5):
        super().__init__()
        if len(levels) > 2:
            raise ConfigError(f"loss.aux.levels: one level, or two to switch between; got {list(levels)}")
        self.aux_weight, self.levels = aux_weight, tuple(levels)
        self.switch_epoch = round(epochs * switch_fraction)
        self.epoch = 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def level(self) -> int | None:
        """The encoder level whose auxiliary head is trained in the current epoch."""
        if not self.levels:
            return None
        return self.levels[-1] if len(self.levels) == 2 and self.epoch > self.switch_epoch else self.levels[0]

    def forward(self, outputs: dict, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        mask = batch["mask"].float().unsqueeze(1)
        parts = {"seg": F.binary_cross_entropy_with_logits(outputs["seg"].float(), mask)}
        total = parts["seg"]
        if self.level is not None:
            aux = outputs["aux"][self.level].float()
            small = F.interpolate(mask, size=aux.shape[-2:], mode="nearest")
            parts["aux"] = F.binary_cross_entropy_with_logits(aux, small)
            total = total + self.aux_weight * parts["aux"]
        return total, {t: float(v.detach()) for t, v in parts.items()}


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - (2 sum(y p) + s) / (sum(y) + sum(p) + s) over the whole batch flattened (busbench's
    dice_loss, smooth 1): a batch without lesions still has a loss, which rewards empty masks."""
    prob = torch.sigmoid(logits.float()).flatten()
    target = target.float().flatten()
    return 1 - (2 * (prob * target).sum() + smooth) / (target.sum() + prob.sum() + smooth)


class BinaryMultiTaskLoss(nn.Module):
    """One classification logit (malignant) and, when weighted, one segmentation logit per pixel.

    `cls`: {name: focal, alpha, gamma} (the paper: alpha 0.5, gamma 2; torchvision's
    sigmoid_focal_loss equals busbench's focal_loss_fixed) or {name: wbce, pos_weight} (busbench:
    BCE with positives weighted 3). `weights`: {cls: w1, seg: w2} (paper 3 : 1).
    """

    def __init__(self, weights: dict[str, float], cls: dict, dice_smooth: float = 1.0):
        super().__init__()
        unknown = set(weights) - {"cls", "seg"}
        if unknown:
            raise ConfigError(f"loss.weights: unknown task(s) {sorted(unknown)}; known: ['cls', 'seg']")
        if cls.get("name") not in ("focal", "wbce"):
            raise ConfigError(f"loss.cls.name: {cls.get('name')!r}; known: focal, wbce")
        self.weights, self.cls, self.dice_smooth = dict(weights), dict(cls), dice_smooth

    def classification(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        target = label.float().view_as(logits)
        if self.cls["name"] == "focal":
            return sigmoid_focal_loss(logits, target, alpha=self.cls.get("alpha", 0.25),
                                      gamma=self.cls.get("gamma", 2.0), reduction="mean")
        pos_weight = torch.tensor(self.cls.get("pos_weight", 1.0), device=logits.device)
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)

    def forward(self, outputs: dict, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        parts = {"cls": self.classification(outputs["cls"].float(), batch["label"])}
        if "seg" in self.weights:
            keep = batch["has_mask"].bool()
            parts["seg"] = (soft_dice_loss(outputs["seg"][keep][:, 0], batch["mask"][keep], self.dice_smooth)
                            if keep.any() else outputs["seg"].sum() * 0.0)
        total = sum(self.weights[t] * v for t, v in parts.items())
        return total, {t: float(v.detach()) for t, v in parts.items()}


_LOSSES: dict[str, Callable[[dict, int], nn.Module]] = {}


def register_loss(name: str):
    """Decorator: a factory `(loss_cfg, epochs) -> nn.Module` selectable as `loss: {name: <name>}`."""

    def register(factory: Callable[[dict, int], nn.Module]) -> Callable[[dict, int], nn.Module]:
        if name in _LOSSES:
            raise ValueError(f"loss '{name}' registered twice")
        _LOSSES[name] = factory
        return factory

    return register


def build_loss(loss_cfg: dict, epochs: int) -> nn.Module:
    """The loss a recipe names (`multitask` when it names none: brain_ct's eq. 1-5)."""
    name = loss_cfg.get("name", "multitask")
    if name not in _LOSSES:
        raise ConfigError(f"loss: unknown name '{name}'; registered: {sorted(_LOSSES)}")
    return _LOSSES[name](loss_cfg, epochs)


@register_loss("multitask")
def _multitask(cfg: dict, epochs: int) -> nn.Module:
    return MultiTaskLoss(cfg["weights"], cfg.get("seg"))


@register_loss("bce")
def _bce(cfg: dict, epochs: int) -> nn.Module:
    aux = cfg.get("aux") or {}
    return AuxiliaryBCELoss(epochs, aux.get("weight", 0.2), tuple(aux.get("levels", ())),
                            aux.get("switch_fraction", 0.5))


@register_loss("binary_multitask")
def _binary_multitask(cfg: dict, epochs: int) -> nn.Module:
    return BinaryMultiTaskLoss(cfg["weights"], cfg["cls"], cfg.get("dice_smooth", 1.0))
