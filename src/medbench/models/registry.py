"""Model registry in the style of timm: `register_model`, `create_model`, `list_models`.

Every registered model returns a dict of task outputs (`medbench.contracts.ModelOutput`: "cls"
logits, "seg" logits, "rec" image, ...), so one Trainer and one loss composer serve every study.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable

import torch.nn as nn

from medbench.errors import ConfigError

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    if fn.__name__ in _REGISTRY:
        raise ValueError(f"model '{fn.__name__}' registered twice")
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def create_model(name: str, pretrained_path: str | None = None, **kwargs) -> nn.Module:
    """Build a registered model. Arguments its builder does not take (a typo in the YAML) are
    refused by name before anything is built; an error raised while building is the builder's
    and goes through as it is. `pretrained_path` (a local weights file, for machines without
    the hub) replaces the hub download and is loaded after building (`load_pretrained_file`)."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model architecture '{name}'; registered: {list_models()}")
    builder = _REGISTRY[name]
    if pretrained_path and "pretrained" in kwargs:
        kwargs["pretrained"] = False
    signature = inspect.signature(builder)
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        accepted = [p for p in signature.parameters if p != "kwargs"]
        raise ConfigError(f"model '{name}': {exc}; it takes {accepted}") from None
    model = builder(**kwargs)
    if pretrained_path:
        from medbench.models.pretrained import load_pretrained_file

        load_pretrained_file(model, pretrained_path, name)
    return model
