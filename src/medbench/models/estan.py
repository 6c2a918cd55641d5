"""MT-ESTAN (Shareef et al., busbench `download/MT-ESTAN.py`, ported from Keras) and the
Hybrid-MT-ESTAN family of the bus paper: a ResNet in parallel with an ESTAN branch, a U-shaped
decoder with skips from both, and a classifier on the decoder's first up block.

ESTAN block (channels c, row-column kernel k): a square branch (3x3 -> BN -> 3x3; block 1
starts 1x1) and a row-column branch (1xk -> kx1 -> BN -> 3x3) concatenated and fused; ReLU after
every convolution, 'same' padding, 2x2 max-pool between blocks (blocks 1-5 at strides 1-16).

ResNet taps: busbench's Keras ResNet50 is v1 (stride in the first 1x1 conv), timm's is v1.5
(stride in the 3x3), so Keras `convN_block1_1_bn` (the first block's first BN, at the reduced
resolution) is timm's `layer{N-1}[0].bn2` for N = 3..5 and `layer1[0].bn1` for N = 2;
`conv1_conv` / `conv1_relu` are timm's conv1 / act1 outputs and `convN_blockK_out` the
layer{N-1} outputs.

Variants (`swin`): none (MT-ESTAN); a SwinV2 encoder whose last stage (stride 32) joins the
bottleneck (MT-ESTAN + Swin, the paper's Table 3); the same with Anatomy-Aware Attention blocks
in the Swin stages (Hybrid-MT-ESTAN). Outputs {"cls": (B, 1) logit, "seg": (B, 1, H, W) logits}.
"""

from __future__ import annotations

from collections.abc import Sequence

import timm
import torch
import torch.nn as nn

from medbench.models.anatomy_attention import SwinEncoder
from medbench.models.registry import register_model

# (square branch first kernel, row-column kernel, row-column last kernel, fuse kernel, BN) per
# block, busbench MT-ESTAN.py (block 5's row-column pair is 3x7 -> 7x3, without BN)
ESTAN_BLOCKS = ((1, (1, 15), 3, 5, True), (3, (1, 13), 3, 5, True), (3, (1, 11), 1, 3, True),
                (3, (1, 9), 3, 1, True), (3, (3, 7), 3, 1, False))


def conv(cin: int, cout: int, kernel, bn: bool = False) -> nn.Sequential:
    """Conv ('same' padding) -> ReLU (-> BN: Keras MT-ESTAN normalises after the activation)."""
    kernel = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
    layers = [nn.Conv2d(cin, cout, kernel, padding=(kernel[0] // 2, kernel[1] // 2)), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.BatchNorm2d(cout)) if bn else nn.Sequential(*layers)


class EstanBlock(nn.Module):
    def __init__(self, cin: int, channels: int, first: int, row_column: tuple[int, int], last: int,
                 fuse: int, bn: bool):
        super().__init__()
        self.square = nn.Sequential(conv(cin, channels, first, bn), conv(channels, channels, 3))
        column = (row_column[1], row_column[0])  # 1xk -> kx1 (block 5: 3x7 -> 7x3)
        self.row_column = nn.Sequential(conv(cin, channels, row_column), conv(channels, channels, column, bn),
                                        conv(channels, channels, last))
        self.fuse = conv(2 * channels, channels, fuse)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.square(x), self.row_column(x)], dim=1))


class Estan(nn.Module):
    """The five ESTAN blocks at full, 1/2, ... 1/16 resolution; returns every block's output."""

    def __init__(self, widths: Sequence[int], in_chans: int = 3):
        super().__init__()
        cins = [in_chans, *widths[:-1]]
        specs = zip(cins, widths, ESTAN_BLOCKS, strict=True)
        self.blocks = nn.ModuleList(EstanBlock(cin, w, *spec) for cin, w, spec in specs)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for i, block in enumerate(self.blocks):
            x = block(self.pool(x) if i else x)
            outputs.append(x)
        return outputs


