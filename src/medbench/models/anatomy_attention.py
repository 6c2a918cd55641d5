"""Anatomy-Aware Attention (AAA, the bus paper's §2.2, eq. 5-7) inside a timm SwinV2 encoder.

No code of the paper exists; this is our reading of its text (the study YAML lists the choices):
    y = M(f^{l+1})                         patches merged into a feature map (NHWC -> NCHW)
    B = U(MAX-P(y) (+) AVG-P(y))           2x2 pools, "concatenated" (or summed: eq. 6's "+"),
                                           up-sampled by a 2x2 / stride-2 transposed convolution
    O = y * sigmoid(A(B))                  A: row-column kernels (9, 1) then (1, 9)
after every W-MSA + SW-MSA block pair (eq. 1-4 act on two blocks; or once at the end of each
stage). The gate has C channels (per-channel attention) or 1 (a spatial map).
"""

from __future__ import annotations

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F

from medbench.errors import ConfigError


class AnatomyAwareAttention(nn.Module):
    """NHWC in, NHWC out (timm SwinV2 blocks' layout)."""

    def __init__(self, channels: int, merge: str = "concat", gate_channels: str = "C", kernel: int = 9):
        super().__init__()
        if merge not in ("concat", "sum") or gate_channels not in ("C", "1"):
            raise ConfigError(f"aaa: merge must be concat or sum, gate_channels C or 1; "
                              f"got {merge}, {gate_channels}")
        self.merge = merge
        gate = channels if gate_channels == "C" else 1
        self.up = nn.ConvTranspose2d(2 * channels if merge == "concat" else channels, channels, 2, stride=2)
        self.row = nn.Conv2d(channels, channels, (kernel, 1), padding=(kernel // 2, 0))
        self.column = nn.Conv2d(channels, gate, (1, kernel), padding=(0, kernel // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.permute(0, 3, 1, 2)
        pooled = (F.max_pool2d(y, 2, ceil_mode=True), F.avg_pool2d(y, 2, ceil_mode=True))
        b = torch.cat(pooled, dim=1) if self.merge == "concat" else pooled[0] + pooled[1]
        b = self.up(b)[..., :y.shape[2], :y.shape[3]]  # odd sizes: the pools rounded up
        gated = y * torch.sigmoid(self.column(self.row(b)))
        return gated.permute(0, 2, 3, 1)


def with_attention(blocks: nn.Module, channels: int, placement: str, **aaa) -> nn.Sequential:
    """A stage's blocks with an AAA after every block pair ("pair") or after the last ("stage_end")."""
    if placement not in ("pair", "stage_end"):
        raise ConfigError(f"aaa.placement: {placement!r}; known: pair, stage_end")
    layers, blocks = [], list(blocks)
    for i, block in enumerate(blocks, 1):
        layers.append(block)
        if (placement == "pair" and i % 2 == 0) or (placement == "stage_end" and i == len(blocks)):
            layers.append(AnatomyAwareAttention(channels, **aaa))
    return nn.Sequential(*layers)


class SwinEncoder(nn.Module):
    """A timm SwinV2 (default: the paper's SwinTransformer-V2 Base 256) returning its last stage
    (stride 32) as NCHW; with `anatomy_attention` (a dict of AAA options, {} for the defaults)
    its stages carry AAA blocks. Other keyword arguments (embed_dim, depths, num_heads,
    window_size) shrink it for CPU budgets."""

    def __init__(self, name: str = "swinv2_base_window8_256", img_size: int = 256,
                 anatomy_attention: dict | None = None, pretrained: bool = False, **overrides):
        super().__init__()
        overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
        self.net = timm.create_model(name, pretrained=pretrained, num_classes=0, img_size=img_size,
                                     **overrides)
        if anatomy_attention is not None:
            options = {"placement": "pair", **anatomy_attention}
            for stage in self.net.layers:
                stage.blocks = with_attention(stage.blocks, stage.blocks[0].dim, **options)
        self.out_channels = self.net.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(x).permute(0, 3, 1, 2)
