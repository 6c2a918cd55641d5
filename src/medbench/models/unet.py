"""U-Net (Ronneberger et al. 2015) and DeepLabV3+ (Chen et al. 2018) from
segmentation-models-pytorch, returning {"seg": logits} (+ {"aux": {level: logits}} when
auxiliary heads are asked for; level i = the encoder's output at stride 4 * 2**i)."""

from __future__ import annotations

from collections.abc import Sequence

import segmentation_models_pytorch as smp
import torch
import torch.nn as nn

from medbench.models.aux_heads import AuxHeads
from medbench.models.registry import register_model


class SmpSegmenter(nn.Module):
    def __init__(self, net: smp.base.SegmentationModel, aux_levels: Sequence[int] = ()):
        super().__init__()
        self.net = net
        self.aux = AuxHeads(net.encoder.out_channels[-4:], aux_levels) if aux_levels else None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.aux is None:
            return {"seg": self.net(x)}
        features = self.net.encoder(x)
        seg = self.net.segmentation_head(self.net.decoder(features))
        return {"seg": seg, "aux": self.aux(features[-4:])}


def _smp(cls, encoder_name: str, num_classes: int, in_chans: int, aux_levels: Sequence[int],
         pretrained: bool) -> nn.Module:
    """ImageNet encoder weights come from smp's hub when `pretrained`."""
    weights = "imagenet" if pretrained else None
    net = cls(encoder_name=encoder_name, encoder_weights=weights, in_channels=in_chans, classes=num_classes)
    return SmpSegmenter(net, aux_levels)


@register_model
def unet(encoder_name: str = "resnet34", num_classes: int = 2, in_chans: int = 1,
         img_size: int | None = None, aux_levels: Sequence[int] = (), pretrained: bool = False
         ) -> nn.Module:
    """smp Unet; `encoder_name` any smp encoder (resnet34, efficientnet-b5, tu-efficientnet_b0, ...).
    `img_size` is accepted for a uniform interface and unused (fully convolutional)."""
    return _smp(smp.Unet, encoder_name, num_classes, in_chans, aux_levels, pretrained)


@register_model
def deeplabv3plus(encoder_name: str = "resnet101", num_classes: int = 1, in_chans: int = 3,
                  img_size: int | None = None, aux_levels: Sequence[int] = (), pretrained: bool = False
                  ) -> nn.Module:
    """smp DeepLabV3+ (output stride 16: the last encoder level is dilated, not downsampled)."""
    return _smp(smp.DeepLabV3Plus, encoder_name, num_classes, in_chans, aux_levels, pretrained)
