"""Synthetic brain-CT hospital exports for the brain_ct study.

Writes what a hospital export looks like: one CT DICOM per slice (int16 stored values with
RescaleSlope/Intercept, patient/study/series/instance UIDs, InstitutionName), a PNG hematoma
mask per hemorrhage slice for the hospitals that annotated masks (1-4), and a manifest CSV.
Nothing downstream knows the data is synthetic: the same loaders read a real export.

Anatomy, in millimetres then rasterised: air, scalp, skull, brain parenchyma with low-frequency
texture and ventricles. A patient may have an intracerebral hematoma (an ellipsoid across
neighbouring slices) carrying any of the four markers of Boulouis et al. (2016):

- hypodensity (the target): dark islands (~25-35 HU) inside the hematoma;
- irregular margin: a lobulated hematoma border;
- blend sign: a hypoattenuating half (~45 HU) beside the hyperattenuating half, sharp border;
- fluid level: a straight horizontal line, lighter serum above, sedimented blood below.

Hospitals differ in scanner noise, gain/offset, sharpness, field of view and rescale intercept,
and hospitals outside `cue_hospitals` are drawn from wider ranges: the covariate shift of the
paper's "Hospital 5-11" test set. A spurious cue (a bright head-holder arc behind the head) is
correlated with hypodensity in `cue_hospitals` and independent of it elsewhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from scipy import ndimage

from medbench.data.toy import checked_params, smooth_noise
from medbench.errors import ConfigError
from medbench.fileio import atomic_dir, file_digest
from medbench.progress import progress

log = logging.getLogger(__name__)

MARKERS = ("hypodensity", "irregular_margin", "blend_sign", "fluid_level")
MANIFEST_COLUMNS = (
    "hospital", "patient_id", "study_date", "slice_index", "dicom", "mask", *MARKERS,
)


@dataclass(frozen=True)
class ToyBrainCTConfig:
    seed: int = 0
    matrix: int = 128  # DICOM rows = columns
    patients_per_hospital: tuple[int, ...] = (40, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8)
    slices_per_patient: tuple[int, int] = (6, 10)  # inclusive range
    ich_probability: float = 0.75  # patient has a hematoma
    marker_probability: dict = field(default_factory=lambda: {
        "hypodensity": 0.5, "irregular_margin": 0.4, "blend_sign": 0.3, "fluid_level": 0.25,
    })
    mask_hospitals: tuple[int, ...] = (1, 2, 3, 4)
    cue_hospitals: tuple[int, ...] = (1, 2, 3, 4)
    # P(head-holder arc | patient hypodensity-positive / negative) inside cue_hospitals;
    # elsewhere the arc appears with probability `cue_probability_elsewhere` for everyone.
    cue_probability_positive: float = 0.8
    cue_probability_negative: float = 0.2
    cue_probability_elsewhere: float = 0.5
    # The target's signal: hematoma radii (mm, drawn in these ranges), hypodense islands (radius as
    # a share of the hematoma's smaller radius, their HU) and the island area a slice needs to be
    # labelled hypodensity-positive (mm^2: the label does not depend on the matrix size)
    hematoma_radius_mm: tuple[float, float] = (14.0, 28.0)
    island_radius: tuple[float, float] = (0.45, 0.6)
    island_hu: float = 24.0
    min_island_mm2: float = 24.0

    @classmethod
    def from_dict(cls, params: dict | None) -> ToyBrainCTConfig:
        params = checked_params(cls, params, "brain_ct", tuples=(
            "patients_per_hospital", "slices_per_patient", "mask_hospitals", "cue_hospitals",
            "hematoma_radius_mm", "island_radius"))
        cfg = cls(**params)
        lo, hi = cfg.slices_per_patient
        if not 1 <= lo <= hi:
            raise ConfigError(f"toy brain_ct: slices_per_patient must be 1 <= lo <= hi, got {lo, hi}")
        return cfg


@dataclass(frozen=True)
class Scanner:
    institution: str
    noise_hu: float
    gain: float
    offset_hu: float
    blur_px: float
    pixel_spacing_mm: float
    rescale_intercept: float


@dataclass(frozen=True)
class Hematoma:
    center_mm: tuple[float, float]
    radii_mm: tuple[float, float]
    center_slice: float
    half_extent_slices: float
    angle: float
    markers: dict
    lobes: int
    lobe_phase: float
    blend_angle: float
    islands: tuple  # ((dx, dy, r_frac, dz), ...) relative to the hematoma


def _scanner(hospital: int, shifted: bool, matrix: int, rng: np.random.Generator) -> Scanner:
    """Training hospitals share a narrow band of scanner settings; the others spread wider.

    Spacings are drawn for a 128 matrix and scaled, so the field of view (~180-210 mm) does
    not depend on the matrix size.
    """
    if shifted:
        noise, gain, offset = rng.uniform(7, 14), rng.uniform(0.8, 1.25), rng.uniform(-8, 8)
        blur, spacing = rng.uniform(0.3, 1.2), rng.uniform(1.35, 1.65)
    else:
        noise, gain, offset = rng.uniform(3, 6), rng.uniform(0.95, 1.05), rng.uniform(-2, 2)
        blur, spacing = rng.uniform(0.4, 0.7), rng.uniform(1.35, 1.45)
    return Scanner(
        institution=f"Hospital {hospital:02d}",
        noise_hu=noise, gain=gain, offset_hu=offset, blur_px=blur,
        pixel_spacing_mm=spacing * 128 / matrix,
        rescale_intercept=-1024.0 if hospital % 2 else -1000.0,
    )


def _hematoma(n_slices: int, markers: dict, cfg: ToyBrainCTConfig, rng: np.random.Generator) -> Hematoma:
    n_islands = int(rng.integers(1, 3))
    islands = tuple(
        (rng.uniform(-0.25, 0.25), rng.uniform(-0.25, 0.25), rng.uniform(*cfg.island_radius),
         rng.uniform(-0.4, 0.4))
        for _ in range(n_islands)
    )
    low, high = cfg.hematoma_radius_mm
    return Hematoma(
        center_mm=(rng.uniform(-30, 30), rng.uniform(-35, 30)),
        radii_mm=(rng.uniform(low, high), rng.uniform(low, high) * 6 / 7),
        center_slice=rng.uniform(0.3, 0.7) * (n_slices - 1),
        half_extent_slices=rng.uniform(0.25, 0.45) * n_slices + 1,
        angle=rng.uniform(0, np.pi),
        markers=markers,
        lobes=int(rng.integers(3, 7)),
        lobe_phase=rng.uniform(0, 2 * np.pi),
        blend_angle=rng.uniform(0, 2 * np.pi),
        islands=islands,
    )


def _grid(cfg: ToyBrainCTConfig, scanner: Scanner) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres in millimetres, origin at the image centre, y pointing posterior (down)."""
    coords = (np.arange(cfg.matrix) - (cfg.matrix - 1) / 2) * scanner.pixel_spacing_mm
    return np.meshgrid(coords, coords)


