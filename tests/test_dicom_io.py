"""CT DICOM reading, on real files that ship with pydicom and on our own exports."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medbench.data.io.dicom import DicomReadError, read_ct_hu, window


def test_real_ct_is_converted_to_hounsfield_units():
    path = get_testdata_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    hu = read_ct_hu(path)
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert hu.shape == (128, 128)
    np.testing.assert_allclose(hu, expected)
    assert float(ds.RescaleIntercept) != 0  # the conversion is not a no-op on this file


def test_mr_is_refused_as_not_ct():
    with pytest.raises(DicomReadError, match=r"MR_small\.dcm: not CT"):
        read_ct_hu(get_testdata_file("MR_small.dcm"))


def test_truncated_file_names_the_file(tmp_path, toy_export):
    src = next(toy_export.rglob("*.dcm"))
    broken = tmp_path / "truncated.dcm"
    broken.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(DicomReadError, match=r"truncated\.dcm: pixel data unreadable or truncated"):
        read_ct_hu(broken)


def test_not_dicom_and_missing_files(tmp_path):
    junk = tmp_path / "junk.dcm"
    junk.write_text("hello")
    with pytest.raises(DicomReadError, match=r"junk\.dcm: not a readable DICOM"):
        read_ct_hu(junk)
    with pytest.raises(DicomReadError, match=r"absent\.dcm: file not found"):
        read_ct_hu(tmp_path / "absent.dcm")


def test_missing_rescale_tag_is_refused(tmp_path, toy_export):
    src = next(toy_export.rglob("*.dcm"))
    ds = pydicom.dcmread(src)
    del ds.RescaleIntercept
    ds.save_as(tmp_path / "norescale.dcm")
    with pytest.raises(DicomReadError, match="missing RescaleIntercept"):
        read_ct_hu(tmp_path / "norescale.dcm")


def test_window_maps_range_onto_unit_interval():
    hu = np.array([-100.0, 0.0, 40.0, 80.0, 500.0])
    np.testing.assert_allclose(window(hu, 40, 80), [0.0, 0.0, 0.5, 1.0, 1.0])


def test_toy_dicom_round_trips_intercept(toy_export):
    """Hospitals use different intercepts; HU must not depend on that."""
    files = sorted(toy_export.glob("hospital_0[12]/*/*/slice_000.dcm"))
    intercepts = {float(pydicom.dcmread(f).RescaleIntercept) for f in files}
    assert intercepts == {-1024.0, -1000.0}
    for f in files:
        hu = read_ct_hu(f)
        assert hu.min() < -900 and hu.max() > 900  # air and bone, whatever the intercept
