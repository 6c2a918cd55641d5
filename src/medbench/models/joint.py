"""Joint learning (brain_ct paper §3.2): an encoder trained for segmentation is frozen and kept
in eval mode beside a trainable encoder; their pooled features are concatenated (768 + 768 for
Swin) and classified by one Linear layer.

- `joint_swin`: the encoder of a trained `swin_unet` + an ImageNet-initialised Swin encoder
  (Joint-SwinTransformer; depths (2, 2, 6, 2) for its "tiny" variant).
- `joint_cnn`: the encoder of a trained EfficientNet `unet` + a trainable EfficientNet encoder
  (the paper's joint-CNN).

The frozen weights are loaded strictly from the segmentation run's `model.pt`: a missing or
unexpected key is an error naming the checkpoint, never silently ignored. Without
`frozen_checkpoint` the model is built empty, to receive a whole joint checkpoint.
"""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
import torch.nn as nn

from medbench.checkpoint import load_checkpoint
from medbench.errors import ConfigError
from medbench.models.pretrained import imagenet_swin_state, load_into_best_part, load_matching
from medbench.models.registry import register_model
from medbench.models.swin_unet import SwinEncoder, grey_to_rgb, swin_arch


class PooledSwin(nn.Module):
    """Swin encoder -> LayerNorm'd bottleneck -> global average pool."""

    def __init__(self, **arch):
        super().__init__()
        self.encoder = SwinEncoder(in_chans=3, **arch)
        self.num_features = self.encoder.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(grey_to_rgb(x))[0].mean(dim=(1, 2))


class PooledSmpEncoder(nn.Module):
    """smp encoder -> deepest feature map -> global average pool."""

    def __init__(self, encoder_name: str, in_chans: int = 1, weights: str | None = None):
        super().__init__()
        self.encoder = smp.encoders.get_encoder(encoder_name, in_channels=in_chans, weights=weights)
        self.num_features = self.encoder.out_channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)[-1].mean(dim=(2, 3))


class JointClassifier(nn.Module):
    def __init__(self, frozen: nn.Module, trainable: nn.Module, num_classes: int = 2):
        super().__init__()
        self.frozen, self.trainable = frozen, trainable
        self.frozen.requires_grad_(False)
        self.head = nn.Linear(frozen.num_features + trainable.num_features, num_classes)

    def load_pretrained_source(self, source: dict[str, torch.Tensor], what: str) -> dict[str, int]:
        """ImageNet weights (`pretrained_path`) initialise the trainable encoder only: the frozen
        one comes from the segmentation run (`frozen_checkpoint`)."""
        return load_into_best_part(self.trainable, source, f"{what} (trainable encoder)")

    def train(self, mode: bool = True) -> JointClassifier:
        super().train(mode)
        self.frozen.eval()  # frozen means frozen: no dropout, drop-path or BN statistics updates
        return self

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            frozen = self.frozen(x)
        return {"cls": self.head(torch.cat([frozen, self.trainable(x)], dim=1))}


def load_frozen(module: nn.Module, path: str, arch: str, prefix: str) -> None:
    """Load `prefix`* of a `arch` run's model.pt into `module`, every key accounted for."""
    ckpt = load_checkpoint(path)
    if ckpt.get("arch") != arch:
        raise ConfigError(f"{path}: frozen encoder must come from a '{arch}' run, got '{ckpt.get('arch')}'")
    state = {k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    missing, unexpected = module.state_dict().keys() - state.keys(), state.keys() - module.state_dict().keys()
    if missing or unexpected or not state:
        raise ConfigError(f"{path}: frozen encoder does not match: missing {sorted(missing)[:5]}, "
                          f"unexpected {sorted(unexpected)[:5]} (same model_args as the {arch} run?)")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # same keys, other shapes
        raise ConfigError(f"{path}: frozen encoder does not match ({exc})") from exc


@register_model
def joint_swin(frozen_checkpoint: str | None = None, num_classes: int = 2, pretrained: bool = False,
               **arch) -> nn.Module:
    """Joint-SwinTransformer: frozen Swin-Unet encoder + trainable Swin encoder."""
    arch = swin_arch(arch)
    frozen, trainable = PooledSwin(**arch), PooledSwin(**arch)
    if frozen_checkpoint:
        load_frozen(frozen.encoder, frozen_checkpoint, "swin_unet", "encoder.")
    if pretrained:
        source = {f"body.{k}": v for k, v in imagenet_swin_state().items()}
        load_matching(trainable.encoder, source, "ImageNet Swin weights (trainable encoder)")
    return JointClassifier(frozen, trainable, num_classes)


@register_model
def joint_cnn(frozen_checkpoint: str | None = None, encoder_name: str = "tu-efficientnet_b0",
              num_classes: int = 2, in_chans: int = 1, img_size: int | None = None,
              pretrained: bool = False) -> nn.Module:
    """joint-CNN: frozen encoder of an EfficientNet `unet` + trainable EfficientNet encoder.
    `img_size` is unused (fully convolutional)."""
    frozen = PooledSmpEncoder(encoder_name, in_chans)
    trainable = PooledSmpEncoder(encoder_name, in_chans, "imagenet" if pretrained else None)
    if frozen_checkpoint:
        load_frozen(frozen.encoder, frozen_checkpoint, "unet", "net.encoder.")
    return JointClassifier(frozen, trainable, num_classes)
