"""Grad-CAM of a Swin classifier head (the brain_ct paper's Figure 4), with the `grad-cam` package.

Two adaptations make Swin models work with pytorch-grad-cam: a wrapper that returns only the
class logits of a multi-task model, and a reshape transform from timm's NHWC stage outputs to
the NCHW maps Grad-CAM weighs. `energy_in_mask` scores a CAM against a lesion mask: the share of
CAM energy inside it (the "energy-based pointing game" of Score-CAM, Wang et al. 2020) next to
the share of the image the mask covers, so "the heat is on the lesion" is a number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from medbench.errors import ConfigError


class ClassLogits(nn.Module):
    """Multi-task model -> its classification logits only (what Grad-CAM explains)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["cls"]


def nhwc_to_nchw(activations: torch.Tensor) -> torch.Tensor:
    """timm Swin stages emit (B, H, W, C); Grad-CAM averages gradients over dims 2 and 3."""
    return activations.permute(0, 3, 1, 2)


def swin_stage(model: nn.Module, stage: int) -> nn.Module:
    """The blocks of encoder stage `stage` (-1: last) of an MTL-Swin-Unet-like model: their
    output is the stage's (SwinEncoder runs a stage's downsampling and blocks separately, so a
    hook on the stage module itself would never fire)."""
    try:
        return model.encoder.body.layers[stage].blocks
    except (AttributeError, IndexError) as exc:
        raise ConfigError(
            f"Grad-CAM: model {type(model).__name__} has no Swin encoder stage {stage}") from exc


def grad_cam(model: nn.Module, images: torch.Tensor, stage: int, target_class: int = 1) -> np.ndarray:
    """(N, H, W) CAMs in [0, 1] at the input resolution, for the logit of `target_class`."""
    model.eval()
    with GradCAM(model=ClassLogits(model), target_layers=[swin_stage(model, stage)],
                 reshape_transform=nhwc_to_nchw) as cam:
        return cam(input_tensor=images, targets=[ClassifierOutputTarget(target_class)] * len(images))


def energy_in_mask(cams: np.ndarray, masks: np.ndarray) -> pd.DataFrame:
    """Per slice: share of CAM energy inside the mask, and the mask's share of the image
    (what a CAM spread evenly would score)."""
    cams, masks = np.asarray(cams, float), np.asarray(masks).astype(bool)
    total = cams.sum(axis=(1, 2))
    inside = (cams * masks).sum(axis=(1, 2))
    return pd.DataFrame({
        "energy_in_mask": np.divide(inside, total, out=np.zeros_like(total), where=total > 0),
        "mask_area_fraction": masks.mean(axis=(1, 2)),
    })
