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
    """A hypodensity-positive slice has hematoma pixels darker than brain (~25-35 HU) inside
    its mask; a hematoma without hypodensity or blend/fluid markers has none."""
    pos = manifest[(manifest["hypodensity"] == 1) & (manifest["mask"] != "")].iloc[0]
    neg = manifest[(manifest["mask"] != "") & (manifest[["hypodensity", "blend_sign",
                                                         "fluid_level"]].sum(axis=1) == 0)].iloc[0]
    for row, expect_dark in ((pos, True), (neg, False)):
        hu = read_ct_hu(toy_export / row["dicom"])
        mask = read_mask(toy_export / row["mask"])
        dark = (hu[mask] < 38).mean()
        assert (dark > 0.05) == expect_dark, (row["dicom"], dark)


def test_there_are_slices_without_hemorrhage_and_every_marker(manifest):
    markers = ["hypodensity", "irregular_margin", "blend_sign", "fluid_level"]
    assert (manifest[markers].sum(axis=1) == 0).any()
    assert (manifest[markers].sum() > 0).all()


def test_unknown_parameter_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown parameter.*'patients'"):
        ToyBrainCTConfig.from_dict({"patients": 3})
