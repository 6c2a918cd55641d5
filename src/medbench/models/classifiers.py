"""Image classifiers from timm, wrapped to return {"cls": logits}."""

from __future__ import annotations

import timm
import torch
import torch.nn as nn

from medbench.models.registry import register_model


class TimmClassifier(nn.Module):
    def __init__(self, timm_name: str, num_classes: int = 2, in_chans: int = 1,
                 pretrained: bool = False, pretrained_path: str | None = None, **kwargs):
        super().__init__()
        overlay = {"file": pretrained_path} if pretrained_path else None
        # timm adapts ImageNet stem weights to `in_chans` (sums RGB for one channel).
        self.net = timm.create_model(timm_name, pretrained=pretrained or bool(pretrained_path),
                                     pretrained_cfg_overlay=overlay, num_classes=num_classes,
                                     in_chans=in_chans, **kwargs)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"cls": self.net(x)}


@register_model
def resnet152(img_size: int | None = None, **kwargs) -> nn.Module:
    """ResNet152 (He et al. 2015), the paper's CNN classifier baseline.

    `img_size` is accepted for a uniform interface and unused: a CNN takes any input size.
    """
    return TimmClassifier("resnet152", **kwargs)
