"""Data integrity across the studies: no silent leak between training and test (the same image
under two names, a patient under two hospitals), no silent loss or corruption (masks, bit depths,
files the index does not list), messages instead of tracebacks, byte-reproducible toy exports and
outputs readable as the user's umask says. Each test damages a copy of a toy export and checks
the outcome: the file, id or patient named, nothing written -- or the damage handled."""

from __future__ import annotations

import os
import shutil
import stat
import time

import cv2
import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image

from medbench.data.io.masks import MaskReadError, read_mask
from medbench.errors import DataError
from medbench.fileio import atomic_dir, write_text
from medbench.studies import get_study
from medbench.studies.brain_ct.ingest import ingest as ingest_brain_ct
from medbench.studies.brain_ct.toy import digest
from medbench.studies.bus.ingest import ingest as ingest_bus
from medbench.studies.bus.readers import read_datasets
from medbench.studies.bus.toy import ToyBusConfig
from medbench.studies.bus.toy import generate as generate_bus
from medbench.studies.hubmap.kaggle import read_train_table

from .conftest import WINDOW


# ---------------------------------------------------------------------------------- brain_ct
def _manifest(export) -> pd.DataFrame:
    return pd.read_csv(export / "manifest.csv", dtype=str, keep_default_na=False)


def _refused(export, tmp_path, *expected):
    with pytest.raises(DataError) as err:
        ingest_brain_ct(export / "manifest.csv", tmp_path / "slices", 32, WINDOW)
    message = str(err.value)
    for text in expected:
        assert text in message, message
    assert not (tmp_path / "slices").exists()
    return message


def test_a_dicom_listed_twice_is_refused_naming_both_rows(export, tmp_path):
    manifest = _manifest(export)
    pd.concat([manifest, manifest.iloc[[3]]]).to_csv(export / "manifest.csv", index=False)
    _refused(export, tmp_path, f"rows 5 and {len(manifest) + 2}: the same DICOM file",
             manifest.loc[3, "dicom"])


def test_a_dicom_copied_under_another_name_is_refused(export, tmp_path):
    manifest = _manifest(export)
    copy = export / manifest.loc[3, "dicom"].replace(".dcm", "_copy.dcm")
    shutil.copyfile(export / manifest.loc[3, "dicom"], copy)
    extra = manifest.iloc[[3]].assign(dicom=str(copy.relative_to(export)))
    pd.concat([manifest, extra]).to_csv(export / "manifest.csv", index=False)
    _refused(export, tmp_path, f"rows 5 and {len(manifest) + 2}: the same pixel data")


def test_a_patient_under_two_hospitals_is_refused(export, tmp_path):
    manifest = _manifest(export)
    patient = manifest.loc[0, "patient_id"]
    other = manifest.index[manifest["hospital"] == "5"][0]
    manifest.loc[other, "patient_id"] = patient
    manifest.to_csv(export / "manifest.csv", index=False)
    _refused(export, tmp_path, f"patient {patient} is listed under hospitals 1, 5")


def test_an_empty_manifest_is_a_message_not_a_traceback(export, tmp_path):
    (export / "manifest.csv").write_bytes(b"")
    _refused(export, tmp_path, "manifest is empty")


def _png(path, array, mode=None):
    Image.fromarray(array, mode).save(path)
    return path


def test_masks_are_binary_and_a_lesion_in_the_alpha_channel_is_read(tmp_path):
    lesion = np.zeros((8, 8), bool)
    lesion[2:5, 3:6] = True
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 3] = lesion * 255  # a black image whose lesion is only in alpha
    np.testing.assert_array_equal(read_mask(_png(tmp_path / "alpha.png", rgba, "RGBA")), lesion)
    grey = (lesion * 255).astype(np.uint8)
    grey[0, :] = 128  # grey levels: an anti-aliased or lossy mask
    with pytest.raises(MaskReadError, match=r"grey.png: not a binary mask: 3 grey levels \(0, 128, 255\)"):
        read_mask(_png(tmp_path / "grey.png", grey))
    colour = np.zeros((8, 8, 3), np.uint8)
    colour[lesion] = (255, 0, 0)
    with pytest.raises(MaskReadError, match="red.png: colour channels differ"):
        read_mask(_png(tmp_path / "red.png", colour))
    clash = np.zeros((8, 8, 4), np.uint8)
    clash[lesion] = (255, 255, 255, 255)
    clash[0, 0, 3] = 255  # opaque where the colour is background
    with pytest.raises(MaskReadError, match="clash.png: the colour and alpha channels draw different"):
        read_mask(_png(tmp_path / "clash.png", clash, "RGBA"))


