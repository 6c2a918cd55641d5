"""Vahadane stain normalisation (Vahadane et al. 2015): staintools 2.1.2's algorithm, made
deterministic and fast.

The steps and constants are staintools' (GitHub Peter554/StainTools, staintools/:
preprocessing/luminosity_standardizer.py, tissue_masks/luminosity_threshold_tissue_locator.py,
stain_extraction/vahadane_stain_extractor.py, miscellaneous/get_concentrations.py,
stain_normalizer.py):

0. luminosity standardiser: L (LAB) scaled so that its 95th percentile becomes 255;
1. tissue mask: L / 255 < 0.8;
2. optical density OD = max(-log(max(I, 1) / 255), 1e-6) (a 256-entry table);
3. stain matrix: sparse dictionary learning on the tissue ODs, 2 atoms, lambda 0.1, atoms and
   codes non-negative, atoms of norm <= 1; the atom with the larger red OD is hematoxylin;
   rows normalised;
4. concentrations: non-negative lasso, lambda 0.01, every pixel;
5. 99th-percentile concentrations (linear interpolation); a source's are scaled to the
   target's, recoloured with the target's stain matrix, written as uint8 by truncation.

What differs is how step 3 and 4 are solved. staintools calls spams' online dictionary
learning, which stops after one second of wall-clock time (so the matrix depends on machine
load) with a batch size set by the thread count; here the same objective is minimised in batch
over the tissue's distinct colours (weighted by their pixel counts: the same sum), from a fixed
start, by alternating the exact lasso with spams' block-coordinate dictionary update. It lands
where spams lands when given time to converge (atoms within 4e-4 on every toy image and
organ), which staintools' one-second budget does not always allow on a busy machine. With two atoms the
non-negative lasso has a closed form per pixel (its KKT cases), which replaces spams' LARS.
Nothing is random, nothing uses BLAS: reductions are numpy sums in a fixed order, so the output
is the same bytes on every run and thread count. `device: cuda` runs the per-pixel steps (4, 5)
in torch float64 with element-wise ops and sort-based quantiles only (no float atomics).
"""

from __future__ import annotations

import cv2
import numpy as np

from medbench.data.stain.base import StainNormalizer, register_method
from medbench.errors import DataError

LUMINOSITY_PERCENTILE = 95  # staintools LuminosityStandardizer.standardize
TISSUE_LUMINOSITY = 0.8  # staintools LuminosityThresholdTissueLocator
DICTIONARY_LAMBDA = 0.1  # staintools VahadaneStainExtractor (spams.trainDL lambda1)
CONCENTRATION_LAMBDA = 0.01  # staintools get_concentrations (spams.lasso lambda1)
MAX_CONCENTRATION_PERCENTILE = 99  # staintools StainNormalizer
# OD of every uint8 value, zero read as one (staintools sets zero pixels to 1 before the log)
OD_TABLE = np.maximum(-np.log(np.maximum(np.arange(256), 1) / 255.0), 1e-6)
# Ruifrok & Johnston (2001) hematoxylin and eosin OD vectors: the fixed start of the dictionary
START = np.array([[0.650, 0.704, 0.286], [0.072, 0.990, 0.105]])