class ResNetTaps(nn.Module):
    """A timm ResNet whose Keras-named tap points (see the module docstring) are returned as
    {name: tensor}: conv1_conv, conv1_relu and, for N = 2..5, convN_first (the first block's
    reduced-resolution BN) and convN_out."""

    def __init__(self, name: str = "resnet50", pretrained: bool = False):
        super().__init__()
        self.net = timm.create_model(name, pretrained=pretrained, num_classes=0, global_pool="")
        self._taps: dict[str, torch.Tensor] = {}
        points = {"conv1_conv": self.net.conv1, "conv1_relu": self.net.act1,
                  "conv2_first": self.net.layer1[0].bn1, "conv2_out": self.net.layer1}
        for n in (3, 4, 5):
            layer = getattr(self.net, f"layer{n - 1}")
            points |= {f"conv{n}_first": layer[0].bn2, f"conv{n}_out": layer}
        for name, module in points.items():
            module.register_forward_hook(self._keep(name))
        self.channels = self._channels()

    def _keep(self, name: str):
        def hook(module, inputs, output):
            self._taps[name] = output
        return hook

    def _channels(self) -> dict[str, int]:
        with torch.no_grad():
            return {k: v.shape[1] for k, v in self.forward(torch.zeros(1, 3, 64, 64)).items()}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self._taps = {}
        self.net(x)
        return dict(self._taps)


class UpBlock(nn.Module):
    """busbench's up block: concat(x, out) -> 3x3 -> concat(first) -> ConvT 2x2/2 -> concat(estan)
    -> 1x1 -> 3x3 (all `width` channels). Its transposed convolutions, like every Conv2DTranspose
    of MT-ESTAN.py, have no activation (Keras' default: linear)."""

    def __init__(self, cin: int, out_ch: int, first_ch: int, estan_ch: int, width: int):
        super().__init__()
        self.conv_a = conv(cin + out_ch, width, 3)
        self.up = nn.ConvTranspose2d(width + first_ch, width, 2, stride=2)
        self.conv_b = nn.Sequential(conv(width + estan_ch, width, 1), conv(width, width, 3))

    def forward(self, x, out, first, estan):
        x = self.conv_a(torch.cat([x, out], dim=1))
        x = self.up(torch.cat([x, first], dim=1))
        return self.conv_b(torch.cat([x, estan], dim=1))


def dense_head(cin: int, hidden: Sequence[int], dropout: float, dropout_after: int) -> nn.Sequential:
    """Dense layers (ReLU) to one logit, with dropout after the `dropout_after`-th of them."""
    layers: list[nn.Module] = []
    for i, width in enumerate(hidden):
        layers += [nn.Linear(cin, width), nn.ReLU(inplace=True)]
        if i + 1 == dropout_after:
            layers.append(nn.Dropout(dropout))
        cin = width
    return nn.Sequential(*layers, nn.Linear(cin, 1))