def _ellipse(x, y, cx, cy, rx, ry, angle=0.0) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    u, v = (x - cx) * c + (y - cy) * s, -(x - cx) * s + (y - cy) * c
    return (u / rx) ** 2 + (v / ry) ** 2


def _head(x, y, level: float, holder: bool, rng) -> np.ndarray:
    """Air, scalp, skull and brain; `level` in [0, 1] runs from skull base to vertex."""
    scale = 1.0 - 0.35 * abs(level - 0.45) / 0.55
    ax, ay = 72 * scale, 88 * scale
    hu = np.full(x.shape, -1000.0)
    outer = _ellipse(x, y, 0, 0, ax + 4, ay + 4)
    skull_out = _ellipse(x, y, 0, 0, ax, ay)
    skull_in = _ellipse(x, y, 0, 0, ax - 6, ay - 6)
    hu[outer <= 1] = 40.0
    hu[skull_out <= 1] = 1200.0 + 200 * smooth_noise(x.shape, 3, rng)[skull_out <= 1]
    brain = skull_in <= 1
    texture = 31.0 + 3.0 * smooth_noise(x.shape, 6, rng)
    hu[brain] = texture[brain]
    if 0.25 < level < 0.75:  # lateral ventricles
        for side in (-1, 1):
            vent = _ellipse(x, y, side * 9 * scale, -6, 5 * scale, 18 * scale, side * 0.25)
            hu[(vent <= 1) & brain] = 6.0
    if holder:  # head-holder arc behind the occiput: the spurious cue
        arc = _ellipse(x, y, 0, 14, ax + 9, ay - 2)
        hu[(arc > 0.84) & (arc <= 1.0) & (y > ay * 0.35)] = 250.0
    return hu


