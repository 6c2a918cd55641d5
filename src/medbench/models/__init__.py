"""Models: `create_model(name, **kwargs)` and `list_models()`; importing registers every family."""

from medbench.models import (  # noqa: F401  (registration)
    busbench,
    classifiers,
    daformer,
    estan,
    joint,
    swin_unet,
    swinfuse,
    unet,
)
from medbench.models.registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
