"""Vahadane stain normalisation time per image (staintools + spams-bin), to improve on later.

    python benchmarks/vahadane.py [--sizes 256 512 768] [--images N] [--tiffs DIR]

Without --tiffs, synthetic tissue-like tiles (stained blobs on a bright background) are used;
with --tiffs, the first N TIFFs of a directory (e.g. Kaggle train_images/), resized to each size.
Prints the one-off fit on the target and the mean/max transform time per image.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import tifffile

from medbench.data.stain import VahadaneNormalizer


def synthetic_tile(size: int, rng: np.random.Generator, stain=(120, 60, 140)) -> np.ndarray:
    tile = np.full((size, size, 3), 235, np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(size // 12):
        cy, cx = rng.integers(0, size, 2)
        radius = rng.integers(size // 100 + 2, size // 15 + 3)
        blob = (yy - cy) ** 2 + (xx - cx) ** 2 < radius**2
        tile[blob] = np.clip(np.array(stain) + rng.integers(-25, 25, 3), 0, 255)
    return tile


def images(args, size: int, rng) -> list[np.ndarray]:
    if args.tiffs:
        paths = sorted(Path(args.tiffs).glob("*.tif*"))[: args.images]
        return [cv2.resize(tifffile.imread(p)[..., :3], (size, size), interpolation=cv2.INTER_AREA)
                for p in paths]
    return [synthetic_tile(size, rng, stain=(150, 90, 60)) for _ in range(args.images)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 768])
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--tiffs", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for size in args.sizes:
        start = time.perf_counter()
        normalizer = VahadaneNormalizer(synthetic_tile(size, rng))
        fit = time.perf_counter() - start
        times = []
        for i, image in enumerate(images(args, size, rng)):
            start = time.perf_counter()
            normalizer(image, f"image {i}")
            times.append(time.perf_counter() - start)
        print(f"{size}x{size}: fit {fit:.2f} s; transform {np.mean(times):.2f} s/image "
              f"(max {np.max(times):.2f} s, {len(times)} images)")


if __name__ == "__main__":
    main()
