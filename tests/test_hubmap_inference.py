"""hubmap inference: thresholds by source and organ, flip TTA, Dice per image, and mapping a
prediction back onto the original pixel grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import f1_score

from medbench.data.hubmap_preprocess import _fit_to_square, _from_square, resize_pair, to_original
from medbench.errors import ConfigError
from medbench.evaluate.hubmap_predict import threshold_for, tta_probabilities
from medbench.evaluate.metrics import dice_per_image

PAPER_THRESHOLDS = {"hpa": {"default": 0.5, "lung": 0.15}, "hubmap": {"default": 0.4, "lung": 0.1}}


@pytest.mark.parametrize("source,organ,expected", [
    ("HPA", "kidney", 0.5), ("HPA", "lung", 0.15), ("HuBMAP", "spleen", 0.4), ("Hubmap", "lung", 0.1)])
def test_paper_thresholds_by_data_source_and_organ(source, organ, expected):
    assert threshold_for(PAPER_THRESHOLDS, source, organ) == expected


def test_unknown_data_source_is_named():
    with pytest.raises(ConfigError, match="no entry for data source 'GTEx'"):
        threshold_for(PAPER_THRESHOLDS, "GTEx", "kidney")


class _Identity(torch.nn.Module):
    """A 'model' whose logits are the first input channel: not flip-invariant."""

    def forward(self, x):
        return {"seg": x[:, :1]}


def test_tta_flips_back_before_averaging():
    x = torch.randn(2, 3, 8, 8)
    for flips in ([], ["hflip"], ["hflip", "vflip"], ["hvflip"]):
        torch.testing.assert_close(tta_probabilities(_Identity(), x, flips), torch.sigmoid(x[:, 0]))


def test_tta_averages_the_flipped_predictions():
    class Left(torch.nn.Module):  # logit +10 on the left half of the *input frame*
        def forward(self, x):
            out = torch.full_like(x[:, :1], -10.0)
            out[..., : x.shape[-1] // 2] = 10.0
            return {"seg": out}

    prob = tta_probabilities(Left(), torch.zeros(1, 3, 4, 4), ["hflip"])
    torch.testing.assert_close(prob, torch.full((1, 4, 4), 0.5), atol=1e-4, rtol=0)


def test_unknown_flip_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown flip"):
        tta_probabilities(_Identity(), torch.zeros(1, 3, 4, 4), ["rot90"])


def test_dice_per_image_matches_sklearn_f1():
    rng = np.random.default_rng(0)
    pred, truth = rng.random((5, 16, 16)) > 0.5, rng.random((5, 16, 16)) > 0.7
    ours = dice_per_image(pred, truth)
    theirs = [f1_score(t.ravel(), p.ravel()) for p, t in zip(pred, truth, strict=True)]
    np.testing.assert_allclose(ours, theirs)


def test_dice_of_two_empty_masks_is_one_and_of_disjoint_masks_zero():
    empty = np.zeros((1, 4, 4), bool)
    full = np.ones((1, 4, 4), bool)
    assert dice_per_image(empty, empty)[0] == 1.0 and dice_per_image(full, empty)[0] == 0.0


@pytest.mark.parametrize("shape", [(5, 7), (12, 9), (12, 12), (3, 20)])
def test_square_crop_or_pad_is_undone(shape):
    array = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) + 1
    square = _fit_to_square(array, 8, 0)
    back = _from_square(square, shape)
    kept = back > 0  # cropped-away pixels come back as 0
    np.testing.assert_array_equal(back[kept], array[kept])
    assert kept.sum() == min(shape[0], 8) * min(shape[1], 8)


def test_prediction_returns_to_the_original_grid():
    row = pd.Series({"img_height": 40, "img_width": 60, "pixel_size": 0.4})
    mask = np.zeros((40, 60), np.uint8)
    mask[10:30, 20:50] = 1
    image = np.full((40, 60, 3), 200, np.uint8)
    for data_cfg, ref in (({"image_size": 16}, None), ({"image_size": 16, "pixel_size_aware": True}, 1.6)):
        scale = 0.4 / ref if ref else None
        _, small = resize_pair(image, mask, 16, scale)
        back = to_original(small.astype(np.float32), row, data_cfg, ref) >= 0.5
        assert back.shape == (40, 60)
        assert dice_per_image(back[None], mask[None])[0] > 0.8, data_cfg
