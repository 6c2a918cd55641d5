"""Vahadane normalisation (staintools) moves an image's stain colour to the target's."""

from __future__ import annotations

import numpy as np
import pytest

from medbench.data.stain import VahadaneNormalizer
from medbench.errors import DataError


def _tile(stain, seed, size=128):
    rng = np.random.default_rng(seed)
    tile = np.full((size, size, 3), 235, np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(25):
        cy, cx = rng.integers(0, size, 2)
        blob = (yy - cy) ** 2 + (xx - cx) ** 2 < rng.integers(4, 14) ** 2
        tile[blob] = np.clip(np.array(stain) + rng.integers(-20, 20, 3), 0, 255)
    return tile


def _tissue_colour(image):
    tissue = image.mean(axis=2) < 200
    return image[tissue].mean(axis=0)


def test_normalised_tissue_takes_the_targets_colour():
    target, source = _tile((120, 60, 140), 0), _tile((150, 90, 40), 1)  # purple vs brown
    normalised = VahadaneNormalizer(target)(source, "source")
    assert normalised.shape == source.shape and normalised.dtype == np.uint8
    before = np.linalg.norm(_tissue_colour(source) - _tissue_colour(target))
    after = np.linalg.norm(_tissue_colour(normalised) - _tissue_colour(target))
    assert after < 0.5 * before


def test_input_is_not_modified():
    target, source = _tile((120, 60, 140), 0), _tile((150, 90, 40), 1)
    source[0, 0] = 0  # staintools overwrites zero pixels in place
    kept = source.copy()
    VahadaneNormalizer(target)(source)
    np.testing.assert_array_equal(source, kept)


def test_bad_images_are_named():
    normalizer = VahadaneNormalizer(_tile((120, 60, 140), 0))
    with pytest.raises(DataError, match="^10044: stain normalisation needs an RGB uint8"):
        normalizer(np.zeros((8, 8), np.uint8), "10044")
    with pytest.raises(DataError, match="^blank target: Vahadane fit failed"):
        VahadaneNormalizer(np.full((64, 64, 3), 250, np.uint8), target_name="blank target")


def test_saved_target_normalises_exactly_like_the_fitted_one(tmp_path):
    target, image = _tile((120, 60, 140), 0), _tile((150, 90, 40), 1)
    fitted = VahadaneNormalizer(target)
    fitted.save(tmp_path / "target.npz")
    loaded = VahadaneNormalizer.load(tmp_path / "target.npz")
    # spams' online dictionary learning samples pixels at random (no seed in its API): two
    # transforms of one image by one normaliser differ by up to one grey level as well
    np.testing.assert_allclose(loaded(image, "tile"), fitted(image, "tile"), atol=1, rtol=0)
    np.testing.assert_array_equal(loaded.stain_matrix, fitted.stain_matrix)


def test_loading_something_else_names_the_file(tmp_path):
    path = tmp_path / "target.npz"
    np.savez(path, other=np.zeros(2))
    with pytest.raises(DataError, match="target.npz: not a saved stain target"):
        VahadaneNormalizer.load(path)
