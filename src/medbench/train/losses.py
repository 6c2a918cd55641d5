"""Multi-task loss composed from the study config.

brain_ct (Japanese paper, eq. 1-5): L = l_cls*CE + l_seg*(l_ce*CE + l_dice*Dice) + l_rec*MSE.
The segmentation term is averaged over the samples of the batch that carry a mask only; a
batch with none contributes no segmentation loss.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from segmentation_models_pytorch.losses import DiceLoss

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
