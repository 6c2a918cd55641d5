"""Figures from saved runs, and Grad-CAM of a Swin classifier head."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from medbench.checkpoint import save_checkpoint
from medbench.config import load_study_config
from medbench.data.cache import ImageCache
from medbench.errors import ConfigError, DataError
from medbench.models import create_model
from medbench.report import figures
from medbench.report.gradcam import energy_in_mask, grad_cam
from medbench.report.runs import Run, load_runs
from medbench.studies.brain_ct.figures import gradcam_figure, overlay_figure
from medbench.studies.brain_ct.splits import make_splits

from .conftest import STUDY_YAML
from .report_fixtures import write_run

PNG = b"\x89PNG\r\n\x1a\n"
SMALL_SWIN = {"img_size": 32, "embed_dim": 24, "window_size": 2, "num_heads": [1, 2, 3, 4]}


@pytest.fixture(scope="module")
def cfg():
    return load_study_config(STUDY_YAML)


@pytest.fixture(scope="module")
def method_of(cfg):
    return {row["model"]: row["method"] for row in cfg["table"]["rows"]}


def _manual_grad_cam(model, images, stage):
    """Grad-CAM by hand: ReLU(sum_c mean(dy/dA_c) A_c) on the stage's (B, H, W, C) output."""
    captured = {}
    handle = model.encoder.body.layers[stage].blocks.register_forward_hook(
        lambda module, inputs, output: captured.setdefault("a", output))
    logits = model(images)["cls"]
    handle.remove()
    grads = torch.autograd.grad(logits[:, 1].sum(), captured["a"])[0]
    cam = torch.relu((grads.mean(dim=(1, 2), keepdim=True) * captured["a"]).sum(dim=-1))
    return cam.detach()  # (B, H, W)


def test_gradcam_matches_a_hand_computation_on_the_right_stage():
    torch.manual_seed(0)
    model = create_model("mtl_swin_unet", tasks=["cls", "seg"], **SMALL_SWIN).eval()
    images = torch.rand(3, 1, 32, 32)
    images[:, :, 2:12, 20:30] += 1.0  # asymmetric content: a transposed map would not match
    cams = grad_cam(model, images, stage=1)
    assert cams.shape == (3, 32, 32) and cams.min() >= 0 and cams.max() <= 1 + 1e-6
    manual = torch.nn.functional.interpolate(_manual_grad_cam(model, images, 1)[:, None], size=32,
                                             mode="bilinear", align_corners=False)[:, 0].numpy()
    for ours, theirs in zip(cams, manual, strict=True):
        assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] > 0.95
        assert np.corrcoef(ours.ravel(), theirs.T.ravel())[0, 1] < 0.9


def test_gradcam_stage_must_exist():
    model = create_model("mtl_swin_unet", tasks=["cls"], **SMALL_SWIN)
    with pytest.raises(ConfigError, match="stage 7"):
        grad_cam(model, torch.rand(1, 1, 32, 32), stage=7)


def test_energy_in_mask():
    cams = np.zeros((2, 4, 4))
    cams[0, :2, :2] = 1.0
    cams[1] = 1.0
    masks = np.zeros((2, 4, 4), bool)
    masks[:, :2, :2] = True
    stats = energy_in_mask(cams, masks)
    assert list(stats["energy_in_mask"]) == [1.0, 0.25]
    assert list(stats["mask_area_fraction"]) == [0.25, 0.25]


