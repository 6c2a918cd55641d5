"""Model registry in the style of timm: `register_model`, `create_model`, `list_models`.

Every registered model returns a dict of task outputs ("cls" logits, "seg" logits,
"rec" image, ...), so one Trainer and one loss composer serve every study.
"""

from __future__ import annotations

import fnmatch
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


def create_model(name: str, **kwargs) -> nn.Module:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model architecture '{name}'; registered: {list_models()}")
    try:
        return _REGISTRY[name](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"model '{name}': bad arguments {sorted(kwargs)} ({exc})") from exc
