"""Vahadane stain normalisation, medbench's (`vahadane`) against staintools (`staintools_vahadane`):
time per image and how far the outputs are apart, on the same images in one run.

    python benchmarks/vahadane.py [--size 768] [--repeats 3] [--tiffs DIR] [--images N]

Images: one toy image per organ and source (HPA: DAB + hematoxylin; HuBMAP: PAS, H&E) written by
the hubmap toy generator at --size, two of them with much white background (the tissue shrunk
into a white frame), and with --tiffs the first N TIFFs of a directory (e.g. Kaggle's
train_images/), resized to --size. Both methods are fitted on the first HPA kidney image (the
study's default stain target). Per image: the transform time of staintools and ours on the CPU
(median of --repeats; the GPU too when there is one), the speed-up, the mean |dOD| between
our output and staintools' (OD = -log(max(I, 1) / 255), mean over pixels and channels), and the
image's distinct RGB colours (a real 768 px scan has 100k+; the toy generator renders scanner
noise and texture so that its images do too, and medbench's dictionary learning works over
colour bins so that its time does not follow that count). The summary names the image with the
lowest speed-up and the one furthest from staintools: the acceptance bounds are per image.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import tifffile

from medbench.data.stain import fit_stain_target
from medbench.data.stain.vahadane import OD_TABLE, colour_counts
from medbench.studies.hubmap.kaggle import load_image
from medbench.studies.hubmap.toy import ToyHubmapConfig, generate


def toy_images(size: int) -> dict[str, np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp, ToyHubmapConfig.from_dict({"size": size, "images_scale": 0.05,
                                                 "hubmap_per_organ": 1}))
        images = {}
        for source in ("hpa", "hubmap"):
            table = pd.read_csv(Path(tmp) / source / "train.csv", dtype={"id": str})
            for row in table.groupby("organ").head(1).itertuples():
                images[f"toy {source} {row.organ}"] = load_image(Path(tmp) / source / "train_images", row.id)
    return images


def with_white_background(image: np.ndarray, tissue_share: float) -> np.ndarray:
    """The image shrunk to `tissue_share` of its area inside a white frame of the same size."""
    size = image.shape[0]
    side = max(8, round(size * tissue_share ** 0.5))
    framed = np.full_like(image, 248)
    start = (size - side) // 2
    framed[start:start + side, start:start + side] = cv2.resize(image, (side, side),
                                                                interpolation=cv2.INTER_AREA)
    return framed


def tiff_images(folder: Path, count: int, size: int) -> dict[str, np.ndarray]:
    images = {}
    for path in sorted(folder.glob("*.tif*"))[:count]:
        image = tifffile.imread(path)[..., :3]
        images[f"tiff {path.stem}"] = cv2.resize(np.ascontiguousarray(image), (size, size),
                                                 interpolation=cv2.INTER_AREA)
    return images


def seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=768)
    parser.add_argument("--repeats", type=int, default=3, help="timed transforms per image (median)")
    parser.add_argument("--tiffs", type=Path, help="a folder of real TIFFs (Kaggle train_images/)")
    parser.add_argument("--images", type=int, default=10, help="TIFFs taken from --tiffs")
    args = parser.parse_args()

    images = toy_images(args.size)
    images["toy hpa kidney, 10% tissue"] = with_white_background(images["toy hpa kidney"], 0.1)
    images["toy hubmap spleen, 3% tissue"] = with_white_background(images["toy hubmap spleen"], 0.03)
    if args.tiffs:
        images |= tiff_images(args.tiffs, args.images, args.size)
    target = images["toy hpa kidney"]
    fit_s = {m: seconds(partial(fit_stain_target, m, target), 1) for m in ("staintools_vahadane", "vahadane")}
    reference, ours = fit_stain_target("staintools_vahadane", target), fit_stain_target("vahadane", target)
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = fit_stain_target("vahadane", target, device="cuda")
            gpu(target)  # CUDA start-up is not the normaliser's time
    except ImportError:
        pass

    rows = []
    for name, image in images.items():
        row = {"image": name, "colours": colour_counts(image.reshape(-1, 3))[1].size,
               "staintools_s": seconds(partial(reference, image, name), args.repeats),
               "ours_cpu_s": seconds(partial(ours, image, name), args.repeats)}
        if gpu is not None:
            row["ours_gpu_s"] = seconds(partial(gpu, image, name), args.repeats)
        row["speedup_cpu"] = row["staintools_s"] / row["ours_cpu_s"]
        difference = OD_TABLE[ours(image, name)] - OD_TABLE[reference(image, name)]
        row["mean_abs_dOD"] = float(np.abs(difference).mean())
        rows.append(row)
        gpu_time = f"  gpu {row['ours_gpu_s'] * 1000:6.1f} ms" if gpu is not None else ""
        print(f"{name:34s} {row['colours']:7d} colours  staintools {row['staintools_s']:.3f} s"
              f"  ours {row['ours_cpu_s'] * 1000:6.1f} ms"
              f"{gpu_time}  x{row['speedup_cpu']:5.1f}  mean|dOD| {row['mean_abs_dOD']:.4f}", flush=True)
    table = pd.DataFrame(rows)
    worst = table.loc[table["mean_abs_dOD"].idxmax()]
    slowest = table.loc[table["speedup_cpu"].idxmin()]
    total = table["staintools_s"].sum() / table["ours_cpu_s"].sum()
    print(f"\n{len(table)} images at {args.size} px; fit on the target: staintools "
          f"{fit_s['staintools_vahadane']:.3f} s, ours {fit_s['vahadane'] * 1000:.1f} ms")
    print(f"throughput ratio (CPU, all images): {total:.1f}x; per image median "
          f"{table['speedup_cpu'].median():.1f}x, min {slowest['speedup_cpu']:.1f}x ({slowest['image']}, "
          f"{slowest['colours']} colours)")
    print(f"mean |dOD| vs staintools: median {table['mean_abs_dOD'].median():.4f}, "
          f"worst {worst['mean_abs_dOD']:.4f} ({worst['image']})")


if __name__ == "__main__":
    main()
