"""CT DICOM reading: stored values -> Hounsfield units, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut


class DicomReadError(ValueError):
    """A DICOM file cannot be used; the message says which file and why."""


def read_ct_hu(path: str | Path) -> np.ndarray:
    """Return the slice in Hounsfield units (float32, rows x columns).

    HU = stored value x RescaleSlope + RescaleIntercept (DICOM PS3.3 C.11.1), applied by
    pydicom's modality LUT. Anything that is not a readable single-frame CT image is refused.
    """
    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except FileNotFoundError as exc:
        raise DicomReadError(f"{path}: file not found") from exc
    except (InvalidDicomError, EOFError, OSError, ValueError) as exc:
        raise DicomReadError(f"{path}: not a readable DICOM file ({exc})") from exc
    modality = ds.get("Modality")
    if modality != "CT":
        raise DicomReadError(f"{path}: not CT (Modality={modality!r})")
    for tag in ("RescaleSlope", "RescaleIntercept"):
        if tag not in ds:
            raise DicomReadError(f"{path}: missing {tag}, cannot convert to Hounsfield units")
    try:
        stored = ds.pixel_array
    except Exception as exc:  # pydicom raises several types for truncated/odd pixel data
        raise DicomReadError(f"{path}: pixel data unreadable or truncated ({exc})") from exc
    if stored.ndim != 2:
        raise DicomReadError(f"{path}: expected one 2-D slice, got pixel array of shape {stored.shape}")
    return np.asarray(apply_modality_lut(stored, ds), dtype=np.float32)


def window(hu: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map the HU window [center - width/2, center + width/2] linearly onto [0, 1], clipped."""
    low = center - width / 2.0
    return np.clip((hu - low) / width, 0.0, 1.0).astype(np.float32)