def test_a_grey_level_brain_ct_mask_stops_ingestion_naming_it(export, tmp_path):
    manifest = _manifest(export)
    row = manifest.index[manifest["mask"] != ""][0]
    path = export / manifest.loc[row, "mask"]
    mask = np.asarray(Image.open(path)).copy()
    mask[mask == 0] = 30
    _png(path, mask)
    _refused(export, tmp_path, f"row {row + 2}", f"{manifest.loc[row, 'mask']}: not a binary mask")


# ---------------------------------------------------------------------------------- bus
SMALL_BUS = ToyBusConfig(busi=(5, 4, 1), busis=(3, 3), dataset_b=(3, 2), hmss_cases=2,
                         lesion_size=(0.18, 0.26), speckle=0.3)


@pytest.fixture(scope="module")
def bus_toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("bus") / "raw"
    generate_bus(root, SMALL_BUS)
    return root


@pytest.fixture
def bus_raw(bus_toy, tmp_path):
    root = tmp_path / "raw"
    shutil.copytree(bus_toy, root)
    return root


def _bus_paths(root):
    return {"busi": root / "Dataset_BUSI_with_GT", "busis": root / "BUSIS", "dataset_b": root / "DatasetB",
            "hmss": root / "HMSS", "hmss_masks": root / "HMSS" / "masks_private"}


def _ingest_bus(root, tmp_path):
    return ingest_bus(read_datasets(_bus_paths(root)), tmp_path / "data" / "images", 64)


def _bus_refused(root, tmp_path, *expected):
    with pytest.raises(DataError) as err:
        _ingest_bus(root, tmp_path)
    message = str(err.value)
    for text in expected:
        assert text in message, message
    assert not (tmp_path / "data").exists()


def test_shifted_and_cropped_copies_are_one_group_and_reported(bus_raw, tmp_path):
    benign = bus_raw / "Dataset_BUSI_with_GT" / "benign"
    image = cv2.imread(str(benign / "benign (2).png"))
    mask = cv2.imread(str(benign / "benign (2)_mask.png"), cv2.IMREAD_GRAYSCALE)
    copies = {"benign (90)": (np.roll(image, 2, axis=1), np.roll(mask, 2, axis=1)),  # 2-pixel shift
              "benign (91)": (image[4:, 4:], mask[4:, 4:])}  # a 4-pixel crop
    for name, (picture, lesion) in copies.items():
        cv2.imwrite(str(benign / f"{name}.png"), picture)
        cv2.imwrite(str(benign / f"{name}_mask.png"), lesion)
    cache = _ingest_bus(bus_raw, tmp_path)
    index = cache.index.set_index("image_id")
    ids = [f"busi:benign/{name}" for name in ("benign (2)", *copies)]
    assert index.loc[ids, "dup_group"].nunique() == 1 and index.loc[ids, "group"].nunique() == 1
    others = index.drop(index=ids)
    assert not others["dup_group"].isin(index.loc[ids, "dup_group"]).any()
    report = pd.read_csv(tmp_path / "data" / "duplicates.csv")
    assert set(ids) <= set(report["image_id"]) and (report["similarity"] >= 0.85).all()


def test_an_empty_mask_of_a_malignant_image_is_refused(bus_raw, tmp_path):
    path = bus_raw / "Dataset_BUSI_with_GT" / "malignant" / "malignant (1)_mask.png"
    cv2.imwrite(str(path), np.zeros(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).shape, np.uint8))
    _bus_refused(bus_raw, tmp_path, "malignant (1)_mask.png: empty mask, but its image malignant (1).png "
                 "is a malignant lesion")


def test_a_16_bit_image_is_scaled_to_8_bits(bus_raw, tmp_path):
    reference = _ingest_bus(bus_raw, tmp_path / "eight")
    path = bus_raw / "Dataset_BUSI_with_GT" / "benign" / "benign (2).png"
    eight = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(path), eight.astype(np.uint16) * 257)  # the same picture, 16 bits deep
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    cache = _ingest_bus(bus_raw, tmp_path / "sixteen")
    assert cache.images.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(cache.images), np.asarray(reference.images))


