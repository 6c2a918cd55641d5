"""The comparison rows of the bus paper's Table 2, outputs {"cls": (B, 1) logit[, "seg"]}.

Single-task classifiers, as busbench's `download/<Net>.py`: an ImageNet backbone (timm) ->
global average pool -> Dense 512 (ReLU) -> Dropout 0.3 -> Dense 64 (ReLU) -> Dense 1:
`busbench_mobilenet` (MobileNetV1), `busbench_densenet121`, `busbench_vit` (on the class
token), `busbench_swin` (SwinV2, the hybrid's own backbone; the paper does not name the Swin
variant).

Multitask rows whose authors published no code, built from their papers' descriptions and
labelled approximations in the table notes:
- `sha_mtl` (SHA-MTL, Zhang et al. 2021): a U-Net with scSE "soft attention" in the decoder;
  the classifier reads the encoder's pooled features and the deepest features pooled under the
  predicted mask ("hard attention").
- `emt_net` (EMT-Net, Shi et al. 2022): busbench's EfficientNet-B0 multitask template, a U-Net on
  EfficientNet-B0 with the busbench head on the encoder.
- `chowdary` (Chowdary et al. 2022): a U-Net whose classifier concatenates the pooled
  bottleneck and every decoder stage ("multi-scale features from different levels").
- `vgga_vit` (VGGA-ViT, Qu et al. 2022): VGG16 features -> 1x1 projection -> squeeze-and-
  excitation -> tokens into transformer blocks -> class token; a U-Net decoder on the same
  VGG16 encoder gives the masks the paper's DSC needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import segmentation_models_pytorch as smp
import timm
import torch
import torch.nn as nn
from timm.models.vision_transformer import Block

from medbench.models.estan import dense_head
from medbench.models.registry import register_model

# smp's U-Net decoder widths (its default): the rows' papers do not give theirs
DECODER_CHANNELS = (256, 128, 64, 32, 16)


def busbench_head(cin: int) -> nn.Sequential:
    """GAP'd features -> Dense 512 -> Dropout 0.3 -> Dense 64 -> Dense 1 (busbench single-task)."""
    return dense_head(cin, (512, 64), 0.3, 1)


class PooledClassifier(nn.Module):
    def __init__(self, timm_name: str, pretrained: bool, **kwargs):
        super().__init__()
        self.backbone = timm.create_model(timm_name, pretrained=pretrained, num_classes=0, **kwargs)
        self.head = busbench_head(self.backbone.num_features)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"cls": self.head(self.backbone(x))}


def _timm_args(args: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}


@register_model
def busbench_mobilenet(timm_name: str = "mobilenetv1_100", img_size: int | None = None,
                       pretrained: bool = False) -> nn.Module:
    return PooledClassifier(timm_name, pretrained)


@register_model
def busbench_densenet121(timm_name: str = "densenet121", img_size: int | None = None,
                         pretrained: bool = False) -> nn.Module:
    return PooledClassifier(timm_name, pretrained)


@register_model
def busbench_vit(timm_name: str = "vit_base_patch16_224", img_size: int = 224, pretrained: bool = False,
                 **vit_args) -> nn.Module:
    """timm's ViT pools by its class token (global_pool 'token')."""
    return PooledClassifier(timm_name, pretrained, img_size=img_size, **_timm_args(vit_args))


@register_model
def busbench_swin(timm_name: str = "swinv2_base_window8_256", img_size: int = 256, pretrained: bool = False,
                  **swin_args) -> nn.Module:
    return PooledClassifier(timm_name, pretrained, img_size=img_size, **_timm_args(swin_args))


class UnetMultitask(nn.Module):
    """An smp U-Net (one mask logit) whose features also feed a classifier (`classify`)."""

    def __init__(self, encoder: str, pretrained: bool, attention: str | None = None,
                 decoder_channels: Sequence[int] = DECODER_CHANNELS):
        super().__init__()
        self.net = smp.Unet(encoder, encoder_weights="imagenet" if pretrained else None, in_channels=3,
                            classes=1, decoder_attention_type=attention,
                            decoder_channels=tuple(decoder_channels))

    def decode(self, x: torch.Tensor):
        features = self.net.encoder(x)
        decoded = self.net.decoder(features)
        return features, decoded, self.net.segmentation_head(decoded)


