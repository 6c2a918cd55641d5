"""hubmap inference: thresholds by source and organ, flip TTA, Dice per image, and mapping a
prediction back onto the original pixel grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import f1_score

from medbench.errors import ConfigError
from medbench.metrics import dice_per_image
from medbench.studies.hubmap.predict import threshold_for, tta_probabilities, whole_image_segmenter
from medbench.studies.hubmap.preprocess import crop_or_pad, resize_pair, to_original

PAPER_THRESHOLDS = {"hpa": {"default": 0.5, "lung": 0.15}, "hubmap": {"default": 0.4, "lung": 0.1}}


@pytest.mark.parametrize("source,organ,expected", [
    ("HPA", "kidney", 0.5), ("HPA", "lung", 0.15), ("HuBMAP", "spleen", 0.4), ("Hubmap", "lung", 0.1)])
def test_paper_thresholds_by_data_source_and_organ(source, organ, expected):
    assert threshold_for(PAPER_THRESHOLDS, source, organ) == expected


def test_unknown_data_source_is_named():
    with pytest.raises(ConfigError, match="no entry for data source 'GTEx'"):
        threshold_for(PAPER_THRESHOLDS, "GTEx", "kidney")


def _identity(x):
    """'Logits' = the first input channel: not flip-invariant."""
    return x[:, :1]


class _Identity(torch.nn.Module):
    def forward(self, x):
        return {"seg": _identity(x)}


def test_tta_flips_back_before_averaging():
    x = torch.randn(2, 3, 8, 8)
    for flips in ([], ["hflip"], ["hflip", "vflip"], ["hvflip"]):
        torch.testing.assert_close(tta_probabilities(_identity, x, flips), torch.sigmoid(x[:, 0]))


def test_tta_averages_the_flipped_predictions():
    def left(x):  # logit +10 on the left half of the *input frame*
        out = torch.full_like(x[:, :1], -10.0)
        out[..., : x.shape[-1] // 2] = 10.0
        return out

    prob = tta_probabilities(left, torch.zeros(1, 3, 4, 4), ["hflip"])
    torch.testing.assert_close(prob, torch.full((1, 4, 4), 0.5), atol=1e-4, rtol=0)


def test_unknown_flip_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown flip"):
        tta_probabilities(_identity, torch.zeros(1, 3, 4, 4), ["rot90"])


@pytest.mark.parametrize("shape", [(16, 16), (40, 24), (10, 12)])
def test_sliding_window_segments_the_whole_image_of_any_size(shape):
    """A 16 px window: one tile at 16 x 16, overlapping tiles when larger, padding when smaller."""
    x = torch.randn(1, 3, *shape)
    logits = whole_image_segmenter(_Identity(), window=16, windows_per_batch=4)(x)
    assert logits.shape == (1, 1, *shape)
    torch.testing.assert_close(logits, x[:, :1])


def test_small_images_are_padded_with_white_not_the_mean_colour():
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, x):
            seen.append(x.clone())
            return {"seg": x[:, :1]}

    whole_image_segmenter(Spy(), window=16, windows_per_batch=1)(torch.zeros(1, 3, 8, 8))
    white_red = (1 - 0.485) / 0.229  # 255 after ImageNet normalisation, red channel
    assert seen[0].shape[-2:] == (16, 16)
    torch.testing.assert_close(seen[0][0, 0, 12, 12], torch.tensor(white_red))


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
def test_crop_or_pad_keeps_the_centre(shape):
    array = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) + 1
    square = crop_or_pad(array, 8, 0)
    assert square.shape == (8, 8)
    assert (square > 0).sum() == min(shape[0], 8) * min(shape[1], 8)  # the rest is fill
    h, w = shape
    if h >= 8 and w >= 8:
        top, left = (h - 8) // 2, (w - 8) // 2
        np.testing.assert_array_equal(square, array[top:top + 8, left:left + 8])


@pytest.mark.parametrize("scale", [None, 0.25, 3.0])
def test_prediction_returns_to_the_original_grid(scale):
    """Fixed-size resize, or pixel-size-aware rescaling down (kidney) or up (prostate)."""
    row = pd.Series({"img_height": 40, "img_width": 60})
    mask = np.zeros((40, 60), np.uint8)
    mask[10:30, 20:50] = 1
    image = np.full((40, 60, 3), 200, np.uint8)
    resized_image, small = resize_pair(image, mask, 16, scale)
    expected = (16, 16) if scale is None else (round(40 * scale), round(60 * scale))
    assert small.shape == expected and resized_image.shape[:2] == expected
    back = to_original(small.astype(np.float32), row) >= 0.5
    assert back.shape == (40, 60)
    assert dice_per_image(back[None], mask[None])[0] > 0.8
