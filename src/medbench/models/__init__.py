"""Models: `create_model(name, **kwargs)` and `list_models()`; importing registers every family."""

from medbench.models import classifiers, daformer, joint, swin_unet, unet  # noqa: F401  (registration)
from medbench.models.registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
