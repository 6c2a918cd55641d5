"""Manifest validation reports every bad row at once and writes nothing; good data is cached."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from medbench.data.cache import ImageCache
from medbench.errors import DataError
from medbench.studies.brain_ct.ingest import ingest

from .conftest import WINDOW


def test_cache_matches_manifest(toy_export, toy_cache):
    cache = ImageCache.load(toy_cache)
    manifest = pd.read_csv(toy_export / "manifest.csv", keep_default_na=False)
    assert cache.images.shape == (len(manifest), 32, 32) and cache.images.dtype == np.uint8
    assert list(cache.index["patient_id"]) == list(manifest["patient_id"])
    assert (cache.index["has_mask"] == (manifest["mask"] != "").astype(int)).all()
    masked = cache.index["has_mask"].to_numpy() == 1
    assert np.asarray(cache.masks[masked]).any(axis=(1, 2)).all()
    assert not np.asarray(cache.masks[~masked]).any()
    # the hematoma is brighter than the rest of the (windowed) brain
    images, masks = np.asarray(cache.images[masked]), np.asarray(cache.masks[masked]).astype(bool)
    assert images[masks].mean() > images[~masks & (images > 60) & (images < 250)].mean() + 40


def test_every_problem_is_reported_and_nothing_written(export, tmp_path):
    manifest = pd.read_csv(export / "manifest.csv", dtype=str, keep_default_na=False)
    dicoms = manifest["dicom"].tolist()
    # 1. truncated DICOM
    truncated = export / dicoms[0]
    truncated.write_bytes(truncated.read_bytes()[:2000])
    # 2. missing DICOM
    manifest.loc[1, "dicom"] = "hospital_01/nowhere.dcm"
    # 3. mask of the wrong size
    masked_rows = manifest.index[(manifest["mask"] != "") & (manifest.index > 3)]
    masked = masked_rows[0]
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(export / manifest.loc[masked, "mask"])
    # 4. unknown label value
    manifest.loc[3, "hypodensity"] = "yes"
    # 5. missing mask file
    other_masked = masked_rows[1]
    manifest.loc[other_masked, "mask"] = "masks/none.png"
    manifest.to_csv(export / "manifest.csv", index=False)

    out = tmp_path / "cache"
    with pytest.raises(DataError) as info:
        ingest(export / "manifest.csv", out, 32, WINDOW)
    message = str(info.value)
    assert f"{truncated}: pixel data unreadable or truncated" in message
    assert "nowhere.dcm: file not found" in message
    assert "mask size (10, 12) does not match DICOM" in message
    assert "row 5: hypodensity='yes' is not a label" in message
    assert "none.png: mask file not found" in message
    assert len(info.value.problems) == 5
    assert not out.exists()
    assert not list(tmp_path.glob(".cache.*"))  # no temporary left behind


def test_missing_column_is_named(export, tmp_path):
    manifest = pd.read_csv(export / "manifest.csv", dtype=str, keep_default_na=False)
    manifest.drop(columns=["fluid_level"]).to_csv(export / "manifest.csv", index=False)
    with pytest.raises(DataError, match=r"manifest lacks required column\(s\) \['fluid_level'\]"):
        ingest(export / "manifest.csv", tmp_path / "cache", 32, WINDOW)


def test_rgba_masks_count_any_channel(tmp_path):
    from medbench.data.io.masks import read_mask

    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[1, 2] = (255, 255, 255, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "m.png")
    mask = read_mask(tmp_path / "m.png")
    assert mask.shape == (4, 4) and mask.sum() == 1 and mask[1, 2]