def _hematoma_slice(x, y, h: Hematoma, k: int, island_hu: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hematoma mask, its HU values and the hypodense-island mask on slice k."""
    dz = (k - h.center_slice) / h.half_extent_slices
    if abs(dz) >= 1:
        empty = np.zeros(x.shape, bool)
        return empty, np.zeros(x.shape), empty
    shrink = np.sqrt(1 - dz**2)
    rx, ry = h.radii_mm[0] * shrink, h.radii_mm[1] * shrink
    cx, cy = h.center_mm
    r = _ellipse(x, y, cx, cy, rx, ry, h.angle)
    if h.markers["irregular_margin"]:
        theta = np.arctan2(y - cy, x - cx)
        r = r / (1 + 0.28 * np.sin(h.lobes * theta + h.lobe_phase)) ** 2
    region = r <= 1
    hu = np.full(x.shape, 72.0)
    if h.markers["blend_sign"]:
        side = (x - cx) * np.cos(h.blend_angle) + (y - cy) * np.sin(h.blend_angle) > 0
        hu[side] = 46.0
    if h.markers["fluid_level"]:
        hu[y < cy - 0.15 * ry] = 44.0  # serum floats above the sedimented cells (posterior down)
    islands = np.zeros(x.shape, bool)
    if h.markers["hypodensity"]:
        for ix, iy, rf, iz in h.islands:
            dzi = dz - iz * 0.5
            if abs(dzi) < 0.8:
                ri = rf * min(rx, ry) * np.sqrt(1 - (dzi / 0.8) ** 2)
                islands |= _ellipse(x, y, cx + ix * rx, cy + iy * ry, ri, ri * 0.8, h.angle) <= 1
        islands &= region
        hu[islands] = island_hu
    return region, hu, islands


def _patient_rng(seed: int, hospital: int, patient: int) -> np.random.Generator:
    return np.random.default_rng([seed, hospital, patient])


def _dicom(pixels_hu, scanner: Scanner, meta: dict) -> FileDataset:
    file_meta = FileMetaDataset()
    file_meta.MediaStorageSOPClassUID = CTImageStorage
    file_meta.MediaStorageSOPInstanceUID = meta["sop_uid"]
    file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=file_meta, preamble=b"\0" * 128)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta["sop_uid"]
    ds.StudyInstanceUID = meta["study_uid"]
    ds.SeriesInstanceUID = meta["series_uid"]
    ds.Modality = "CT"
    ds.Manufacturer = "medbench-toy"
    ds.InstitutionName = scanner.institution
    ds.PatientID = meta["patient_id"]
    ds.PatientName = meta["patient_id"]
    ds.StudyDate = meta["study_date"]
    ds.SeriesNumber = 1
    ds.InstanceNumber = meta["slice_index"] + 1
    ds.SliceThickness = 5.0
    ds.SliceLocation = 5.0 * meta["slice_index"]
    ds.ImagePositionPatient = [0.0, 0.0, 5.0 * meta["slice_index"]]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [round(scanner.pixel_spacing_mm, 4)] * 2
    ds.Rows, ds.Columns = pixels_hu.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept = scanner.rescale_intercept
    ds.RescaleSlope = 1.0
    ds.RescaleType = "HU"
    ds.WindowCenter, ds.WindowWidth = 40, 80
    stored = np.clip(np.round(pixels_hu - scanner.rescale_intercept), -32768, 32767).astype(np.int16)
    ds.PixelData = stored.tobytes()
    return ds


def _uid(*parts) -> str:
    return generate_uid(entropy_srcs=[str(p) for p in parts])


def _render_slice(x, y, scanner, h, k, n_slices, holder, island_hu, rng):
    hu = _head(x, y, k / max(n_slices - 1, 1), holder, rng)
    region = islands = np.zeros(x.shape, bool)
    if h is not None:
        region, lesion_hu, islands = _hematoma_slice(x, y, h, k, island_hu)
        region &= (hu > 0) & (hu < 100)  # inside the parenchyma only
        islands &= region
        hu[region] = lesion_hu[region]
    hu = np.where(hu > -900, (hu - 40) * scanner.gain + 40 + scanner.offset_hu, hu)
    hu = ndimage.gaussian_filter(hu, scanner.blur_px) + rng.normal(0, scanner.noise_hu, hu.shape)
    return hu, region, islands


def generate(out_dir: str | Path, cfg: ToyBrainCTConfig) -> pd.DataFrame:
    """Write the toy export under `out_dir` (atomically, as a whole) and return its manifest."""
    out_dir = Path(out_dir)
    rows = []
    n_hospitals = len(cfg.patients_per_hospital)
    with atomic_dir(out_dir) as tmp:
        for hospital in progress(range(1, n_hospitals + 1), desc="toy brain_ct", unit="hospital"):
            shifted = hospital not in cfg.cue_hospitals
            scanner = _scanner(hospital, shifted, cfg.matrix, np.random.default_rng([cfg.seed, hospital]))
            for p in range(cfg.patients_per_hospital[hospital - 1]):
                rows += _write_patient(tmp, cfg, hospital, p, scanner, shifted)
        manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
        manifest.to_csv(tmp / "manifest.csv", index=False)
    log.info("wrote %d slices from %d hospitals to %s", len(manifest), n_hospitals, out_dir)
    return manifest


def _write_patient(root: Path, cfg, hospital: int, p: int, scanner: Scanner, shifted: bool):
    rng = _patient_rng(cfg.seed, hospital, p)
    patient_id = f"H{hospital:02d}P{p:03d}"
    n_slices = int(rng.integers(cfg.slices_per_patient[0], cfg.slices_per_patient[1] + 1))
    study_date = (dt.date(2019, 1, 1) + dt.timedelta(days=int(rng.integers(0, 1500)))).strftime("%Y%m%d")
    has_ich = rng.random() < cfg.ich_probability
    markers = {m: bool(has_ich and rng.random() < cfg.marker_probability[m]) for m in MARKERS}
    h = _hematoma(n_slices, markers, cfg, rng) if has_ich else None
    p_cue = (
        cfg.cue_probability_elsewhere if shifted
        else cfg.cue_probability_positive if markers["hypodensity"]
        else cfg.cue_probability_negative
    )
    holder = bool(rng.random() < p_cue)
    x, y = _grid(cfg, scanner)
    study_uid = _uid(cfg.seed, patient_id, "study")
    series_uid = _uid(cfg.seed, patient_id, "series")
    rows = []
    for k in range(n_slices):
        hu, region, islands = _render_slice(x, y, scanner, h, k, n_slices, holder, cfg.island_hu, rng)
        rel = Path(f"hospital_{hospital:02d}") / patient_id / study_date / f"slice_{k:03d}.dcm"
        meta = dict(patient_id=patient_id, study_date=study_date, slice_index=k,
                    study_uid=study_uid, series_uid=series_uid,
                    sop_uid=_uid(cfg.seed, patient_id, k))
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        _dicom(hu, scanner, meta).save_as(root / rel, enforce_file_format=True)
        visible = region.sum() >= 4
        mask_rel = ""
        if visible and hospital in cfg.mask_hospitals:
            mask_rel = str(Path("masks") / f"hospital_{hospital:02d}" / f"{patient_id}_{k:03d}.png")
            (root / mask_rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(region.astype(np.uint8) * 255).save(root / mask_rel)
        labels = {m: int(visible and markers[m]) for m in MARKERS}
        island_mm2 = islands.sum() * scanner.pixel_spacing_mm**2
        labels["hypodensity"] = int(visible and island_mm2 >= cfg.min_island_mm2)
        rows.append((hospital, patient_id, study_date, k, str(rel), mask_rel,
                     *(labels[m] for m in MARKERS)))
    return rows


def digest(out_dir: str | Path) -> str:
    """SHA-256 over every file of an export (names and contents), for determinism checks."""
    h = hashlib.sha256()
    for path in sorted(Path(out_dir).rglob("*")):
        if path.is_file():
            h.update(f"{path.relative_to(out_dir)}:{file_digest(path)}".encode())
    return h.hexdigest()
