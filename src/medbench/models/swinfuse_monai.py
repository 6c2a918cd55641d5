"""The MONAI networks of SwinFUSE (models/swinfuse.py registers them): the SwinViT encoder with
the domain-invariance module, the self-supervised pre-training network, Swin UNETR returning
medbench's output dict, and the transfer of a pre-trained encoder. Imported only when one is
built: MONAI takes seconds to import, which every other study's jobs would pay.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.nets import SwinUNETR
from monai.networks.nets.swin_unetr import SwinTransformer
from monai.utils import ensure_tuple_rep

from medbench.checkpoint import load_checkpoint
from medbench.errors import ConfigError
from medbench.models.swinfuse import DomainInvarianceModule


class SwinFUSEEncoder(SwinTransformer):
    """MONAI's SwinTransformer with the DIM after the patch embedding (`pair: self`, as released:
    the two embeddings of one input differ only by dropout). `embedding` keeps the last DIM output
    (before the stages) for the pre-training's domain term."""

    def __init__(self, roi, dim: dict, **kwargs):
        super().__init__(**kwargs)
        patch = kwargs["patch_size"]
        grid = [r // p for r, p in zip(roi, patch, strict=True)]
        self.dim = DomainInvarianceModule(
            grid[1] * grid[2], dim.get("heads", 3), dim.get("attend_across_batch", False),
            dim.get("residual", True), dim.get("zero_init", True),
        )
        self.embedding: torch.Tensor | None = None

    def forward(self, x, normalize=True):
        x0 = self.dim(self.pos_drop(self.patch_embed(x)), self.pos_drop(self.patch_embed(x)))
        self.embedding = x0
        outs = [self.proj_out(x0, normalize)]
        for stage in (self.layers1, self.layers2, self.layers3, self.layers4):
            x0 = stage[0](x0.contiguous())
            outs.append(self.proj_out(x0, normalize))
        return outs


DIM_OPTIONS = {"heads", "attend_across_batch", "residual", "zero_init"}


def swin_vit(
    in_channels: int,
    feature_size: int,
    roi,
    window_size=7,
    depths=(2, 2, 2, 2),
    num_heads=(3, 6, 12, 24),
    drop_rate=0.0,
    attn_drop_rate=0.0,
    dropout_path_rate=0.0,
    dim: dict | None = None,
) -> SwinTransformer:
    """The encoder Swin UNETR builds (same arguments, so its weights load either way)."""
    kwargs = dict(
        in_chans=in_channels,
        embed_dim=feature_size,
        window_size=ensure_tuple_rep(window_size, 3),
        patch_size=ensure_tuple_rep(2, 3),
        depths=depths,
        num_heads=num_heads,
        drop_rate=drop_rate,
        attn_drop_rate=attn_drop_rate,
        drop_path_rate=dropout_path_rate,
    )
    if any(r % 32 for r in roi):
        raise ConfigError(f"data.image_size {list(roi)}: Swin UNETR needs every side divisible by 32")
    unknown = sorted(set(dim or {}) - DIM_OPTIONS)
    if unknown:
        raise ConfigError(f"model_args.dim: unknown option(s) {unknown}; known: {sorted(DIM_OPTIONS)}")
    return SwinFUSEEncoder(roi, dim, **kwargs) if dim else SwinTransformer(**kwargs)


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [
        nn.Conv3d(cin, cout, 3, padding=1),
        nn.InstanceNorm3d(cout),
        nn.LeakyReLU(),
        nn.Upsample(scale_factor=2, mode="trilinear", align_corners=False),
    ]


class SwinSSL(nn.Module):
    """Pre-training network: encoder + rotation, contrastive and reconstruction heads."""

    def __init__(self, encoder: SwinTransformer, feature_size: int, in_channels: int = 1):
        super().__init__()
        self.encoder = encoder
        c = 16 * feature_size
        self.rotation_head = nn.Linear(c, 4)
        self.contrastive_head = nn.Linear(c, 512)
        layers = [m for i in range(4) for m in _block(c // 2**i, c // 2 ** (i + 1))]
        self.reconstruction = nn.Sequential(
            *layers, *_block(c // 16, c // 16), nn.Conv3d(c // 16, in_channels, 1)
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        outs = self.encoder(x)
        deepest = outs[4]
        tokens = deepest.flatten(2).transpose(1, 2)  # (B, N, C)
        if tokens.shape[1] < 2:
            raise ConfigError(
                "swin_ssl: the deepest stage has one token; the contrastive head reads "
                "token 1 (use an image_size with a side of 64 or more)"
            )
        embedding = getattr(self.encoder, "embedding", None)
        embedding = outs[0] if embedding is None else embedding  # without DIM: the patch embedding
        return {
            "rot": self.rotation_head(tokens[:, 0]),
            "contrast": self.contrastive_head(tokens[:, 1]),
            "rec": self.reconstruction(deepest),
            "embedding": embedding.mean(dim=(2, 3, 4)),
        }


def build_swin_ssl(img_size, feature_size: int, frozen_checkpoint: str | None, encoder_args: dict) -> SwinSSL:
    """The pre-training network `swin_ssl` (documented in models/swinfuse.py)."""
    model = SwinSSL(swin_vit(1, feature_size, img_size, **encoder_args), feature_size)
    if frozen_checkpoint:
        encoder = encoder_state(frozen_checkpoint)
        missing, unexpected = model.encoder.load_state_dict(encoder, strict=False)
        if unexpected or any(not k.startswith("dim.") for k in missing):
            raise ConfigError(
                f"{frozen_checkpoint}: encoder keys do not match (missing {missing[:3]}, "
                f"unexpected {unexpected[:3]})"
            )
    return model


def encoder_state(path) -> dict:
    """The encoder weights (`encoder.*`, prefix removed) of a pre-training run's checkpoint."""
    state = load_checkpoint(path)["state_dict"]
    encoder = {k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}
    if not encoder:
        raise ConfigError(f"{path}: no pre-trained encoder (encoder.*) in this checkpoint")
    return encoder


class SegmentationOutput(nn.Module):
    """Swin UNETR returning the {"seg": logits} dict every medbench model returns."""

    def __init__(self, net: SwinUNETR, roi):
        super().__init__()
        self.net, self.roi = net, list(roi)  # sliding windows must be `roi`: the DIM is tied to it

    def forward(self, x):
        return {"seg": self.net(x)}

    def output_layer(self) -> nn.Module:
        return self.net.out


def build_swin_unetr(img_size, in_channels: int, out_channels: int, feature_size: int, norm_name: str,
                     frozen_checkpoint: str | None, inflate_patch_embed: bool, encoder_args: dict
                     ) -> SegmentationOutput:
    """The fine-tuning network `swin_unetr` (documented in models/swinfuse.py)."""
    net = SwinUNETR(
        in_channels=in_channels,
        out_channels=out_channels,
        feature_size=feature_size,
        norm_name=norm_name,
        **{k: v for k, v in encoder_args.items() if k != "dim"},
    )
    net.swinViT = swin_vit(in_channels, feature_size, img_size, **encoder_args)
    if frozen_checkpoint:
        transfer_encoder(
            net.swinViT,
            encoder_state(frozen_checkpoint),
            in_channels,
            inflate_patch_embed,
            frozen_checkpoint,
        )
    return SegmentationOutput(net, img_size)


def transfer_encoder(encoder: nn.Module, state: dict, in_channels: int, inflate: bool, source) -> None:
    """Load a pre-trained encoder into `encoder`, strictly but for a patch embedding of other channels."""
    own = encoder.state_dict()
    patch = [k for k in state if k.startswith("patch_embed.") and state[k].shape != own[k].shape]
    if patch and in_channels == 1:
        raise ConfigError(f"{source}: patch embedding shape differs from the model's")
    if inflate:
        state = {**state, **{k: state[k].repeat(1, in_channels, 1, 1, 1) / in_channels for k in patch}}
    else:
        state = {k: v for k, v in state.items() if k not in patch}
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if unexpected or set(missing) - set(patch):
        raise ConfigError(
            f"{source}: the pre-trained encoder does not match this model "
            f"(missing {sorted(set(missing) - set(patch))[:4]}, unexpected {unexpected[:4]})"
        )
