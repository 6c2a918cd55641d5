"""Synthetic HuBMAP + HPA data in Kaggle's format, for the hubmap study.

Writes two exports, each `train.csv` + `train_images/{id}.tiff` exactly as Kaggle ships them
(RLE masks, the same columns), so the real reader reads them:

- `hpa/`: the training set. HPA-like images: DAB (brown) immunostaining counterstained with
  hematoxylin, 0.4 µm pixels, 4 µm sections, the five organs in the real imbalance (kidney 99,
  prostate 93, large intestine 58, spleen 53, lung 48 images; scaled by `images_scale`).
- `hubmap/`: the evaluation set. HuBMAP-like images: PAS (kidney) or H&E (the rest), each organ's
  HuBMAP pixel size (paper Table 1) and section thickness, so stain AND resolution shift.

Each organ gets its functional tissue units (FTUs), the masks' foreground: glomeruli (kidney),
crypts (large intestine), alveoli (lung), glands (prostate), white pulp (spleen). Tissue is
shrunk by `size / 3000` so a `size`-pixel toy image shows what a 3000-pixel HPA image shows;
`pixel_size` stays the real one, so the ratios between sources are the real ones. Colours come
from Beer-Lambert mixing of stain optical-density vectors (Ruifrok & Johnston 2001), thicker
sections staining darker, with a scanner's texture, uneven staining, blur and sensor noise: a
768-pixel image has 120k-180k distinct colours, as a real scan has (stain normalisation's cost
and accuracy depend on that).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
from scipy import ndimage

from medbench.data.io.rle import rle_encode
from medbench.data.toy import checked_params, smooth_noise
from medbench.errors import ConfigError
from medbench.fileio import atomic_dir
from medbench.progress import progress
from medbench.studies.hubmap.kaggle import COLUMNS, ORGANS
from medbench.studies.hubmap.layout import TOY_LAYOUT

log = logging.getLogger(__name__)

# the folder of each data source's export
FOLDER = {"hpa": TOY_LAYOUT["training_export"], "hubmap": TOY_LAYOUT["evaluation_export"]}
REAL_COUNTS = {"kidney": 99, "prostate": 93, "largeintestine": 58, "spleen": 53, "lung": 48}
HPA_PIXEL_SIZE, HPA_THICKNESS, REAL_SIDE = 0.4, 4, 3000
# HuBMAP pixel size (µm, paper Table 1) and section thickness (µm; the paper gives the range
# 4 (spleen) to 10 (kidney); the others are Kaggle's data description)
HUBMAP = {"kidney": (0.229, 10), "largeintestine": (0.7562, 8), "lung": (0.4945, 5),
          "prostate": (6.263, 5), "spleen": (0.4945, 4)}
# stain optical-density vectors (Ruifrok & Johnston 2001), normalised below
HEMATOXYLIN, DAB = (0.65, 0.70, 0.29), (0.27, 0.57, 0.78)
EOSIN, PAS = (0.07, 0.99, 0.11), (0.18, 0.96, 0.22)
BACKGROUND_OD = np.array([0.03, 0.035, 0.02])  # glass and mounting medium: a faint yellow tint


@dataclass(frozen=True)
class ToyHubmapConfig:
    seed: int = 0
    size: int = 256                 # side of every toy image (px); real HPA: mostly 3000
    images_scale: float = 0.1       # x the real organ counts (>= 5 per organ for 5 folds)
    hubmap_per_organ: int = 3       # evaluation images per organ
    organs: tuple[str, ...] = field(default=ORGANS)

    @classmethod
    def from_dict(cls, params: dict | None) -> ToyHubmapConfig:
        cfg = cls(**checked_params(cls, params, "hubmap", tuples=("organs",)))
        if bad := sorted(set(cfg.organs) - set(ORGANS)):
            raise ConfigError(f"toy hubmap: unknown organ(s) {bad}; known: {list(ORGANS)}")
        return cfg

    def counts(self) -> dict[str, int]:
        return {o: max(5, round(REAL_COUNTS[o] * self.images_scale)) for o in self.organs}


def _disc(shape, center, radii, angle=0.0) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    dy, dx = yy - center[0], xx - center[1]
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    return (u / max(radii[1], 0.5)) ** 2 + (v / max(radii[0], 0.5)) ** 2 <= 1


def ftu_mask(organ: str, size: int, um_per_px: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean FTU mask of one image; FTU sizes in µm, placed at random without overlap."""
    mask = np.zeros((size, size), bool)
    px = 1.0 / um_per_px
    # organ: (count range, radius range µm, aspect, ring)
    spec = {"kidney": ((3, 6), (80, 110), 1.0, False), "largeintestine": ((6, 12), (25, 40), 3.0, False),
            "lung": ((6, 12), (50, 90), 1.0, True), "prostate": ((3, 6), (90, 180), 1.5, False),
            "spleen": ((1, 3), (150, 260), 1.2, False)}[organ]
    (lo, hi), (r_lo, r_hi), aspect, ring = spec
    for _ in range(int(rng.integers(lo, hi + 1))):
        r = rng.uniform(r_lo, r_hi) * px
        center = rng.uniform(r, size - r, 2) if size > 2 * r else np.array([size / 2, size / 2])
        blob = _disc(mask.shape, center, (r, r * aspect), rng.uniform(0, np.pi))
        if ring:
            blob &= ~_disc(mask.shape, center, (0.7 * r, 0.7 * r * aspect), 0.0)
        if not (blob & ndimage.binary_dilation(mask, iterations=2)).any():
            mask |= blob
    return mask


