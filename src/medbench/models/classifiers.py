"""Image classifiers from timm, wrapped to return {"cls": logits}."""

from __future__ import annotations

import timm
import torch
import torch.nn as nn

from medbench.models.pretrained import imagenet_swin_state, load_matching
from medbench.models.registry import register_model
from medbench.models.swin_unet import grey_to_rgb, swin_arch


class TimmClassifier(nn.Module):
    def __init__(self, timm_name: str, num_classes: int = 2, in_chans: int = 1,
                 pretrained: bool = False, **kwargs):
        super().__init__()
        # timm adapts ImageNet stem weights to `in_chans` (sums RGB for one channel).
        self.net = timm.create_model(timm_name, pretrained=pretrained, num_classes=num_classes,
                                     in_chans=in_chans, **kwargs)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"cls": self.net(x)}


@register_model
def resnet152(img_size: int | None = None, timm_name: str = "resnet152", **kwargs) -> nn.Module:
    """ResNet152 (He et al. 2015), the paper's CNN classifier baseline (`timm_name`: another depth
    of the family, e.g. resnet18 for a CPU budget).

    `img_size` is accepted for a uniform interface and unused: a CNN takes any input size.
    """
    return TimmClassifier(timm_name, **kwargs)


@register_model
def swin_transformer(num_classes: int = 2, pretrained: bool = False, **arch) -> nn.Module:
    """Swin Transformer classifier (Liu et al. 2021), timm; one input channel repeated to RGB.

    `arch` takes the Swin-Unet encoder's arguments (depths (2, 2, 2, 2) is the brain_ct paper's
    default size, (2, 2, 6, 2) its "tiny"). ImageNet Swin-T weights initialise every tensor whose
    shape matches (a shallower stage 3 takes the first blocks).
    """
    arch = swin_arch(arch)
    model = TimmClassifier("swin_tiny_patch4_window7_224", num_classes=num_classes, in_chans=3,
                           drop_path_rate=arch.pop("drop_path_rate", 0.2), **arch)
    if pretrained:
        load_matching(model.net, imagenet_swin_state(), "ImageNet Swin weights")
    return GreyToRGB(model)


class GreyToRGB(nn.Module):
    """Repeat a one-channel image to the three channels an ImageNet stem expects."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model(grey_to_rgb(x))
