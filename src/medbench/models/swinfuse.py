"""SwinFUSE (Talasila et al., ISBI 2024; devalab/SwinFUSE): MONAI's Swin UNETR, its SwinViT
encoder with the domain-invariance module (DIM), and the self-supervised pre-training head.

DIM (released `SwinTransformerCoAttn`): two patch embeddings of the input, each viewed as
(B, C*D, H*W) -- C*D row tokens of H*W features -- attend to each other through two
multi-head attentions (q from one, k/v from the other), and their mean replaces the patch
embedding for the Swin stages and the first UNETR skip. The released code leaves
`nn.MultiheadAttention` at batch_first=False, so attention runs across the samples of a
mini-batch; `attend_across_batch: false` (default) attends within each sample.

SSL head (released `SSLHead`): rotation logits (4) from token 0 and a contrastive embedding
(512) from token 1 of the deepest stage, and a convolutional decoder that reconstructs the
input from it ("vae" mode).

Models here are registered for the recipes: `swin_ssl` (pre-training) and `swin_unetr`
(fine-tuning; with `dim:` it is SwinFUSE's downstream network); their MONAI networks are in
models/swinfuse_monai.py, imported when one is built.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from medbench.errors import ConfigError
from medbench.models.registry import register_model


class DomainInvarianceModule(nn.Module):
    """Cross-attention between two (B, C, D, H, W) patch embeddings; output of the same shape.

    `residual` (ours; off: the released code) adds the first embedding to the attention output,
    and `zero_init` starts both attentions' output projections at zero. Without them the module
    replaces the patch embedding: untrained, its attention over the C*D rows is uniform, so
    every row becomes the same projected mean row, the Swin stages see no variation below
    LayerNorm's epsilon and every crop gets the same embedding (measured on the toy: the
    contrastive term sits at its collapsed value ln(2N - 1) for the whole pre-training). With
    both, the encoder starts as the encoder without the module and learns what to add.
    """

    def __init__(self, grid_hw: int, heads: int, attend_across_batch: bool = False,
                 residual: bool = True, zero_init: bool = True):
        super().__init__()
        if grid_hw % heads:
            raise ConfigError(
                f"dim: H*W = {grid_hw} features of the patch grid are not divisible by heads = {heads}"
            )
        self.attend_across_batch, self.residual = attend_across_batch, residual
        self.mh1 = nn.MultiheadAttention(grid_hw, heads, batch_first=not attend_across_batch)
        self.mh2 = nn.MultiheadAttention(grid_hw, heads, batch_first=not attend_across_batch)
        if zero_init:
            for attention in (self.mh1, self.mh2):
                nn.init.zeros_(attention.out_proj.weight)
                nn.init.zeros_(attention.out_proj.bias)

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        b, c, d, h, w = first.shape
        # (B, C*D, H*W): the released code's view; with batch_first=False the same tensor is read
        # as (L=B, N=C*D, E), i.e. attention across the batch
        v1, v2 = first.reshape(b, c * d, h * w), second.reshape(b, c * d, h * w)
        o1, _ = self.mh1(v2, v1, v1, need_weights=False)
        o2, _ = self.mh2(v1, v2, v2, need_weights=False)
        attended = ((o1 + o2) / 2).reshape(b, c, d, h, w)
        return first + attended if self.residual else attended


def _encoder_args(model_args: dict) -> dict:
    keys = (
        "feature_size",
        "window_size",
        "depths",
        "num_heads",
        "drop_rate",
        "attn_drop_rate",
        "dropout_path_rate",
        "dim",
    )
    return {k: model_args[k] for k in keys if k in model_args}


@register_model
def swin_ssl(img_size, feature_size: int = 48, frozen_checkpoint: str | None = None, **kwargs) -> nn.Module:
    """Pre-training network; `frozen_checkpoint` (the `requires` run): initialise the encoder from
    that pre-training run's encoder (SwinFUSE starts from the CT run: the released code loads
    `swinvit_new.pt`); the DIM, absent there, stays random."""
    from medbench.models.swinfuse_monai import build_swin_ssl

    kwargs.pop("pretrained", None)  # ImageNet does not apply; `pretrained_path`: see the registry
    return build_swin_ssl(img_size, feature_size, frozen_checkpoint, _encoder_args(kwargs))


@register_model
def swin_unetr(
    img_size,
    in_channels: int = 1,
    out_channels: int = 2,
    feature_size: int = 48,
    norm_name: str = "instance",
    frozen_checkpoint: str | None = None,
    inflate_patch_embed: bool = False,
    **kwargs,
) -> nn.Module:
    """MONAI Swin UNETR (with `dim:` the SwinFUSE encoder). `frozen_checkpoint`: the pre-training
    run whose encoder initialises `swinViT` (strict: only the patch embedding may be missing,
    and only when the task has more input channels than pre-training's one; it is then
    re-initialised as the code does, or its kernel repeated / in_channels with
    `inflate_patch_embed`)."""
    from medbench.models.swinfuse_monai import build_swin_unetr

    kwargs.pop("pretrained", None)  # ImageNet does not apply; `pretrained_path`: see the registry
    return build_swin_unetr(img_size, in_channels, out_channels, feature_size, norm_name, frozen_checkpoint,
                            inflate_patch_embed, _encoder_args(kwargs))
