"""Training augmentation built from the study config (albumentations).

brain_ct (paper §4.3): with p=0.5 a random rot90 (0/90/180/270) followed by a random
horizontal or vertical flip; independently with p=0.5 a rotation in [-limit, limit] degrees.
The same geometric transform is applied to image and mask.
"""

from __future__ import annotations

import albumentations as A
import cv2


def build_augmentation(cfg: dict | None, seed: int) -> A.Compose | None:
    if not cfg:
        return None
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
    return A.Compose(ops, seed=seed) if ops else None