class ShaMtl(UnetMultitask):
    def __init__(self, encoder: str = "resnet34", pretrained: bool = False,
                 decoder_channels: Sequence[int] = DECODER_CHANNELS):
        super().__init__(encoder, pretrained, attention="scse", decoder_channels=decoder_channels)
        deepest = self.net.encoder.out_channels[-1]
        self.head = dense_head(2 * deepest, (512, 128), 0.5, 1)

    def forward(self, x):
        features, _, seg = self.decode(x)
        deep = features[-1]
        gate = torch.sigmoid(nn.functional.interpolate(seg, size=deep.shape[-2:], mode="bilinear",
                                                       align_corners=False))
        hard = (deep * gate).sum(dim=(2, 3)) / gate.sum(dim=(2, 3)).clamp_min(1e-6)
        return {"cls": self.head(torch.cat([deep.mean(dim=(2, 3)), hard], dim=1)), "seg": seg}


class EncoderHeadMultitask(UnetMultitask):
    """busbench's `*_Multi` template: the busbench head on the encoder's pooled deepest features."""

    def __init__(self, encoder: str, pretrained: bool = False,
                 decoder_channels: Sequence[int] = DECODER_CHANNELS):
        super().__init__(encoder, pretrained, decoder_channels=decoder_channels)
        self.head = busbench_head(self.net.encoder.out_channels[-1])

    def forward(self, x):
        features, _, seg = self.decode(x)
        return {"cls": self.head(features[-1].mean(dim=(2, 3))), "seg": seg}


class Chowdary(UnetMultitask):
    def __init__(self, encoder: str = "resnet34", pretrained: bool = False,
                 decoder_channels: Sequence[int] = DECODER_CHANNELS):
        super().__init__(encoder, pretrained, decoder_channels=decoder_channels)
        self.stages: list[torch.Tensor] = []
        for block in self.net.decoder.blocks:
            block.register_forward_hook(lambda module, inputs, output: self.stages.append(output))
        with torch.no_grad():
            self.stages = []
            self.decode(torch.zeros(1, 3, 64, 64))
            width = self.net.encoder.out_channels[-1] + sum(s.shape[1] for s in self.stages)
        self.head = dense_head(width, (512,), 0.5, 1)

    def forward(self, x):
        self.stages = []
        features, _, seg = self.decode(x)
        pooled = [features[-1].mean(dim=(2, 3)), *(s.mean(dim=(2, 3)) for s in self.stages)]
        return {"cls": self.head(torch.cat(pooled, dim=1)), "seg": seg}


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.gate = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True),
                                  nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x):
        return x * self.gate(x.mean(dim=(2, 3)))[:, :, None, None]


class VggaVit(UnetMultitask):
    def __init__(self, embed_dim: int = 768, depth: int = 12, num_heads: int = 12, pretrained: bool = False,
                 encoder: str = "vgg16", decoder_channels: Sequence[int] = DECODER_CHANNELS):
        super().__init__(encoder, pretrained, decoder_channels=decoder_channels)
        self.project = nn.Conv2d(self.net.encoder.out_channels[-1], embed_dim, 1)
        self.excite = SqueezeExcitation(embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.blocks = nn.Sequential(*(Block(embed_dim, num_heads) for _ in range(depth)))
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, 1)

    def forward(self, x):
        features, _, seg = self.decode(x)
        tokens = self.excite(self.project(features[-1])).flatten(2).transpose(1, 2)
        tokens = self.blocks(torch.cat([self.cls_token.expand(len(tokens), -1, -1), tokens], dim=1))
        return {"cls": self.head(self.norm(tokens[:, 0])), "seg": seg}


@register_model
def sha_mtl(encoder: str = "resnet34", img_size: int | None = None, pretrained: bool = False,
            decoder_channels: Sequence[int] = DECODER_CHANNELS) -> nn.Module:
    return ShaMtl(encoder, pretrained, decoder_channels)


@register_model
def emt_net(encoder: str = "tu-efficientnet_b0", img_size: int | None = None,
            pretrained: bool = False, decoder_channels: Sequence[int] = DECODER_CHANNELS) -> nn.Module:
    return EncoderHeadMultitask(encoder, pretrained, decoder_channels)


@register_model
def chowdary(encoder: str = "resnet34", img_size: int | None = None, pretrained: bool = False,
             decoder_channels: Sequence[int] = DECODER_CHANNELS) -> nn.Module:
    return Chowdary(encoder, pretrained, decoder_channels)


@register_model
def vgga_vit(embed_dim: int = 768, depth: int = 12, num_heads: int = 12, encoder: str = "vgg16",
             img_size: int | None = None, pretrained: bool = False,
             decoder_channels: Sequence[int] = DECODER_CHANNELS) -> nn.Module:
    return VggaVit(embed_dim, depth, num_heads, pretrained, encoder, decoder_channels)
