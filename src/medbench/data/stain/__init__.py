"""Stain normalisation to one target image (the hubmap paper's Vahadane step).

    normalizer = fit_stain_target("vahadane", target_image, standardize_luminosity=True)
    normalizer.save("stain_target.npz")
    load_stain_target("stain_target.npz")(image, "id 10044")   # uint8 RGB, the target's stain

Methods: `vahadane` (medbench's: staintools' algorithm, deterministic, ~30x faster; see
vahadane.py) and `staintools_vahadane` (staintools itself, the reference).
"""

from __future__ import annotations

import numpy as np

from medbench.data.stain import staintools_vahadane, vahadane  # noqa: F401  (registration)
from medbench.data.stain.base import METHODS, StainNormalizer, load_stain_target, normalizer_class


def fit_stain_target(method: str, target: np.ndarray, standardize_luminosity: bool = True,
                     name: str = "stain target", **options) -> StainNormalizer:
    return normalizer_class(method).fit(target, standardize_luminosity, name, **options)


__all__ = ["METHODS", "StainNormalizer", "fit_stain_target", "load_stain_target"]
