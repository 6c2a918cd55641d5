"""ImageNet initialisation for models whose layout differs from the published checkpoint.

Swin variants of the papers (depths 2,2,2,2; other window sizes; decoders mirrored from the
encoder) cannot load timm's Swin-T weights strictly. These helpers copy every tensor whose
name and shape match and report how many were loaded and skipped.
"""

from __future__ import annotations

import logging

import torch
import torch.nn as nn

log = logging.getLogger(__name__)


def imagenet_swin_state(path: str | None = None) -> dict[str, torch.Tensor]:
    """timm's swin_tiny_patch4_window7_224 ImageNet weights: from `path`, else the HF hub."""
    import timm

    overlay = {"file": path} if path else None
    return timm.create_model("swin_tiny_patch4_window7_224", pretrained=True,
                             pretrained_cfg_overlay=overlay).state_dict()


def load_matching(module: nn.Module, source: dict[str, torch.Tensor], what: str) -> dict[str, int]:
    """Copy the tensors of `source` whose names and shapes exist in `module`."""
    target = module.state_dict()
    usable = {k: v for k, v in source.items() if k in target and target[k].shape == v.shape}
    module.load_state_dict(usable, strict=False)
    stats = {"loaded": len(usable), "skipped": len(source) - len(usable)}
    log.info("%s: %d tensors loaded, %d skipped", what, stats["loaded"], stats["skipped"])
    return stats
