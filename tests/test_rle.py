"""Kaggle HuBMAP RLE: round trips, the convention on a hand-worked example, malformed input."""

from __future__ import annotations

import numpy as np
import pytest

from medbench.data.io.rle import rle_decode, rle_encode
from medbench.errors import DataError

# H=3, W=2; column-major 1-indexed numbering:   1 4
#                                               2 5
#                                               3 6
HAND = np.array([[0, 1],
                 [1, 1],
                 [1, 0]], dtype=np.uint8)  # pixels 2, 3, 4, 5 -> one run "2 4"


def test_hand_worked_example_of_the_convention():
    assert rle_encode(HAND) == "2 4"
    np.testing.assert_array_equal(rle_decode("2 4", 3, 2), HAND)
    # pixels 1-2 run down the first column, not along the first row
    np.testing.assert_array_equal(rle_decode("1 2", 3, 2), [[1, 0], [1, 0], [0, 0]])


def test_first_and_last_pixel_runs():
    mask = np.zeros((4, 5), np.uint8)
    mask[0, 0] = mask[3, 4] = 1
    assert rle_encode(mask) == "1 1 20 1"
    np.testing.assert_array_equal(rle_decode("1 1 20 1", 4, 5), mask)


@pytest.mark.parametrize("seed", range(5))
def test_random_masks_round_trip(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 40, size=2)
    mask = (rng.random((h, w)) < rng.random()).astype(np.uint8)
    np.testing.assert_array_equal(rle_decode(rle_encode(mask), h, w), mask)


def test_empty_mask():
    assert rle_encode(np.zeros((3, 3))) == ""
    assert rle_decode("", 3, 3).sum() == 0
    assert rle_decode(float("nan"), 3, 3).sum() == 0  # pandas reads an empty cell as NaN


@pytest.mark.parametrize("rle, problem", [
    ("1 2 5", "odd number of tokens"),
    ("1 x", "non-integer token"),
    ("0 3", "start 0 < 1"),
    ("2 0", "run length 0 < 1"),
    ("5 3", "beyond the 3x2 image"),
    ("1 3 2 2", "run 2 (start 2) overlaps"),
    ("4 1 1 1", "run 2 (start 1) overlaps or precedes"),
])
def test_malformed_rle_names_the_image(rle, problem):
    with pytest.raises(DataError, match="^10044: malformed RLE") as err:
        rle_decode(rle, 3, 2, name="10044")
    assert problem in str(err.value)
