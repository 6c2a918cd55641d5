"""Swin-Unet (Cao et al. 2022) and MTL-Swin-Unet (the brain_ct paper).

Swin-Unet follows the official implementation (HuCaoFighting/Swin-Unet,
SwinTransformerSys with final_upsample="expand_first") module for module, so the parameter
count is the same for the same settings:

- encoder: timm's SwinTransformer (patch embedding + LayerNorm, stages of Swin blocks with
  PatchMerging, final LayerNorm); the skips are the inputs of each encoder stage's blocks,
  as in the official `x_downsample`;
- decoder (written here, no library has it): PatchExpand of the bottleneck, then per
  resolution a skip concatenation projected 2C -> C, Swin blocks (timm's), PatchExpand;
  LayerNorm; FinalPatchExpand_X4; 1x1 conv without bias to the classes.

MTL-Swin-Unet shares the encoder between classification (LayerNorm'd bottleneck -> global
average pool -> Linear) and the pixel tasks (segmentation, reconstruction). By default the
pixel tasks share one decoder and differ only in their final 1x1 conv (the authors' code,
ko-hirata/Swin-Multitask); `decoder="separate"` gives each its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
import torch.nn as nn
from timm.models.swin_transformer import SwinTransformer, SwinTransformerBlock

from medbench.errors import ConfigError
from medbench.models.pretrained import imagenet_swin_state, load_matching
from medbench.models.registry import register_model

log = logging.getLogger(__name__)

PIXEL_TASKS = ("seg", "rec")


def grey_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Greyscale CT -> the 3 channels an ImageNet stem expects."""
    return x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x


