"""U-Net (Ronneberger et al. 2015) from segmentation-models-pytorch, returning {"seg": logits}."""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
import torch.nn as nn

from medbench.models.registry import register_model


class SmpSegmenter(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"seg": self.net(x)}


@register_model
def unet(encoder_name: str = "resnet34", num_classes: int = 2, in_chans: int = 1,
         img_size: int | None = None, pretrained: bool = False,
         pretrained_path: str | None = None) -> nn.Module:
    """smp Unet; `encoder_name` any smp encoder (resnet34, tu-efficientnet_b0, ...).

    `img_size` is accepted for a uniform interface and unused (fully convolutional). ImageNet
    encoder weights come from smp's hub when `pretrained`; `pretrained_path` loads a local
    encoder state dict instead.
    """
    weights = "imagenet" if pretrained and not pretrained_path else None
    net = smp.Unet(encoder_name=encoder_name, encoder_weights=weights, in_channels=in_chans,
                   classes=num_classes)
    if pretrained_path:
        net.encoder.load_state_dict(torch.load(pretrained_path, map_location="cpu"))
    return SmpSegmenter(net)
