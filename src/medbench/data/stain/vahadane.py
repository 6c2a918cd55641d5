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

What differs is how steps 3 and 4 are solved.

- Step 3, staintools: spams' online dictionary learning (trainDL) over every tissue pixel's OD,
  which stops after one second of wall-clock time (so the matrix depends on machine load),
  with a batch size set by the thread count.
- Step 3, here: the same objective minimised in batch, from a fixed start, by alternating the
  exact codes with spams' block-coordinate dictionary update, over colour bins
  (`tissue_od_bins`): the tissue pixels of the coarsest regular grid expected to hold 65k of
  them or more, grouped into 64^3 RGB bins, each bin its mean OD weighted by its pixel count.
  A real IHC photograph resized to 768 px has ~130k distinct colours, a 3000 px scan more; the
  bins number a few thousand whatever the image, so the cost no longer grows with colour
  diversity. The atoms stay within 5e-4 of the solution over every tissue pixel on most toy
  images and on the IHC photograph (within 5e-3 on the darkest toy section, a 10 µm PAS
  kidney, where a bin of 4 intensity levels spans the widest OD range). Mean |dOD| to
  staintools' output (benchmarks/vahadane.py): <= 0.0005 on the toy images, 0.004-0.007 on the
  IHC photograph, where learning over every colour instead gives the same 0.004 (staintools'
  one-second fit stops short of the optimum there) and changes our output by 0.0001.
- Step 4: with two atoms the non-negative lasso has a closed form per pixel (its KKT cases),
  which replaces spams' LARS.

Nothing is random and nothing uses BLAS: reductions are numpy sums, bincounts and einsums in a
fixed order, so the output is the same bytes on every run and thread count. `device: cuda`
runs the per-pixel steps (4, 5) in torch float64 with element-wise ops and sort-based
quantiles only (no float atomics).
"""

from __future__ import annotations

import math

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
# staintools' tissue test L / 255 < 0.8, per uint8 L value
TISSUE_TABLE = np.arange(256) / 255.0 < TISSUE_LUMINOSITY
# the dictionary learning's samples: tissue colours grouped into bins of 4 x 4 x 4 RGB values,
# read on the coarsest regular pixel grid expected to hold SAMPLE_PIXELS tissue pixels or more
COLOUR_BITS = 6
SAMPLE_PIXELS = 1 << 16
TOLERANCE = 1e-6  # the learning stops when no atom coordinate moves more than this


def luminosity_standardized(image: np.ndarray) -> np.ndarray:
    """staintools' standardiser, bit for bit: its 95th percentile (linear interpolation) read
    off the L histogram instead of a sort."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    lum = lab[..., 0]
    p = _histogram_percentile(np.bincount(lum.ravel(), minlength=256), LUMINOSITY_PERCENTILE)
    scaled = np.clip(255 * np.arange(256, dtype=float) / p, 0, 255).astype(np.uint8)  # per L value
    lab[..., 0] = np.take(scaled, lum)
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
    return np.take(TISSUE_TABLE, cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 0])


def nonnegative_lasso_2(c1, c2, g11: float, g12: float, g22: float, lam: float, where):
    """Exact argmin over a >= 0 of 1/2 a'Ga - c'a + lam (a1 + a2), per sample, for a 2x2 Gram
    matrix G = S'S and c = S'x (the 2-atom non-negative lasso, spams' mode 2 with pos=True).

    Both codes positive when G^-1 (c - lam) is; else the better of the two one-atom solutions
    (the optimum of a convex problem off the open orthant lies on its boundary; the one-atom
    solution p_k / g_kk, p_k = max(c_k - lam, 0), lowers the objective by p_k^2 / 2 g_kk).
    Scalars are folded so that each array operation is one pass over the pixels. `where` is
    numpy's or torch's, so one function serves both backends.
    """
    b1, b2 = c1 - lam, c2 - lam
    p1, p2 = where(b1 > 0, b1, 0.0), where(b2 > 0, b2, 0.0)
    first = p1 * (g11 ** -0.5) >= p2 * (g22 ** -0.5)
    s1, s2 = where(first, p1 * (1 / g11), 0.0), where(first, 0.0, p2 * (1 / g22))
    det = g11 * g22 - g12 * g12
    if det <= 1e-12 * g11 * g22:  # parallel atoms: the one-atom solutions are optimal
        return s1, s2
    a1, a2 = b1 * (g22 / det) - b2 * (g12 / det), b2 * (g11 / det) - b1 * (g12 / det)
    both = (a1 >= 0) & (a2 >= 0)
    return where(both, a1, s1), where(both, a2, s2)


def _gram(atoms: np.ndarray) -> tuple[float, float, float]:
    """(G11, G12, G22) of two atoms (2, 3), as explicit sums: no BLAS, the same bits everywhere."""

    def dot(u, v):
        return float(u[0] * v[0] + u[1] * v[1] + u[2] * v[2])

    return dot(atoms[0], atoms[0]), dot(atoms[0], atoms[1]), dot(atoms[1], atoms[1])


