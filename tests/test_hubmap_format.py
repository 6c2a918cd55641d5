"""Kaggle HuBMAP + HPA train.csv + TIFF reader: a valid export reads, every problem is named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile

from medbench.data.io.rle import rle_encode
from medbench.errors import DataError
from medbench.studies.hubmap.kaggle import COLUMNS, load_image, load_mask, read_train_table


def _export(root, rows):
    """Kaggle layout under root; rows: (id, organ, height, width, mask or rle str)."""
    (root / "train_images").mkdir(parents=True)
    records = []
    for k, (image_id, organ, h, w, mask) in enumerate(rows):
        tifffile.imwrite(root / "train_images" / f"{image_id}.tiff",
                         np.full((h, w, 3), 100 + 10 * k, np.uint8), photometric="rgb")
        rle = mask if isinstance(mask, str) else rle_encode(mask)
        records.append({"id": image_id, "organ": organ, "data_source": "HPA", "img_height": h,
                        "img_width": w, "pixel_size": 0.4, "tissue_thickness": 4, "rle": rle,
                        "age": 60, "sex": "Female"})
    pd.DataFrame(records, columns=list(COLUMNS)).to_csv(root / "train.csv", index=False)
    return root / "train.csv", root / "train_images"


def _mask(h, w):
    mask = np.zeros((h, w), np.uint8)
    mask[2:5, 1:4] = 1
    return mask


def test_valid_export_reads_and_masks_decode(tmp_path):
    csv, images = _export(tmp_path, [("10044", "kidney", 8, 6, _mask(8, 6)),
                                     ("1123", "spleen", 6, 8, _mask(6, 8))])
    table = read_train_table(csv, images)
    assert list(table["id"]) == ["10044", "1123"]
    np.testing.assert_array_equal(load_mask(table.iloc[0]), _mask(8, 6))
    assert load_image(images, "1123").shape == (6, 8, 3)


def test_every_problem_is_reported_with_its_id(tmp_path):
    csv, images = _export(tmp_path, [
        ("1", "kidney", 8, 6, "1 3 2 2"),            # overlapping runs
        ("2", "liver", 8, 6, _mask(8, 6)),           # unknown organ
        ("3", "lung", 8, 6, "1 2 3"),                # odd token count
        ("4", "prostate", 8, 6, "40 20"),            # run past the image end
        ("5", "spleen", 8, 6, _mask(8, 6)),          # TIFF deleted below
        ("6", "kidney", 8, 6, _mask(8, 6)),          # size in csv differs from the TIFF
    ])
    (images / "5.tiff").unlink()
    table = pd.read_csv(csv)
    table.loc[5, "img_height"] = 9
    table.to_csv(csv, index=False)
    with pytest.raises(DataError) as err:
        read_train_table(csv, images)
    message = str(err.value)
    assert "6 problem(s)" in message
    for expected in ("id 1: malformed RLE, run 2", "id 2: unknown organ 'liver'",
                     "id 3: malformed RLE, odd number", "id 4: malformed RLE, a run ends at pixel 59",
                     "id 5: image", "id 6: ", "is 8x6, train.csv says 9x6"):
        assert expected in message, expected


def test_missing_columns_and_csv(tmp_path):
    with pytest.raises(DataError, match="train.csv not found"):
        read_train_table(tmp_path / "train.csv", tmp_path)
    (tmp_path / "train.csv").write_text("id,organ\n1,kidney\n")
    with pytest.raises(DataError, match="missing column"):
        read_train_table(tmp_path / "train.csv", tmp_path)
