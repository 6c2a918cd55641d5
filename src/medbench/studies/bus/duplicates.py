"""Near-duplicate images of the bus datasets: copies of one acquisition under two names (BUSI has
many, even across its classes: Pawłowska et al. 2023), exact or shifted, cropped, re-encoded or
with another gain.

Two images are copies when the speckle of one is found in the other: the central half of the
smaller image, high-passed (speckle, not anatomy: two breasts share their layers, never their
speckle), matched by normalised cross-correlation at every offset inside the other image
(OpenCV's matchTemplate), scores >= `SAME_SPECKLE`. A 256-bit average hash first rules out
pairs that cannot be copies (`CANDIDATE_BITS`), so the pairwise match stays affordable.

Measured on 116 toy images (BUSI-like: layered tissue, speckle, one lesion) and copies of each
made by a 2-pixel shift, crops of 4, 8 and 16 pixels, JPEG at quality 75 and a 15% gain:
copies score 0.89-1.00, distinct images at most 0.80. Hamming distances of the average hash:
copies <= 42 bits (crops move the zero padding), distinct images as close as 12 bits -- no
threshold on the hash alone separates them. Rescaled copies (another pixel size) score like
distinct images and are not found.
"""

from __future__ import annotations

import cv2
import numpy as np

SAME_SPECKLE = 0.85  # normalised cross-correlation of the high-passed images
CANDIDATE_BITS = 64  # average-hash distance (of 256 bits) above which a pair is not compared
WORKING_SIDE = 320  # images are compared at this longer side at most (speed)


def average_hash(grey_square: np.ndarray) -> np.ndarray:
    """256 bits: the 16 x 16 area-averaged image above its mean."""
    small = cv2.resize(grey_square, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32)
    return small > small.mean()


def speckle(grey: np.ndarray) -> np.ndarray:
    """The image's fine texture (minus a 1.5-pixel Gaussian blur), at most WORKING_SIDE long."""
    scale = min(1.0, WORKING_SIDE / max(grey.shape))
    if scale < 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    image = grey.astype(np.float32)
    return image - cv2.GaussianBlur(image, (0, 0), 1.5)


def same_speckle(a: np.ndarray, b: np.ndarray) -> float:
    """Best normalised cross-correlation of the central half of the smaller of two speckle
    images at any offset inside the other (0 when it does not fit)."""
    if a.size > b.size:
        a, b = b, a
    h, w = a.shape
    template = a[h // 4: h - h // 4, w // 4: w - w // 4]
    if template.shape[0] > b.shape[0] or template.shape[1] > b.shape[1] or template.std() == 0:
        return 0.0
    return float(cv2.matchTemplate(b, template, cv2.TM_CCOEFF_NORMED).max())


def copy_pairs(hashes: list[np.ndarray], textures: list[np.ndarray]) -> list[tuple[int, int, float]]:
    """(i, j, score) of every pair of images that are copies of one acquisition."""
    bits = np.array(hashes).reshape(len(hashes), -1)
    pairs = []
    for i in range(len(bits)):
        close = np.flatnonzero((bits[i + 1:] != bits[i]).sum(axis=1) <= CANDIDATE_BITS) + i + 1
        for j in close:
            score = same_speckle(textures[i], textures[j])
            if score >= SAME_SPECKLE:
                pairs.append((i, int(j), round(score, 3)))
    return pairs
