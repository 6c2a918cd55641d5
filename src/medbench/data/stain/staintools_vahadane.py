"""staintools' own Vahadane (`stain.method: staintools_vahadane`), the reference medbench's
`vahadane` reproduces: spams' online dictionary learning (`trainDL`) and LARS lasso.

Kept for comparison (benchmarks/vahadane.py) and for reproducing runs made with it. It is
neither fast (about a second per image: trainDL stops after one second of wall-clock time) nor
reproducible: how many iterations fit in that second, and spams' batch size (set by the thread
count), change the stain matrix from run to run and machine to machine.
"""

from __future__ import annotations

import numpy as np

from medbench.data.stain.base import StainNormalizer, register_method
from medbench.errors import DataError


@register_method
class StaintoolsVahadane(StainNormalizer):
    method = "staintools_vahadane"

    def stains_and_concentrations(self, image: np.ndarray, name: str):
        from staintools.miscellaneous.get_concentrations import get_concentrations
        from staintools.stain_extraction.vahadane_stain_extractor import VahadaneStainExtractor

        image = image.copy()  # staintools overwrites zero pixels of its input in place
        try:
            matrix = VahadaneStainExtractor.get_stain_matrix(image)
            concentrations = get_concentrations(image, matrix)
        except Exception as exc:  # staintools raises bare Exceptions (e.g. no tissue found)
            raise DataError(f"{name}: Vahadane (staintools) failed ({exc})") from exc
        return matrix, list(concentrations.T)

    def recolour(self, concentrations, high, image_shape) -> np.ndarray:
        # staintools' StainNormalizer.transform: np.dot, then truncation to uint8
        scaled = np.stack(concentrations, axis=1) * (self.max_concentrations / high)
        return (255 * np.exp(-1 * np.dot(scaled, self.stain_matrix))).reshape(image_shape).astype(np.uint8)

    def _backend(self):
        return self

    @staticmethod
    def percentiles(concentrations) -> np.ndarray:
        return np.percentile(np.stack(concentrations, axis=1), 99, axis=0)