class MTEstan(nn.Module):
    def __init__(self, resnet: str = "resnet50", estan_widths: Sequence[int] = (32, 64, 128, 256, 512),
                 swin: nn.Module | None = None, head: Sequence[int] = (512, 128), head_dropout_after: int = 1,
                 pretrained: bool = False):
        super().__init__()
        w = list(estan_widths)
        self.resnet, self.estan, self.swin = ResNetTaps(resnet, pretrained), Estan(w), swin
        ch = self.resnet.channels
        bottleneck = ch["conv5_out"] + ch["conv5_first"] + (swin.out_channels if swin is not None else 0)
        self.bottleneck = nn.ConvTranspose2d(bottleneck, w[4], 2, stride=2)
        self.ups = nn.ModuleList([
            UpBlock(w[4] + w[4], ch["conv4_out"], ch["conv4_first"], w[3], w[3]),
            UpBlock(w[3], ch["conv3_out"], ch["conv3_first"], w[2], w[2]),
            UpBlock(w[2], ch["conv2_out"], ch["conv2_first"], w[1], w[1]),
        ])
        self.up4_a = conv(w[1] + ch["conv1_relu"], w[0], 3)
        self.up4_t = nn.ConvTranspose2d(w[0] + ch["conv1_conv"], w[0], 2, stride=2)
        self.up4_conv1_t = nn.ConvTranspose2d(ch["conv1_conv"], w[0], 2, stride=2)
        self.up4_b = conv(w[0] + w[0], w[0], 5)
        self.up4_c = conv(w[0] + w[0], w[0], 3)
        self.seg_head = nn.Conv2d(w[0], 1, 1)
        # classifier on the global average of `up6` (busbench: concat(bottleneck up, conv4 out))
        self.classifier = dense_head(w[4] + w[4] + ch["conv4_out"], head, 0.5, head_dropout_after)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        taps, estan = self.resnet(x), self.estan(x)
        deep = [taps["conv5_out"], taps["conv5_first"]] + ([self.swin(x)] if self.swin is not None else [])
        up = torch.cat([self.bottleneck(torch.cat(deep, dim=1)), estan[4]], dim=1)
        up6 = torch.cat([up, taps["conv4_out"]], dim=1)
        cls = self.classifier(up6.mean(dim=(2, 3)))
        y = up
        for block, n, e in zip(self.ups, (4, 3, 2), (3, 2, 1), strict=True):
            y = block(y, taps[f"conv{n}_out"], taps[f"conv{n}_first"], estan[e])
        y = self.up4_a(torch.cat([y, taps["conv1_relu"]], dim=1))
        y = self.up4_t(torch.cat([y, taps["conv1_conv"]], dim=1))
        y = self.up4_b(torch.cat([y, estan[0]], dim=1))
        y = self.up4_c(torch.cat([y, self.up4_conv1_t(taps["conv1_conv"])], dim=1))
        return {"cls": cls, "seg": self.seg_head(y)}


ESTAN_WIDTHS = (32, 64, 128, 256, 512)  # busbench MT-ESTAN.py


@register_model
def mt_estan(resnet: str = "resnet50", estan_widths: Sequence[int] = ESTAN_WIDTHS,
             img_size: int | None = None, pretrained: bool = False
             ) -> nn.Module:
    """MT-ESTAN as busbench's code: ResNet50 + ESTAN, classifier GAP -> 512 -> Dropout 0.5 -> 128 -> 1."""
    return MTEstan(resnet, estan_widths, pretrained=pretrained)


def _with_swin(resnet, estan_widths, swin, aaa, img_size, pretrained) -> nn.Module:
    """The hybrid's classifier: three dense layers (512-256-128), dropout 0.5, the final dense layer."""
    encoder = SwinEncoder(img_size=img_size, anatomy_attention=aaa, pretrained=pretrained, **(swin or {}))
    return MTEstan(resnet, estan_widths, encoder, head=(512, 256, 128), head_dropout_after=3,
                   pretrained=pretrained)


@register_model
def mt_estan_swin(resnet: str = "resnet50", estan_widths: Sequence[int] = ESTAN_WIDTHS,
                  swin: dict | None = None, img_size: int = 256, pretrained: bool = False) -> nn.Module:
    """MT-ESTAN + a SwinV2 encoder at the bottleneck, no AAA (the paper's Table 3 ablation)."""
    return _with_swin(resnet, estan_widths, swin, None, img_size, pretrained)


@register_model
def hybrid_mt_estan(resnet: str = "resnet50", estan_widths: Sequence[int] = ESTAN_WIDTHS,
                    swin: dict | None = None, aaa: dict | None = None, img_size: int = 256,
                    pretrained: bool = False) -> nn.Module:
    """Hybrid-MT-ESTAN: MT-ESTAN + a SwinV2 encoder whose stages carry Anatomy-Aware Attention."""
    return _with_swin(resnet, estan_widths, swin, aaa or {}, img_size, pretrained)