def luminosity_standardized(image: np.ndarray) -> np.ndarray:
    """staintools' standardiser, bit for bit: its 95th percentile (linear interpolation) read
    off the L histogram instead of a sort."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    lum = lab[..., 0]
    p = _histogram_percentile(np.bincount(lum.ravel(), minlength=256), LUMINOSITY_PERCENTILE)
    lab[..., 0] = np.clip(255 * lum.astype(float) / p, 0, 255).astype(np.uint8)
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def _histogram_percentile(counts: np.ndarray, q: float) -> float:
    """np.percentile (linear) of the values 0..255 counted by `counts`."""
    position = q / 100 * (counts.sum() - 1)
    below, frac = int(np.floor(position)), position - np.floor(position)
    cumulative = np.cumsum(counts)
    low = int(np.searchsorted(cumulative, below, side="right"))
    high = int(np.searchsorted(cumulative, below + 1, side="right")) if frac else low
    return low + frac * (high - low)


def tissue_mask(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 0] / 255.0 < TISSUE_LUMINOSITY


def nonnegative_lasso_2(c1, c2, g11: float, g12: float, g22: float, lam: float, where):
    """Exact argmin over a >= 0 of 1/2 a'Ga - c'a + lam (a1 + a2), per sample, for a 2x2 Gram
    matrix G = S'S and c = S'x (the 2-atom non-negative lasso, spams' mode 2 with pos=True).

    Both codes positive when G^-1 (c - lam) is; else the better of the two one-atom solutions
    (the optimum of a convex problem off the open orthant lies on its boundary). `where` is
    numpy's or torch's, so one function serves both backends.
    """
    b1, b2 = c1 - lam, c2 - lam
    det = g11 * g22 - g12 * g12
    if det > 1e-12 * g11 * g22:
        a1, a2 = (g22 * b1 - g12 * b2) / det, (g11 * b2 - g12 * b1) / det
        both = (a1 >= 0) & (a2 >= 0)
    else:  # parallel atoms: the one-atom solutions are optimal
        a1 = a2 = both = None
    p1, p2 = where(b1 > 0, b1, 0.0), where(b2 > 0, b2, 0.0)
    first = p1 * p1 / g11 >= p2 * p2 / g22  # the one-atom solution lowering the objective more
    s1, s2 = where(first, p1 / g11, 0.0), where(first, 0.0, p2 / g22)
    if both is None:
        return s1, s2
    return where(both, a1, s1), where(both, a2, s2)


def _gram(atoms: np.ndarray) -> tuple[float, float, float]:
    """(G11, G12, G22) of two atoms (2, 3), as explicit sums: no BLAS, the same bits everywhere."""

    def dot(u, v):
        return float(u[0] * v[0] + u[1] * v[1] + u[2] * v[2])

    return dot(atoms[0], atoms[0]), dot(atoms[0], atoms[1]), dot(atoms[1], atoms[1])


def _codes(x: np.ndarray, atoms: np.ndarray, lam: float):
    """Non-negative lasso codes of OD samples x (3, M) on atoms (2, 3)."""
    c1 = x[0] * atoms[0, 0] + x[1] * atoms[0, 1] + x[2] * atoms[0, 2]
    c2 = x[0] * atoms[1, 0] + x[1] * atoms[1, 1] + x[2] * atoms[1, 2]
    return nonnegative_lasso_2(c1, c2, *_gram(atoms), lam, np.where)


def tissue_colours(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(OD (3, U), pixel count (U,)) of every distinct colour of the tissue: the dictionary
    objective summed over pixels is the same sum over colours weighted by their counts."""
    pixels = image[mask].astype(np.int32)
    colours, counts = np.unique((pixels[:, 0] << 16) | (pixels[:, 1] << 8) | pixels[:, 2], return_counts=True)
    return OD_TABLE[np.stack([colours >> 16, (colours >> 8) & 255, colours & 255])], counts.astype(float)


def learn_stain_matrix(x: np.ndarray, weights: np.ndarray, iterations: int, tol: float = 1e-8) -> np.ndarray:
    """Two non-negative atoms of norm <= 1 minimising sum_i w_i (1/2 |x_i - D a_i|^2 + 0.1 |a_i|_1),
    a_i >= 0: alternate the exact codes and one block-coordinate pass over the atoms (spams'
    dictionary update: d_k += (b_k - D a_k) / A_kk, then clipped at 0 and scaled into the unit
    ball). Returns staintools' stain matrix: rows ordered hematoxylin (larger red OD) first,
    unit norm."""
    atoms = START / np.linalg.norm(START, axis=1, keepdims=True)
    for _ in range(iterations):
        a = _codes(x, atoms, DICTIONARY_LAMBDA)
        gram = [[np.sum(weights * a[j] * a[k]) for k in range(2)] for j in range(2)]
        cross = [np.array([np.sum(weights * x[c] * a[k]) for c in range(3)]) for k in range(2)]
        previous = atoms.copy()
        for k in range(2):
            if gram[k][k] <= 0:
                continue  # an unused atom stays where it is
            update = atoms[k] + (cross[k] - atoms[0] * gram[0][k] - atoms[1] * gram[1][k]) / gram[k][k]
            update = np.maximum(update, 0.0)
            norm = np.sqrt(np.sum(update * update))
            atoms[k] = update / norm if norm > 1 else update
        if np.max(np.abs(atoms - previous)) < tol:
            break
    if atoms[0, 0] < atoms[1, 0]:
        atoms = atoms[::-1]
    norms = np.sqrt(np.sum(atoms * atoms, axis=1, keepdims=True))
    if np.any(norms == 0):
        raise DataError("dictionary learning lost a stain (an all-zero atom)")
    return atoms / norms


@register_method
class Vahadane(StainNormalizer):
    """medbench's Vahadane: `iterations` of alternating minimisation at most (it stops when the
    atoms move less than 1e-8), `device` for the per-pixel steps (cpu: numpy; cuda: torch)."""

    method = "vahadane"

    def __init__(self, stain_matrix, max_concentrations, standardize_luminosity=True, device: str = "cpu",
                 iterations: int = 1000):
        super().__init__(stain_matrix, max_concentrations, standardize_luminosity, device)
        self.iterations = iterations

    def options(self) -> dict:
        return {"iterations": self.iterations}

    def stains_and_concentrations(self, image: np.ndarray, name: str):
        mask = tissue_mask(image)
        if not mask.any():
            raise DataError(f"{name}: no tissue (every pixel has luminosity >= {TISSUE_LUMINOSITY})")
        matrix = learn_stain_matrix(*tissue_colours(image, mask), self.iterations)
        return matrix, self._backend().concentrations(image, matrix)

    def recolour(self, concentrations, high, image_shape) -> np.ndarray:
        scale = self.max_concentrations / high
        return self._backend().recolour(concentrations, scale, self.stain_matrix, image_shape)

    def _backend(self):
        if self.device.startswith("cuda"):
            from medbench.data.stain.torch_backend import TorchBackend

            return TorchBackend(self.device)
        return NUMPY


def percentile_of_nonnegative(values: np.ndarray, q: float) -> float:
    """np.percentile(values, q) (linear interpolation) of values >= 0, most of them 0 (the
    background's concentrations): order statistics among the positive values only."""
    positive = values[values > 0]
    zeros = values.size - positive.size
    position = q / 100 * (values.size - 1)
    below = int(np.floor(position))
    ranks = [below, min(below + 1, values.size - 1)]  # the two order statistics around q
    among_positive = sorted({rank - zeros for rank in ranks if rank >= zeros})
    ordered = np.partition(positive, among_positive) if among_positive else positive  # one pass for both
    low, high = (0.0 if rank < zeros else float(ordered[rank - zeros]) for rank in ranks)
    return low + (position - below) * (high - low)


class NumpyBackend:
    """Steps 4-5 per pixel, in numpy float32 (the stain matrix stays float64): the OD dot
    products as three 256-entry table lookups, then element-wise operations only."""

    @staticmethod
    def concentrations(image: np.ndarray, matrix: np.ndarray) -> list[np.ndarray]:
        r, g, b = (image[..., c].ravel() for c in range(3))
        tables = (OD_TABLE[None, :] * matrix[:, :, None]).astype(np.float32)  # (stain, channel, value)
        c1 = tables[0, 0][r] + tables[0, 1][g] + tables[0, 2][b]
        c2 = tables[1, 0][r] + tables[1, 1][g] + tables[1, 2][b]
        return list(nonnegative_lasso_2(c1, c2, *_gram(matrix), CONCENTRATION_LAMBDA, np.where))

    @staticmethod
    def percentiles(concentrations) -> np.ndarray:
        return np.array([percentile_of_nonnegative(c, MAX_CONCENTRATION_PERCENTILE) for c in concentrations])

    @staticmethod
    def recolour(concentrations, scale, target_matrix, image_shape) -> np.ndarray:
        c1, c2 = concentrations[0] * np.float32(scale[0]), concentrations[1] * np.float32(scale[1])
        out = np.empty((c1.size, 3), np.uint8)
        for c in range(3):
            od = c1 * np.float32(target_matrix[0, c]) + c2 * np.float32(target_matrix[1, c])
            out[:, c] = np.float32(255) * np.exp(-od)  # the cast truncates, as staintools' astype
        return out.reshape(image_shape)


NUMPY = NumpyBackend()