def test_gradcam_figure_from_a_saved_model(cfg, toy_cache, tmp_path):
    data = tmp_path / "data"  # the study's prepared data: the slice cache and the splits
    data.mkdir()
    (data / "slices").symlink_to(toy_cache)
    cache = ImageCache.load(toy_cache)
    make_splits(cache.index, cfg["split"], 0).to_csv(data / "splits.csv", index=False)
    model = create_model("mtl_swin_unet", tasks=["cls", "seg", "rec"], **SMALL_SWIN)
    run = tmp_path / "seed0" / "mtl"
    save_checkpoint(run / "model.pt", {"arch": "mtl_swin_unet", "state_dict": model.state_dict(),
                                       "model_args": {"tasks": ["cls", "seg", "rec"], **SMALL_SWIN}})
    spec = {**cfg["figures"]["gradcam"], "model": "mtl", "stage": 1, "slices_per_panel": 2}
    stats = gradcam_figure(cfg, spec, {"mtl": [Run("mtl", 0, run, {})]}, data, "paper", tmp_path / "cam.png")
    assert (tmp_path / "cam.png").read_bytes()[:8] == PNG
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "cam.csv"), stats, check_dtype=False)  # beside it
    assert list(stats["panel"]) == ["a", "a", "b", "b"]
    labels = cache.index.set_index("slice_id").loc[stats["slice_id"], "hypodensity"]
    assert list(labels) == [1, 1, 0, 0]
    assert (stats["mask_area_fraction"] > 0).all()  # every chosen slice shows a hematoma
    with pytest.raises(DataError, match="model swin_unet was not run"):
        gradcam_figure(cfg, {**spec, "model": "swin_unet"}, {}, data, "paper", tmp_path / "x.png")


def test_roc_overlay_and_curve_figures(tmp_path, cfg, method_of, toy_cache):
    runs = load_runs([write_run(tmp_path, "swin_transformer", 0, 1.0),
                      write_run(tmp_path, "swin_transformer", 1, 1.2),
                      write_run(tmp_path, "swin_unet", 0, None, seg=True, size=32)])
    figures.roc_figure(runs, method_of, ["test_h1_4", "test_h5_11"], cfg["test_sets"], tmp_path / "roc.png")
    figures.curves_figure(runs, method_of, tmp_path / "curves.svg")
    assert (tmp_path / "roc.png").read_bytes()[:8] == PNG
    assert b"<svg" in (tmp_path / "curves.svg").read_bytes()[:500]
    # overlays need the slices in the cache: name the fake predictions after cached slices
    cache = ImageCache.load(toy_cache)
    ids = cache.index["slice_id"][cache.index["has_mask"] == 1].to_numpy(str)[:5]
    masks = np.asarray(cache.masks[cache.index["slice_id"].isin(ids).to_numpy()])
    np.savez(runs["swin_unet"][0].directory / "predictions" / "test_h1_4.npz",
             seg_slice_id=ids, seg_pred=masks, mask=masks)
    overlay_figure(cfg, {"models": ["unet", "swin_unet"], "test_set": "test_h1_4", "slices": 2}, runs,
                   toy_cache.parent, "paper", tmp_path / "overlays.png")
    assert (tmp_path / "overlays.png").read_bytes()[:8] == PNG
    with pytest.raises(DataError, match="no classifier"):
        figures.roc_figure({"swin_unet": runs["swin_unet"]}, method_of, ["test_h1_4"], {}, tmp_path / "x.png")


def test_segmentation_arrays_by_sample_and_refusals_naming_the_file(tmp_path):
    run = Run("unet", 0, tmp_path / "unet", {})
    with pytest.raises(DataError, match=r"unet/predictions/test\.npz: predictions missing"):
        run.segmentation_arrays("test", "seg_slice_id", "seg_pred")
    (tmp_path / "unet" / "predictions").mkdir(parents=True)
    masks = np.arange(8, dtype=np.uint8).reshape(2, 2, 2)
    np.savez(tmp_path / "unet" / "predictions" / "test.npz",
             seg_slice_id=np.array(["a", "b"]), seg_pred=masks)
    arrays = run.segmentation_arrays("test", "seg_slice_id", "seg_pred")
    assert list(arrays) == ["a", "b"] and np.array_equal(arrays["b"], masks[1])
    with pytest.raises(DataError, match="model 'unet' has no segmentation output"):
        run.segmentation_arrays("test", "seg_sample_id", "seg_prob")
