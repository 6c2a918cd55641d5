"""Training augmentation built from the study config (albumentations).

Two forms:
- a mapping (the brain_ct paper's §4.3 recipe): with p `rot90_flip_p` a random rot90
  (0/90/180/270) followed by a random horizontal or vertical flip; independently with p
  `rotate_p` a rotation in [-rotate_limit, rotate_limit].
- a list of albumentations transforms by class name with their arguments (hubmap), e.g.
  `[{name: HorizontalFlip, p: 0.5}, {name: OneOf, p: 0.3, transforms: [...]}]`.
The same geometric transform is applied to image and mask.
"""

from __future__ import annotations

import warnings

import albumentations as A
import cv2

from medbench.errors import ConfigError


def _transform(spec: dict):
    spec = dict(spec)
    name = spec.pop("name", None)
    cls = getattr(A, name or "", None)
    if not isinstance(cls, type):
        raise ConfigError(f"augmentation: unknown albumentations transform {name!r}")
    if "transforms" in spec:
        spec["transforms"] = [_transform(t) for t in spec["transforms"]]
    # albumentations only warns about unknown arguments: a misspelt one would silently vanish
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            transform = cls(**spec)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"augmentation: {name}{spec}: {exc}") from exc
    invalid = [str(w.message) for w in caught if "not valid" in str(w.message)]
    if invalid:
        raise ConfigError(f"augmentation: {name}: {'; '.join(invalid)}")
    return transform


def _rot90_flip_rotate_ops(cfg: dict) -> list:
    ops = []
    if cfg.get("rot90_flip_p", 0) > 0:
        ops.append(A.Sequential([
            A.RandomRotate90(p=1.0),
            A.OneOf([A.HorizontalFlip(p=1.0), A.VerticalFlip(p=1.0)], p=1.0),
        ], p=cfg["rot90_flip_p"]))
    if cfg.get("rotate_p", 0) > 0:
        ops.append(A.Rotate(limit=cfg["rotate_limit"], interpolation=cv2.INTER_LINEAR,
                            border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0,
                            p=cfg["rotate_p"]))
    return ops


def build_augmentation(cfg: dict | list | None, seed: int) -> A.Compose | None:
    if not cfg:
        return None
    ops = [_transform(t) for t in cfg] if isinstance(cfg, list) else _rot90_flip_rotate_ops(cfg)
    return A.Compose(ops, seed=seed) if ops else None
