"""Image classifiers from timm, wrapped to return {"cls": logits}."""

from __future__ import annotations

import timm
import torch
import torch.nn as nn

from medbench.models.pretrained import imagenet_swin_state, load_matching
from medbench.models.registry import register_model
from medbench.models.swin_unet import ARCH_KEYS, grey_to_rgb


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


@register_model
def swin_transformer(num_classes: int = 2, pretrained: bool = False,
                     pretrained_path: str | None = None, **arch) -> nn.Module:
    """Swin Transformer classifier (Liu et al. 2021), timm; one input channel repeated to RGB.

    `arch` takes the Swin-Unet encoder's arguments (depths (2, 2, 2, 2) is the brain_ct paper's
    default size, (2, 2, 6, 2) its "tiny"). ImageNet Swin-T weights initialise every tensor whose
    shape matches (a shallower stage 3 takes the first blocks).
    """
    unknown = sorted(set(arch) - set(ARCH_KEYS))
    if unknown:
        raise TypeError(f"unexpected Swin argument(s) {unknown}; known: {list(ARCH_KEYS)}")
    arch = {k: tuple(v) if isinstance(v, list) else v for k, v in arch.items()}
    model = TimmClassifier("swin_tiny_patch4_window7_224", num_classes=num_classes, in_chans=3,
                           drop_path_rate=arch.pop("drop_path_rate", 0.2), **arch)
    if pretrained or pretrained_path:
        load_matching(model.net, imagenet_swin_state(pretrained_path), "ImageNet Swin weights")
    return GreyToRGB(model)


class GreyToRGB(nn.Module):
    """Repeat a one-channel image to the three channels an ImageNet stem expects."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model(grey_to_rgb(x))
