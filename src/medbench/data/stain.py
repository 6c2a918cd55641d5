"""Vahadane stain normalisation (Vahadane et al. 2015) with staintools, to one target image.

The hubmap paper normalises HPA training images and HuBMAP test images to a stain target
(its Fig. 5). staintools estimates each image's stain matrix by sparse dictionary learning on
the optical density of tissue pixels (spams, from the `spams-bin` wheel), solves the stain
concentrations by non-negative lasso, and re-colours them with the target's stain matrix,
scaled to the target's 99th-percentile concentrations.
"""

from __future__ import annotations

import numpy as np
import staintools

from medbench.errors import DataError


def _checked_rgb(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise DataError(f"{name}: stain normalisation needs an RGB uint8 image, got "
                        f"{image.dtype} {image.shape}")
    return image.copy()  # staintools overwrites zero pixels of its input in place


class VahadaneNormalizer:
    """Fit once on the target image, then `normalizer(image, name)` for each image."""

    def __init__(self, target: np.ndarray, standardize_luminosity: bool = True,
                 target_name: str = "stain target"):
        self.standardize_luminosity = standardize_luminosity
        target = _checked_rgb(target, target_name)
        if standardize_luminosity:
            target = staintools.LuminosityStandardizer.standardize(target)
        self._normalizer = staintools.StainNormalizer(method="vahadane")
        try:
            self._normalizer.fit(target)
        except Exception as exc:  # staintools raises bare Exceptions (e.g. no tissue found)
            raise DataError(f"{target_name}: Vahadane fit failed ({exc})") from exc

    @property
    def stain_matrix(self) -> np.ndarray:
        """(2, 3) optical-density stain vectors of the target (hematoxylin, eosin/DAB)."""
        return self._normalizer.stain_matrix_target

    def __call__(self, image: np.ndarray, name: str = "image") -> np.ndarray:
        image = _checked_rgb(image, name)
        if self.standardize_luminosity:
            image = staintools.LuminosityStandardizer.standardize(image)
        try:
            return self._normalizer.transform(image)
        except Exception as exc:
            raise DataError(f"{name}: Vahadane normalisation failed ({exc})") from exc
