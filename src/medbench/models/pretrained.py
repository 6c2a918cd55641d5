"""Initialisation from weights on disk or the hub, for models whose layout differs from the
published checkpoint.

Swin variants of the papers (depths 2,2,2,2; other window sizes; decoders mirrored from the
encoder) cannot load timm's Swin-T weights strictly. These helpers copy every tensor whose
name and shape match and report how many were loaded and skipped.

`load_pretrained_file` is how every registered model honours `pretrained_path` (the registry
calls it): the file is a state dict (or a checkpoint holding one under `state_dict` / `model`),
either of the whole model or of one of its parts (an ImageNet backbone in timm's or smp's
names); its tensors go to the part whose names and shapes they match best. A model may map a
foreign layout itself (`load_pretrained_source`, e.g. Swin-Unet's mirrored decoder).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn as nn

from medbench.errors import ConfigError

log = logging.getLogger(__name__)


def imagenet_swin_state() -> dict[str, torch.Tensor]:
    """timm's swin_tiny_patch4_window7_224 ImageNet weights, from the Hugging Face hub (offline:
    `pretrained_path`, see `load_pretrained_file`)."""
    import timm

    return timm.create_model("swin_tiny_patch4_window7_224", pretrained=True).state_dict()


def load_matching(module: nn.Module, source: dict[str, torch.Tensor], what: str) -> dict[str, int]:
    """Copy the tensors of `source` whose names and shapes exist in `module`."""
    target = module.state_dict()
    usable = {k: v for k, v in source.items() if k in target and target[k].shape == v.shape}
    module.load_state_dict(usable, strict=False)
    skipped = [k for k in source if k not in usable]
    log.info("%s: %d tensors loaded, %d skipped %s", what, len(usable), len(skipped), skipped[:10])
    return {"loaded": len(usable), "skipped": len(skipped)}


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file (torch or safetensors), named as saved."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"pretrained_path {path}: no such file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same message
        raise ConfigError(f"pretrained_path {path}: not a weights file ({exc})") from exc
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)} \
        if isinstance(state, dict) else {}
    if not tensors:
        raise ConfigError(f"pretrained_path {path}: holds no named tensors")
    return tensors


def _matches(module: nn.Module, source: dict[str, torch.Tensor]) -> int:
    target = module.state_dict()
    return sum(k in target and target[k].shape == v.shape for k, v in source.items())


def load_pretrained_file(model: nn.Module, path: str | Path, name: str) -> dict[str, int]:
    """Load `path` into `model` (its own checkpoint) or into the part of it that the file
    matches best, or as the model maps a foreign layout itself (`load_pretrained_source`)."""
    source = read_state_dict(path)
    what = f"{name}: pretrained_path {path}"
    if _matches(model, source) < len(source) and hasattr(model, "load_pretrained_source"):
        return model.load_pretrained_source(source, what)
    return load_into_best_part(model, source, what)


def load_into_best_part(module: nn.Module, source: dict[str, torch.Tensor], what: str) -> dict[str, int]:
    """Copy `source` into the sub-module (or `module` itself) whose tensors it matches most by
    name and shape. A source none of whose tensors fits is refused: it is another model's file."""
    parts = [(prefix, part) for prefix, part in module.named_modules()
             if any(True for _ in part.parameters())]
    matches, prefix, part = max(((_matches(p, source), n, p) for n, p in parts), key=lambda t: t[0])
    if matches == 0:
        raise ConfigError(f"{what}: none of its {len(source)} tensors matches a tensor of the model "
                          f"by name and shape (first names: {list(source)[:3]})")
    return load_matching(part, source, f"{what} -> {prefix or 'the whole model'}")