def _codes(x: np.ndarray, atoms: np.ndarray, lam: float):
    """Non-negative lasso codes of OD samples x (3, M) on atoms (2, 3)."""
    c = np.einsum("kc,cm->km", atoms, x)  # numpy's own loops: no BLAS, the same bits everywhere
    return nonnegative_lasso_2(c[0], c[1], *_gram(atoms), lam, np.where)


def colour_counts(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct RGB colours (U, 3), pixel count of each (U,)) of uint8 pixels (N, 3): what a
    dictionary learned over every colour would sum over, and a scan's colour diversity."""
    pixels = pixels.astype(np.int64)
    keys, counts = np.unique((pixels[:, 0] << 16) | (pixels[:, 1] << 8) | pixels[:, 2], return_counts=True)
    return np.stack([keys >> 16, (keys >> 8) & 255, keys & 255], axis=1), counts


def tissue_od_bins(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean OD (3, B), pixel count (B,)) of the occupied colour bins of the tissue sample.

    The dictionary objective sums over tissue pixels. Pixels of one bin have nearly the same
    OD, so their codes nearly agree, and for equal codes a bin's sum is its pixel count times
    the term at its mean OD plus the bin's spread, a constant that does not move the minimum:
    the sum over bins is the sum over pixels up to the codes' variation within a bin. The
    sample, every `stride`-th pixel both ways, keeps the colour distribution; its size, not
    the image's colour count, sets the learning's cost.
    """
    stride = max(1, math.isqrt(int(np.count_nonzero(mask)) // SAMPLE_PIXELS))
    pixels = image[::stride, ::stride][mask[::stride, ::stride]]
    shift, bins = 8 - COLOUR_BITS, 1 << 3 * COLOUR_BITS
    index = ((pixels[:, 0] >> shift).astype(np.intp) << 2 * COLOUR_BITS
             | (pixels[:, 1] >> shift).astype(np.intp) << COLOUR_BITS | pixels[:, 2] >> shift)
    counts = np.bincount(index, minlength=bins)
    used = np.flatnonzero(counts)
    sums = np.stack([np.bincount(index, np.take(OD_TABLE, pixels[:, c]), minlength=bins)[used]
                     for c in range(3)])
    return sums / counts[used], counts[used].astype(float)


def learn_stain_matrix(x: np.ndarray, weights: np.ndarray, iterations: int,
                       tol: float = TOLERANCE) -> np.ndarray:
    """Two non-negative atoms of norm <= 1 minimising sum_i w_i (1/2 |x_i - D a_i|^2 + 0.1 |a_i|_1),
    a_i >= 0: alternate the exact codes and one block-coordinate pass over the atoms (spams'
    dictionary update: d_k += (b_k - D a_k) / A_kk, then clipped at 0 and scaled into the unit
    ball). Returns staintools' stain matrix: rows ordered hematoxylin (larger red OD) first,
    unit norm."""
    atoms = START / np.linalg.norm(START, axis=1, keepdims=True)
    for _ in range(iterations):
        codes = np.stack(_codes(x, atoms, DICTIONARY_LAMBDA))
        weighted = codes * weights
        gram, cross = np.einsum("jm,km->jk", codes, weighted), np.einsum("cm,km->kc", x, weighted)
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
    atoms move less than TOLERANCE), `device` for the per-pixel steps (cpu: numpy; cuda: torch)."""

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
        matrix = learn_stain_matrix(*tissue_od_bins(image, mask), self.iterations)
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
    """np.percentile(values, q) (linear interpolation) of values >= 0, often mostly 0 (the
    background's concentrations): when most are 0, order statistics among the positive values
    only; the lower one by a single-rank partition (numpy's fastest selection), the upper one
    the minimum above it."""
    zeros = values.size - np.count_nonzero(values)
    pool = values[values > 0] if 2 * zeros > values.size else values  # selection slows on many ties
    position = q / 100 * (values.size - 1)
    below = int(np.floor(position))
    rank = below - (values.size - pool.size)  # of the lower order statistic in the pool
    if rank < 0:
        low, high = 0.0, (float(pool.min()) if rank == -1 and pool.size else 0.0)
    else:
        ordered = np.partition(pool, rank)
        low = float(ordered[rank])
        high = float(ordered[rank + 1:].min()) if rank + 1 < pool.size else low
    return low + (position - below) * (high - low)


def _lookup_sum(tables: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """sum_c tables[c][pixels[:, c]]: np.take (several times faster than fancy indexing)."""
    out = np.take(tables[0], pixels[:, 0])
    out += np.take(tables[1], pixels[:, 1])
    out += np.take(tables[2], pixels[:, 2])
    return out


class NumpyBackend:
    """Steps 4-5 per pixel, in numpy float32 (the stain matrix stays float64): the OD dot
    products as three 256-entry table lookups, then element-wise operations only."""

    @staticmethod
    def concentrations(image: np.ndarray, matrix: np.ndarray) -> list[np.ndarray]:
        pixels = image.reshape(-1, 3)
        tables = (OD_TABLE[None, :] * matrix[:, :, None]).astype(np.float32)  # (stain, channel, value)
        c = [_lookup_sum(tables[k], pixels) for k in range(2)]
        return list(nonnegative_lasso_2(*c, *_gram(matrix), CONCENTRATION_LAMBDA, np.where))

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
