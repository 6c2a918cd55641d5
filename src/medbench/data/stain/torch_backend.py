"""The per-pixel steps of medbench's Vahadane (concentrations, percentiles, recolouring) in
torch, for a GPU. float64 throughout, element-wise operations, gathers and a sort-based
quantile only: no floating-point atomics decide the output, so it is as deterministic as the
numpy path (and equal to it up to rounding)."""

from __future__ import annotations

import numpy as np
import torch

from medbench.data.stain.vahadane import (
    CONCENTRATION_LAMBDA,
    MAX_CONCENTRATION_PERCENTILE,
    OD_TABLE,
    _gram,
    nonnegative_lasso_2,
)


class TorchBackend:
    def __init__(self, device: str):
        self.device = torch.device(device)
        self.od = torch.as_tensor(OD_TABLE, dtype=torch.float64, device=self.device)

    def concentrations(self, image: np.ndarray, matrix: np.ndarray) -> list[torch.Tensor]:
        pixels = torch.as_tensor(image.reshape(-1, 3), device=self.device).long()
        od = [self.od[pixels[:, c]] for c in range(3)]
        c1 = od[0] * matrix[0, 0] + od[1] * matrix[0, 1] + od[2] * matrix[0, 2]
        c2 = od[0] * matrix[1, 0] + od[1] * matrix[1, 1] + od[2] * matrix[1, 2]
        return list(nonnegative_lasso_2(c1, c2, *_gram(matrix), CONCENTRATION_LAMBDA, torch.where))

    @staticmethod
    def percentiles(concentrations) -> np.ndarray:
        q = MAX_CONCENTRATION_PERCENTILE / 100
        return np.array([float(torch.quantile(c, q, interpolation="linear")) for c in concentrations])

    @staticmethod
    def recolour(concentrations, scale, target_matrix, image_shape) -> np.ndarray:
        c1, c2 = concentrations[0] * float(scale[0]), concentrations[1] * float(scale[1])
        channels = [(255 * torch.exp(-(c1 * float(target_matrix[0, c]) + c2 * float(target_matrix[1, c]))))
                    .to(torch.uint8) for c in range(3)]
        return torch.stack(channels, dim=-1).cpu().numpy().reshape(image_shape)