def render(mask: np.ndarray, stains: tuple, thickness: float, um_per_px: float,
           rng: np.random.Generator) -> np.ndarray:
    """RGB uint8 as a brightfield scanner records it. Beer-Lambert: tissue everywhere, nuclei
    (hematoxylin, chromatin texture), the second stain strongest in the FTUs; optical density
    grows with section thickness. Then what makes a real scan's colours continuous: texture at
    two scales, uneven staining over the section, a tinted background, vignetting, the optics'
    blur and sensor noise (shot noise, sd ~ sqrt(intensity)); a 768 px image so has > 100k
    distinct colours, like a real one (a clean three-level rendering has ~25k)."""
    h_vec, s_vec = (np.asarray(v) / np.linalg.norm(v) for v in stains)
    size = mask.shape[0]

    def field(sigma):
        return smooth_noise((size, size), sigma, rng)

    tissue = field(6) > -1.0  # 84%: the rest are gaps in the section
    nuclei = field(max(0.6, 3 / um_per_px)) > 1.0  # 16% of the tissue, ~3 µm radius
    texture = np.clip(1 + 0.35 * field(1.0) + 0.35 * field(4.0), 0.2, None)
    chromatin = np.clip(1 + 0.25 * field(0.7), 0.3, None)
    uneven = np.exp(0.25 * field(size / 6))
    h_conc = uneven * (0.15 * tissue * texture + 0.6 * nuclei * tissue * chromatin + 0.25 * mask)
    s_conc = uneven * texture * (0.10 * tissue + 0.7 * ndimage.gaussian_filter(mask.astype(float), 1.5))
    od = (thickness / HPA_THICKNESS) * (h_conc[..., None] * h_vec + s_conc[..., None] * s_vec)
    od += BACKGROUND_OD + rng.normal(0, 0.04, od.shape)  # stain hue varies pixel to pixel
    yy, xx = np.mgrid[:size, :size] / max(size - 1, 1) - 0.5
    light = 250 * (1 - 0.06 * (yy ** 2 + xx ** 2))[..., None]  # vignetting: corners 3% darker
    intensity = ndimage.gaussian_filter(light * np.exp(-np.clip(od, 0, None)), (0.6, 0.6, 0))
    intensity += rng.standard_normal(intensity.shape) * np.sqrt(1 + intensity / 40)
    return np.clip(np.rint(intensity), 0, 255).astype(np.uint8)


def _image(cfg, organ: str, source: str, index: int, image_id: int):
    rng = np.random.default_rng([cfg.seed, ORGANS.index(organ), source == "hubmap", index])
    pixel_size, thickness = (HPA_PIXEL_SIZE, HPA_THICKNESS) if source == "hpa" else HUBMAP[organ]
    um_per_px = pixel_size * REAL_SIDE / cfg.size  # tissue shrunk by size / 3000
    mask = ftu_mask(organ, cfg.size, um_per_px, rng)
    stains = (HEMATOXYLIN, DAB) if source == "hpa" else (HEMATOXYLIN, PAS if organ == "kidney" else EOSIN)
    row = {"id": image_id, "organ": organ, "data_source": "HPA" if source == "hpa" else "HuBMAP",
           "img_height": cfg.size, "img_width": cfg.size, "pixel_size": pixel_size,
           "tissue_thickness": thickness, "rle": rle_encode(mask),
           "age": int(rng.integers(20, 80)), "sex": str(rng.choice(["Male", "Female"]))}
    return row, render(mask, stains, thickness, um_per_px, rng)


def generate(out_dir: str | Path, cfg: ToyHubmapConfig) -> dict[str, pd.DataFrame]:
    """Write `out_dir/hpa` and `out_dir/hubmap` (atomically, as a whole); return both tables."""
    jobs = [(o, "hpa", i) for o, n in cfg.counts().items() for i in range(n)]
    jobs += [(o, "hubmap", i) for o in cfg.organs for i in range(cfg.hubmap_per_organ)]
    ids = np.random.default_rng(cfg.seed).permutation(90000)[: len(jobs)] + 10000  # Kaggle-like ids
    tables: dict[str, list] = {"hpa": [], "hubmap": []}
    with atomic_dir(out_dir) as tmp:
        for (organ, source, i), image_id in progress(list(zip(jobs, ids, strict=True)),
                                                     desc="toy hubmap", unit="image"):
            row, image = _image(cfg, organ, source, i, int(image_id))
            (tmp / FOLDER[source] / "train_images").mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(tmp / FOLDER[source] / "train_images" / f"{image_id}.tiff", image,
                             photometric="rgb")
            tables[source].append(row)
        frames = {s: pd.DataFrame(rows, columns=list(COLUMNS)) for s, rows in tables.items()}
        for source, frame in frames.items():
            frame.to_csv(tmp / FOLDER[source] / "train.csv", index=False)
    log.info("wrote %d HPA and %d HuBMAP images to %s", len(frames["hpa"]), len(frames["hubmap"]), out_dir)
    return frames
