"""The paper's augmentation moves image and mask together and is reproducible by seed."""

from __future__ import annotations

import numpy as np
import pytest

from medbench.config import load_study_config
from medbench.data.transforms import build_augmentation
from medbench.errors import ConfigError

from .conftest import REPO

PAPER = {"rot90_flip_p": 0.5, "rotate_p": 0.5, "rotate_limit": 20}


def _pair():
    image = np.zeros((32, 32), np.uint8)
    image[4:12, 6:20] = 200  # an off-centre, asymmetric block
    return image, (image > 0).astype(np.uint8)


def test_image_and_mask_get_the_same_geometry():
    aug = build_augmentation({**PAPER, "rot90_flip_p": 1.0, "rotate_p": 1.0}, seed=3)
    image, mask = _pair()
    for _ in range(10):
        out = aug(image=image, mask=mask)
        moved = out["image"] > 100
        assert not np.array_equal(out["mask"], mask)  # something happened
        overlap = (moved & (out["mask"] > 0)).sum() / max(moved.sum(), 1)
        assert overlap > 0.9


def test_same_seed_same_sequence():
    image, mask = _pair()
    a, b = build_augmentation(PAPER, seed=7), build_augmentation(PAPER, seed=7)
    outs_a = [a(image=image, mask=mask)["image"] for _ in range(8)]
    outs_b = [b(image=image, mask=mask)["image"] for _ in range(8)]
    assert all(np.array_equal(x, y) for x, y in zip(outs_a, outs_b, strict=True))
    assert any(not np.array_equal(x, image) for x in outs_a)  # p=0.5 each: some are changed


def test_no_augmentation_configured():
    assert build_augmentation(None, 0) is None
    assert build_augmentation({"rot90_flip_p": 0, "rotate_p": 0}, 0) is None


def test_albumentations_list_with_nested_oneof():
    spec = [{"name": "HorizontalFlip", "p": 1.0},
            {"name": "OneOf", "p": 1.0, "transforms": [{"name": "VerticalFlip", "p": 1.0}]}]
    aug = build_augmentation(spec, seed=0)
    image = np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)
    mask = (np.arange(256).reshape(16, 16) % 2).astype(np.uint8)
    out = aug(image=image, mask=mask)
    np.testing.assert_array_equal(out["image"], image[::-1, ::-1])  # both flips applied
    np.testing.assert_array_equal(out["mask"], mask[::-1, ::-1])


def test_hubmap_augmentations_of_the_study_yaml_build_and_keep_the_size():
    cfg = load_study_config(REPO / "config" / "studies" / "hubmap.yaml")
    aug = build_augmentation(cfg["augmentation"], seed=0)
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    for _ in range(10):
        out = aug(image=image, mask=np.zeros((64, 64), np.uint8))
        assert out["image"].shape == (64, 64, 3) and out["mask"].shape == (64, 64)


@pytest.mark.parametrize("spec,match", [
    ([{"name": "HorizontalFlp", "p": 0.5}], "unknown albumentations transform 'HorizontalFlp'"),
    ([{"name": "GaussNoise", "std_rnge": [0.1, 0.2]}], "GaussNoise"),
])
def test_bad_augmentation_specs_are_config_errors(spec, match):
    with pytest.raises(ConfigError, match=match):
        build_augmentation(spec, seed=0)
