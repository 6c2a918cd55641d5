"""A stain normaliser fitted once on a target image, saved, and applied to every image.

Methods register under the name the study config's `stain.method` uses. They share the
protocol of staintools' StainNormalizer: a stain matrix (2 x 3 OD rows, hematoxylin first)
and per-stain concentrations of every pixel; fitting keeps the target's matrix and
99th-percentile concentrations; normalising scales an image's concentrations to those and
recolours them with the target's matrix.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from medbench.errors import ConfigError, DataError
from medbench.fileio import atomic_path

METHODS: dict[str, type[StainNormalizer]] = {}


def register_method(cls):
    METHODS[cls.method] = cls
    return cls


def checked_rgb(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise DataError(f"{name}: stain normalisation needs an RGB uint8 image, got "
                        f"{image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


class StainNormalizer:
    method: ClassVar[str]

    def __init__(self, stain_matrix, max_concentrations, standardize_luminosity: bool = True,
                 device: str = "cpu"):
        self.stain_matrix, self.max_concentrations = stain_matrix, max_concentrations
        self.standardize_luminosity, self.device = standardize_luminosity, device

    # ------------------------------------------------------------------ method hooks
    def stains_and_concentrations(self, image: np.ndarray, name: str):
        """(stain matrix (2, 3), per-stain concentrations of every pixel) of a prepared image."""
        raise NotImplementedError

    def recolour(self, concentrations, high: np.ndarray, image_shape) -> np.ndarray:
        """uint8 image of `concentrations` scaled from their 99th percentiles `high` to the
        target's, coloured by the target's matrix."""
        raise NotImplementedError

    def _backend(self):
        raise NotImplementedError

    def options(self) -> dict:
        """The method's own settings, saved with the target."""
        return {}

    def prepared(self, image: np.ndarray, name: str) -> np.ndarray:
        image = checked_rgb(image, name)
        if not self.standardize_luminosity:
            return image
        from medbench.data.stain.vahadane import luminosity_standardized

        if image.max() == 0:
            raise DataError(f"{name}: the image is black (no luminosity to standardise)")
        return luminosity_standardized(image)

    # ------------------------------------------------------------------ fit / apply
    @classmethod
    def fit(cls, target: np.ndarray, standardize_luminosity: bool = True, name: str = "stain target",
            **options) -> StainNormalizer:
        self = cls(None, None, standardize_luminosity, **options)
        matrix, concentrations = self.stains_and_concentrations(self.prepared(target, name), name)
        self.stain_matrix = matrix
        self.max_concentrations = self._checked_max(concentrations, name)
        return self

    def _checked_max(self, concentrations, name: str) -> np.ndarray:
        high = np.asarray(self._backend().percentiles(concentrations), float)
        stains = ("hematoxylin", "second stain")
        absent = [stain for stain, value in zip(stains, high, strict=True) if value <= 0]
        if absent:
            raise DataError(f"{name}: {' and '.join(absent)} absent (99th-percentile concentration 0); "
                            "too little tissue to normalise")
        return high

    def __call__(self, image: np.ndarray, name: str = "image") -> np.ndarray:
        prepared = self.prepared(image, name)
        _, concentrations = self.stains_and_concentrations(prepared, name)
        return self.recolour(concentrations, self._checked_max(concentrations, name), prepared.shape)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """The fitted target (method, stain matrix, 99th-percentile concentrations), as .npz."""
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, method=self.method, stain_matrix=self.stain_matrix,
                     max_concentrations=self.max_concentrations,
                     standardize_luminosity=self.standardize_luminosity, **self.options())


def load_stain_target(path: str | Path, **runtime) -> StainNormalizer:
    """A normaliser fitted earlier and saved with `save`: no refit per image. `runtime`: options
    that do not change the output (the device)."""
    try:
        with np.load(path) as state:
            method = str(state["method"])
            fields = {key: state[key] for key in state.files if key != "method"}
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: not a saved stain target ({exc}); re-run the stain-target step") from exc
    if method not in METHODS:
        raise DataError(f"{path}: stain target of unknown method {method!r}; re-run the stain-target step")
    cls = METHODS[method]
    options = {key: value.item() for key, value in fields.items()
               if key not in ("stain_matrix", "max_concentrations", "standardize_luminosity")}
    return cls(fields["stain_matrix"], fields["max_concentrations"], bool(fields["standardize_luminosity"]),
               **options, **runtime)


def normalizer_class(method: str) -> type[StainNormalizer]:
    if method not in METHODS:
        raise ConfigError(f"stain.method: unknown method {method!r}; known: {sorted(METHODS)}")
    return METHODS[method]