def test_appledouble_files_beside_busi_images_are_skipped(bus_raw, tmp_path):
    folder = bus_raw / "Dataset_BUSI_with_GT" / "benign"
    (folder / "._benign (1).png").write_bytes(b"\x00\x05\x16\x07Mac OS X")
    (folder / "._benign (1)_mask.png").write_bytes(b"\x00\x05\x16\x07Mac OS X")
    cache = _ingest_bus(bus_raw, tmp_path)
    assert not cache.index["image_path"].str.contains("/._").any()


def test_a_dataset_b_image_missing_from_the_sheet_is_refused(bus_raw, tmp_path):
    extra = bus_raw / "DatasetB" / "imgs" / "000999.png"
    shutil.copyfile(next((bus_raw / "DatasetB" / "imgs").glob("*.png")), extra)
    _bus_refused(bus_raw, tmp_path, "000999.png: not listed in", "DatasetB.xlsx (no label)")


# ---------------------------------------------------------------------------------- hubmap
@pytest.fixture
def hubmap_export(tmp_path):
    get_study("hubmap").generate_toy(tmp_path / "toy", TINY_TOYS["hubmap"])
    return tmp_path / "toy" / "hpa"


def _hubmap_refused(export, *expected):
    with pytest.raises(DataError) as err:
        read_train_table(export / "train.csv", export / "train_images")
    message = str(err.value)
    for text in expected:
        assert text in message, message


def test_empty_and_header_only_train_csv_are_messages(hubmap_export):
    header = (hubmap_export / "train.csv").read_text().splitlines()[0]
    (hubmap_export / "train.csv").write_text("")
    _hubmap_refused(hubmap_export, "train.csv: empty file")
    (hubmap_export / "train.csv").write_text(header + "\n")
    _hubmap_refused(hubmap_export, "train.csv: no rows (a header only)")


def test_a_truncated_tiff_is_found_when_the_export_is_validated(hubmap_export):
    table = pd.read_csv(hubmap_export / "train.csv", dtype={"id": str})
    path = hubmap_export / "train_images" / f"{table.loc[1, 'id']}.tiff"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with tifffile.TiffFile(path) as tif:  # the header still reads: only the pixels are missing
        assert tif.pages[0].shape[:2] == (table.loc[1, "img_height"], table.loc[1, "img_width"])
    _hubmap_refused(hubmap_export, f"id {table.loc[1, 'id']}:", "unreadable or truncated TIFF")


def test_one_picture_under_two_ids_is_refused(hubmap_export):
    table = pd.read_csv(hubmap_export / "train.csv", dtype={"id": str})
    copy = table.iloc[[0]].assign(id="999999")
    shutil.copyfile(hubmap_export / "train_images" / f"{table.loc[0, 'id']}.tiff",
                    hubmap_export / "train_images" / "999999.tiff")
    pd.concat([table, copy]).to_csv(hubmap_export / "train.csv", index=False)
    _hubmap_refused(hubmap_export, f"id 999999: the same pixels as id {table.loc[0, 'id']}")


# ---------------------------------------------------------------------------------- all studies
TINY_TOYS = {
    "brain_ct": {"patients_per_hospital": [3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]},
    "hubmap": {"size": 64, "images_scale": 0.05, "hubmap_per_organ": 1},
    "bus": {"busi": [5, 3, 1], "busis": [1, 1], "dataset_b": [2, 1], "hmss_cases": 2},
    "swinfuse": {"synthrad_per_centre": 1, "brats_cases": 2, "brats_folds": 2, "msd01_cases": 2,
                 "msd01_test_cases": 1, "msd10_cases": 1},
}


@pytest.mark.parametrize("study", sorted(TINY_TOYS))
def test_every_toy_export_is_byte_identical_between_runs(study, tmp_path):
    get_study(study).generate_toy(tmp_path / "a", TINY_TOYS[study])
    time.sleep(2.1)  # zip and gzip stamp times with a 2-second resolution
    get_study(study).generate_toy(tmp_path / "b", TINY_TOYS[study])
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


def test_outputs_get_the_permissions_of_the_users_umask(tmp_path):
    reference = tmp_path / "plain.txt"
    reference.write_text("x")
    write_text(tmp_path / "atomic.txt", "x")
    with atomic_dir(tmp_path / "folder") as folder:
        (folder / "inside.txt").write_text("x")
    (tmp_path / "plain_dir").mkdir()
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(tmp_path / "atomic.txt") == mode(reference)
    assert mode(tmp_path / "folder") == mode(tmp_path / "plain_dir")
    assert mode(tmp_path / "atomic.txt") & stat.S_IRGRP or not mode(reference) & stat.S_IRGRP
