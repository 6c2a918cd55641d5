"""The toy generator writes a plausible, deterministic hospital export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pydicom
import pytest

from medbench.data.io.dicom import read_ct_hu
from medbench.data.io.masks import read_mask
from medbench.errors import ConfigError
from medbench.studies.brain_ct.toy import MANIFEST_COLUMNS, ToyBrainCTConfig, digest, generate

from .conftest import SMALL_TOY


@pytest.fixture(scope="module")
def manifest(toy_export) -> pd.DataFrame:
    return pd.read_csv(toy_export / "manifest.csv", keep_default_na=False)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, toy_export):
    params = dict(SMALL_TOY, patients_per_hospital=[2] * 11)
    generate(tmp_path / "a", ToyBrainCTConfig.from_dict(params))
    generate(tmp_path / "b", ToyBrainCTConfig.from_dict(params))
    generate(tmp_path / "c", ToyBrainCTConfig.from_dict({**params, "seed": 1}))
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_manifest_columns_and_hospitals(manifest):
    assert tuple(manifest.columns) == MANIFEST_COLUMNS
    assert sorted(manifest["hospital"].unique()) == list(range(1, 12))
    assert manifest.groupby("patient_id")["hospital"].nunique().max() == 1


def test_dicom_tags_of_a_hospital_export(toy_export, manifest):
    row = manifest.iloc[0]
    ds = pydicom.dcmread(toy_export / row["dicom"])
    assert ds.Modality == "CT" and ds.PatientID == row["patient_id"]
    assert ds.StudyDate == str(row["study_date"]) and ds.InstitutionName == "Hospital 01"
    assert ds.pixel_array.dtype == np.int16 and ds.RescaleType == "HU"
    assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"
    uids = {pydicom.dcmread(toy_export / p).SOPInstanceUID for p in manifest["dicom"][:20]}
    assert len(uids) == 20


def test_masks_only_for_annotating_hospitals(manifest):
    has_mask = manifest["mask"] != ""
    assert has_mask[manifest["hospital"] <= 4].any()
    assert not has_mask[manifest["hospital"] > 4].any()


def test_positives_show_hypodense_region_inside_the_hematoma(toy_export, manifest):
    """Hypodensity-positive slices have an island of pixels darker than brain (~25-35 HU) inside
    their hematoma mask, of about the area the label needs; hematomas without hypodensity or
    blend/fluid markers (which are dark too) have next to none."""
    def dark_mm2(row) -> float:
        hu = read_ct_hu(toy_export / row["dicom"])
        spacing = float(pydicom.dcmread(toy_export / row["dicom"]).PixelSpacing[0])
        return float((hu[read_mask(toy_export / row["mask"])] < 38).sum() * spacing**2)

    masked = manifest[manifest["mask"] != ""]
    pos = masked[masked["hypodensity"] == 1]
    neg = masked[masked[["hypodensity", "blend_sign", "fluid_level"]].sum(axis=1) == 0]
    pos_dark = np.median([dark_mm2(row) for _, row in pos.iterrows()])
    neg_dark = np.median([dark_mm2(row) for _, row in neg.iterrows()])
    assert pos_dark >= ToyBrainCTConfig().min_island_mm2 and neg_dark < 5, (pos_dark, neg_dark)


def test_there_are_slices_without_hemorrhage_and_every_marker(manifest):
    markers = ["hypodensity", "irregular_margin", "blend_sign", "fluid_level"]
    assert (manifest[markers].sum(axis=1) == 0).any()
    assert (manifest[markers].sum() > 0).all()


def test_unknown_parameter_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown parameter.*'patients'"):
        ToyBrainCTConfig.from_dict({"patients": 3})


def _positives(tmp_path, name, **signal):
    params = dict(SMALL_TOY, patients_per_hospital=[12, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2], **signal)
    generate(tmp_path / name, ToyBrainCTConfig.from_dict(params))
    return pd.read_csv(tmp_path / name / "manifest.csv", keep_default_na=False), tmp_path / name


def test_the_hypodensity_signal_follows_its_parameters(tmp_path):
    """Positive slices carry an island at least `min_island_mm2` large, at `island_hu`."""
    strict, _ = _positives(tmp_path, "strict", min_island_mm2=1e9)
    assert strict["hypodensity"].sum() == 0  # no island is that large: every slice negative
    signal = {"hematoma_radius_mm": [24, 40], "island_radius": [0.45, 0.6], "island_hu": 10,
              "min_island_mm2": 40}
    manifest, root = _positives(tmp_path, "toy", **signal)
    assert 0.15 < manifest["hypodensity"].mean() < 0.5
    with_mask = manifest[manifest["mask"] != ""]
    plain = with_mask[(with_mask[["hypodensity", "blend_sign", "fluid_level"]] == 0).all(axis=1)]

    def darkest(rows):  # the darkest hematoma pixel of each slice (HU)
        return [read_ct_hu(root / r.dicom)[read_mask(root / r.mask)].min() for r in rows.itertuples()]

    # an island of 10 HU in a hematoma of ~72 HU; hematomas without a marker stay bright
    assert np.median(darkest(with_mask[with_mask["hypodensity"] == 1])) < 30 < np.median(darkest(plain))
    with pytest.raises(ConfigError, match="unknown parameter"):
        ToyBrainCTConfig.from_dict({"island_size": 1})
