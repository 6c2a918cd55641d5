"""Transformer encoders with a DAFormer decoder (Hoyer et al. 2022), as in the hubmap paper:
CoaT (timm), PVTv2 (timm) and SegFormer's Mix Transformer (smp), each returning
{"seg": logits (B, 1, H, W), "aux": {level: logits}}.

DAFormer head (its official config): every encoder level is embedded to `embed_dim` by a
linear (1x1) layer, resized to stride 4 and concatenated; an ASPP of a 1x1 branch and
depthwise-separable 3x3 branches (dilations 6, 12, 18) with BN + ReLU fuses them; a 3x3
bottleneck, dropout 0.1 and a 1x1 classifier follow. The logits are upsampled to the input.
"""

from __future__ import annotations

from collections.abc import Sequence

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F

from medbench.models.aux_heads import AuxHeads
from medbench.models.registry import register_model


def _conv_bn_relu(cin: int, cout: int, kernel: int = 1, dilation: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation, groups=groups,
                  bias=False),
        nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _separable(cin: int, cout: int, dilation: int) -> nn.Sequential:
    return nn.Sequential(_conv_bn_relu(cin, cin, 3, dilation, groups=cin), _conv_bn_relu(cin, cout))


class DAFormerHead(nn.Module):
    def __init__(self, in_channels: Sequence[int], embed_dim: int = 256,
                 dilations: Sequence[int] = (1, 6, 12, 18), dropout: float = 0.1, num_classes: int = 1):
        super().__init__()
        self.embed = nn.ModuleList(nn.Conv2d(c, embed_dim, 1) for c in in_channels)
        fused = embed_dim * len(in_channels)
        self.aspp = nn.ModuleList(
            _conv_bn_relu(fused, embed_dim) if d == 1 else _separable(fused, embed_dim, d) for d in dilations)
        self.bottleneck = _conv_bn_relu(embed_dim * len(dilations), embed_dim, 3)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(embed_dim, num_classes, 1)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        size = features[0].shape[-2:]
        x = torch.cat([F.interpolate(embed(f), size=size, mode="bilinear", align_corners=False)
                       if f.shape[-2:] != size else embed(f)
                       for embed, f in zip(self.embed, features, strict=True)], dim=1)
        x = self.bottleneck(torch.cat([branch(x) for branch in self.aspp], dim=1))
        return self.classifier(self.dropout(x))


class CoatEncoder(nn.Module):
    """timm CoaT has no `features_only`: `return_interm_layers` gives the four levels."""

    def __init__(self, name: str, img_size: int, pretrained: bool):
        super().__init__()
        levels = ("x1_nocls", "x2_nocls", "x3_nocls", "x4_nocls")
        self.net = timm.create_model(name, pretrained=pretrained, img_size=img_size,
                                     return_interm_layers=True, out_features=levels)
        self.levels, self.channels = levels, list(self.net.embed_dims)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = self.net(x)
        return [out[level] for level in self.levels]


class TimmFeatureEncoder(nn.Module):
    def __init__(self, name: str, pretrained: bool, **kwargs):
        super().__init__()
        self.net = timm.create_model(name, pretrained=pretrained, features_only=True, **kwargs)
        self.channels = self.net.feature_info.channels()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.net(x)


class SmpEncoder(nn.Module):
    """An smp encoder's last four levels (strides 4-32); SegFormer's MiT lives in smp, not timm."""

    def __init__(self, name: str, pretrained: bool):
        super().__init__()
        import segmentation_models_pytorch as smp

        weights = "imagenet" if pretrained else None
        self.net = smp.encoders.get_encoder(name, in_channels=3, depth=5, weights=weights)
        self.channels = list(self.net.out_channels[-4:])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.net(x)[-4:])


class EncoderDAFormer(nn.Module):
    def __init__(self, encoder: nn.Module, aux_levels: Sequence[int] = (), embed_dim: int = 256,
                 dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.decoder = DAFormerHead(encoder.channels, embed_dim=embed_dim, dropout=dropout)
        self.aux = AuxHeads(encoder.channels, aux_levels)

    def forward(self, x: torch.Tensor) -> dict:
        features = self.encoder(x)
        logits = F.interpolate(self.decoder(features), size=x.shape[-2:], mode="bilinear",
                               align_corners=False)
        return {"seg": logits, "aux": self.aux(features)}


@register_model
def coat_daformer(encoder_name: str = "coat_lite_medium", img_size: int = 768,
                  aux_levels: Sequence[int] = (), pretrained: bool = False, **head) -> nn.Module:
    """CoaT (Xu et al. 2021) + DAFormer. CoaT's position encodings fix the input size."""
    return EncoderDAFormer(CoatEncoder(encoder_name, img_size, pretrained),
                           aux_levels, **head)


@register_model
def pvt_v2_daformer(encoder_name: str = "pvt_v2_b2", img_size: int | None = None,
                    aux_levels: Sequence[int] = (), pretrained: bool = False, **head) -> nn.Module:
    """PVTv2 (Wang et al. 2022) + DAFormer; any input size."""
    return EncoderDAFormer(TimmFeatureEncoder(encoder_name, pretrained),
                           aux_levels, **head)


@register_model
def segformer_daformer(encoder_name: str = "mit_b2", img_size: int | None = None,
                       aux_levels: Sequence[int] = (), pretrained: bool = False, **head) -> nn.Module:
    """SegFormer's Mix Transformer encoder (Xie et al. 2021, smp) + DAFormer; any input size."""
    return EncoderDAFormer(SmpEncoder(encoder_name, pretrained), aux_levels, **head)
