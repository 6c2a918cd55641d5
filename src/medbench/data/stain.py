"""Vahadane stain normalisation (Vahadane et al. 2015) with staintools, to one target image.

The hubmap paper normalises HPA training images and HuBMAP test images to a stain target
(its Fig. 5). staintools estimates each image's stain matrix by sparse dictionary learning on
the optical density of tissue pixels (spams, from the `spams-bin` wheel), solves the stain
concentrations by non-negative lasso, and re-colours them with the target's stain matrix,
scaled to the target's 99th-percentile concentrations.

spams' online dictionary learning samples pixels at random and its API takes no seed: repeated
normalisations of one image differ by at most one grey level, so this step (alone in the
pipeline) is reproducible to +-1 / 255, not bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import staintools

from medbench.errors import DataError
from medbench.fileio import atomic_path


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

    def save(self, path: str | Path) -> None:
        """The fitted target (stain matrix, 99th-percentile concentrations), as .npz."""
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, stain_matrix=self._normalizer.stain_matrix_target,
                     max_concentrations=self._normalizer.maxC_target,
                     standardize_luminosity=self.standardize_luminosity)

    @classmethod
    def load(cls, path: str | Path) -> VahadaneNormalizer:
        """A normaliser fitted earlier and saved with `save`: no refit per image."""
        try:
            with np.load(path) as state:
                matrix, max_c = state["stain_matrix"], state["max_concentrations"]
                luminosity = bool(state["standardize_luminosity"])
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"{path}: not a saved stain target ({exc}); "
                            "re-run the stain-target step") from exc
        self = cls.__new__(cls)
        self.standardize_luminosity = luminosity
        self._normalizer = staintools.StainNormalizer(method="vahadane")
        self._normalizer.stain_matrix_target, self._normalizer.maxC_target = matrix, max_c
        return self

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