class PatchExpand(nn.Module):
    """(B, H, W, C) -> (B, sH, sW, C_out): Linear C -> s^2 C_out (no bias), rearrange, LayerNorm.

    s=2, C_out=C/2 is Swin-Unet's PatchExpand; s=4, C_out=C is its FinalPatchExpand_X4.
    """

    def __init__(self, dim: int, scale: int = 2, out_dim: int | None = None):
        super().__init__()
        self.scale = scale
        self.out_dim = out_dim or dim // 2
        self.expand = nn.Linear(dim, scale * scale * self.out_dim, bias=False)
        self.norm = nn.LayerNorm(self.out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        s, c = self.scale, self.out_dim
        x = self.expand(x).view(b, h, w, s, s, c).permute(0, 1, 3, 2, 4, 5)
        return self.norm(x.reshape(b, h * s, w * s, c))


def _swin_blocks(dim, resolution, depth, num_heads, window_size, mlp_ratio, qkv_bias,
                 drop_rate, attn_drop_rate, drop_path: Sequence[float]) -> nn.Sequential:
    """Alternating W-MSA / SW-MSA blocks; timm drops the shift where resolution <= window."""
    return nn.Sequential(*[
        SwinTransformerBlock(
            dim=dim, input_resolution=resolution, num_heads=num_heads, window_size=window_size,
            shift_size=0 if i % 2 == 0 else window_size // 2, mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias, proj_drop=drop_rate, attn_drop=attn_drop_rate,
            drop_path=drop_path[i],
        )
        for i in range(depth)
    ])


class SwinEncoder(nn.Module):
    """timm's SwinTransformer returning the normed bottleneck and the per-stage skips (NHWC)."""

    def __init__(self, img_size=224, patch_size=4, in_chans=3, embed_dim=96,
                 depths=(2, 2, 2, 2), num_heads=(3, 6, 12, 24), window_size=7, mlp_ratio=4.0,
                 qkv_bias=True, drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.2):
        super().__init__()
        self.body = SwinTransformer(
            img_size=img_size, patch_size=patch_size, in_chans=in_chans, num_classes=0,
            embed_dim=embed_dim, depths=tuple(depths), num_heads=tuple(num_heads),
            window_size=window_size, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
            drop_rate=drop_rate, proj_drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate,
        )
        self.num_features = int(embed_dim * 2 ** (len(depths) - 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.body.patch_embed(x)
        skips = []
        for stage in self.body.layers:
            x = stage.downsample(x)
            skips.append(x)
            x = stage.blocks(x)
        return self.body.norm(x), skips


class SwinUnetDecoder(nn.Module):
    """Swin-Unet's symmetric decoder: mirrors the encoder stage by stage (NHWC in, NCHW out)."""

    def __init__(self, img_size=224, patch_size=4, embed_dim=96, depths=(2, 2, 2, 2),
                 num_heads=(3, 6, 12, 24), window_size=7, mlp_ratio=4.0, qkv_bias=True,
                 drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.2):
        super().__init__()
        n = len(depths)
        grid = img_size // patch_size
        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.first_expand = PatchExpand(embed_dim * 2 ** (n - 1))
        self.concat_back = nn.ModuleList()
        self.stages = nn.ModuleList()
        # levels n-2 .. 0: decoder stage for encoder level `lvl` (official layers_up[n-1-lvl])
        for lvl in reversed(range(n - 1)):
            dim, res = embed_dim * 2**lvl, grid // 2**lvl
            self.concat_back.append(nn.Linear(2 * dim, dim))
            stage = nn.Module()
            stage.blocks = _swin_blocks(dim, (res, res), depths[lvl], num_heads[lvl], window_size,
                                        mlp_ratio, qkv_bias, drop_rate, attn_drop_rate,
                                        dpr[sum(depths[:lvl]):sum(depths[:lvl + 1])])
            stage.upsample = PatchExpand(dim) if lvl > 0 else nn.Identity()
            self.stages.append(stage)
        self.norm_up = nn.LayerNorm(embed_dim)
        self.final_expand = PatchExpand(embed_dim, scale=patch_size, out_dim=embed_dim)

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        x = self.first_expand(x)
        for concat, stage, skip in zip(self.concat_back, self.stages, reversed(skips[:-1]),
                                       strict=True):
            x = stage.upsample(stage.blocks(concat(torch.cat([x, skip], dim=-1))))
        return self.final_expand(self.norm_up(x)).permute(0, 3, 1, 2)


ARCH_KEYS = ("img_size", "patch_size", "embed_dim", "depths", "num_heads", "window_size",
             "mlp_ratio", "qkv_bias", "drop_rate", "attn_drop_rate", "drop_path_rate")


def swin_arch(kwargs: dict) -> dict:
    """The Swin encoder's arguments, lists as tuples; an unknown name (a YAML typo) is refused."""
    unknown = sorted(set(kwargs) - set(ARCH_KEYS))
    if unknown:
        raise ConfigError(f"unexpected Swin argument(s) {unknown}; known: {list(ARCH_KEYS)}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


class MTLSwinUnet(nn.Module):
    """Swin encoder shared by classification, segmentation and reconstruction heads.

    `tasks` picks any of cls / seg / rec. With only "seg" this is Swin-Unet exactly.
    """

    def __init__(self, tasks: Sequence[str] = ("cls", "seg", "rec"), num_classes: int = 2,
                 seg_classes: int = 2, in_chans: int = 1, decoder: str = "shared",
                 pretrained: bool = False, **arch):
        super().__init__()
        unknown = set(tasks) - {"cls", *PIXEL_TASKS}
        if unknown or not tasks:
            raise ValueError(f"tasks must be a non-empty subset of cls/seg/rec, got {tasks}")
        if decoder not in ("shared", "separate"):
            raise ValueError(f"decoder must be 'shared' or 'separate', got {decoder!r}")
        self.tasks, self.in_chans = tuple(tasks), in_chans
        arch = swin_arch(arch)
        embed_dim = arch.get("embed_dim", 96)
        self.encoder = SwinEncoder(in_chans=3, **arch)
        pixel_tasks = [t for t in self.tasks if t in PIXEL_TASKS]
        n_decoders = len(pixel_tasks) if decoder == "separate" else min(1, len(pixel_tasks))
        self.decoders = nn.ModuleList(SwinUnetDecoder(**arch) for _ in range(n_decoders))
        self.decoder_of = {t: (i if decoder == "separate" else 0) for i, t in enumerate(pixel_tasks)}
        out_channels = {"seg": seg_classes, "rec": in_chans}
        self.heads = nn.ModuleDict({
            t: nn.Conv2d(embed_dim, out_channels[t], kernel_size=1, bias=False) for t in pixel_tasks
        })
        if "cls" in self.tasks:
            self.heads["cls"] = nn.Linear(self.encoder.num_features, num_classes)
        if pretrained:
            load_imagenet_swin(self, imagenet_swin_state())

    def load_pretrained_source(self, source: dict[str, torch.Tensor], what: str) -> dict[str, int]:
        """A local file that is not this model's own checkpoint is ImageNet Swin (timm's names)."""
        return load_imagenet_swin(self, source, what)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        bottleneck, skips = self.encoder(grey_to_rgb(x))
        out = {}
        if "cls" in self.heads:
            out["cls"] = self.heads["cls"](bottleneck.mean(dim=(1, 2)))
        decoded: dict[int, torch.Tensor] = {}
        for task, i in self.decoder_of.items():
            if i not in decoded:
                decoded[i] = self.decoders[i](bottleneck, skips)
            out[task] = self.heads[task](decoded[i])
        return out


def load_imagenet_swin(model: MTLSwinUnet, source: dict[str, torch.Tensor],
                       what: str = "ImageNet Swin weights") -> dict[str, int]:
    """Seed encoder AND mirrored decoder stages from ImageNet Swin weights (a timm-format state
    dict), as Swin-Unet does. Encoder stage i's blocks also initialise the decoder stage of
    level i. Tensors whose shapes differ (a deeper checkpoint stage, another window size) are
    skipped and counted.
    """
    mapped: dict[str, torch.Tensor] = {}
    n_levels = len(model.encoder.body.layers)
    for key, value in source.items():
        mapped[f"encoder.body.{key}"] = value
        parts = key.split(".")
        if parts[0] == "layers" and parts[2] == "blocks" and int(parts[1]) < n_levels - 1:
            stage = n_levels - 2 - int(parts[1])
            for d in range(len(model.decoders)):
                mapped[f"decoders.{d}.stages.{stage}.{'.'.join(parts[2:])}"] = value
    return load_matching(model, mapped, f"{what} (encoder + mirrored decoder)")

@register_model
def swin_unet(num_classes: int = 2, **kwargs) -> nn.Module:
    """Swin-Unet (Cao et al. 2022): segmentation only, output {"seg": logits}."""
    return MTLSwinUnet(tasks=("seg",), seg_classes=num_classes, **kwargs)


@register_model
def mtl_swin_unet(tasks: Sequence[str] = ("cls", "seg", "rec"), **kwargs) -> nn.Module:
    """MTL-Swin-Unet: Swin-Unet + classification head; task set configurable."""
    return MTLSwinUnet(tasks=tasks, **kwargs)
