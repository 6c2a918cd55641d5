"""Grad-CAM of a Swin classifier head (the brain_ct paper's Figure 4), with the `grad-cam` package.

Two adaptations make Swin models work with pytorch-grad-cam: a wrapper that returns only the
class logits of a multi-task model, and a reshape transform from timm's NHWC stage outputs to
the NCHW maps Grad-CAM weighs. Besides the picture, each slice gets the share of CAM energy
inside its hematoma mask (the "energy-based pointing game" of Score-CAM, Wang et al. 2020)
next to the share of the image the mask covers, so "the heat is on the lesion" is a number.

`gradcam_figure` draws the paper's Figure 4: (a) label-positive slices, (b) slices with a
hematoma but not the label, CT with the hematoma outline above its CAM overlay.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from medbench.data.cache import SliceCache
from medbench.data.study_data import split_rows
from medbench.errors import ConfigError, DataError
from medbench.evaluate.predict import load_trained_model
from medbench.fileio import write_csv
from medbench.report.figures import TEST_SET_TITLES, blank, outline, save_figure


class ClassLogits(nn.Module):
    """Multi-task model -> its classification logits only (what Grad-CAM explains)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["cls"]


def nhwc_to_nchw(activations: torch.Tensor) -> torch.Tensor:
    """timm Swin stages emit (B, H, W, C); Grad-CAM averages gradients over dims 2 and 3."""
    return activations.permute(0, 3, 1, 2)


def swin_stage(model: nn.Module, stage: int) -> nn.Module:
    """The blocks of encoder stage `stage` (-1: last) of an MTL-Swin-Unet-like model: their
    output is the stage's (SwinEncoder runs a stage's downsampling and blocks separately, so a
    hook on the stage module itself would never fire)."""
    try:
        return model.encoder.body.layers[stage].blocks
    except (AttributeError, IndexError) as exc:
        raise ConfigError(
            f"Grad-CAM: model {type(model).__name__} has no Swin encoder stage {stage}") from exc


def grad_cam(model: nn.Module, images: torch.Tensor, stage: int, target_class: int = 1) -> np.ndarray:
    """(N, H, W) CAMs in [0, 1] at the input resolution, for the logit of `target_class`."""
    model.eval()
    with GradCAM(model=ClassLogits(model), target_layers=[swin_stage(model, stage)],
                 reshape_transform=nhwc_to_nchw) as cam:
        return cam(input_tensor=images, targets=[ClassifierOutputTarget(target_class)] * len(images))


def energy_in_mask(cams: np.ndarray, masks: np.ndarray) -> pd.DataFrame:
    """Per slice: share of CAM energy inside the mask, and the mask's share of the image
    (what a CAM spread evenly would score)."""
    cams, masks = np.asarray(cams, float), np.asarray(masks).astype(bool)
    total = cams.sum(axis=(1, 2))
    inside = (cams * masks).sum(axis=(1, 2))
    return pd.DataFrame({
        "energy_in_mask": np.divide(inside, total, out=np.zeros_like(total), where=total > 0),
        "mask_area_fraction": masks.mean(axis=(1, 2)),
    })


def gradcam_slices(cache: SliceCache, rows: np.ndarray, label: str, k: int) -> dict[str, np.ndarray]:
    """Cache rows of the two panels: the k largest hematomas with / without the label."""
    index = cache.index.iloc[rows]
    area = np.asarray(cache.masks[rows]).reshape(len(rows), -1).sum(axis=1)
    panels = {}
    for panel, positive in (("a", 1), ("b", 0)):
        keep = (index[label].to_numpy() == positive) & (area > 0)
        order = np.argsort(-area[keep], kind="stable")[:k]
        panels[panel] = rows[keep][order]
    if not len(panels["a"]) or not len(panels["b"]):
        raise DataError(f"Grad-CAM: the test set lacks {label}-positive or -negative slices with a "
                        "hematoma mask")
    return panels


def gradcam_figure(model_path, cache_dir, splits_csv, protocol: str, spec: dict, label: str,
                   out: str | Path, stats_out: str | Path) -> pd.DataFrame:
    cache = SliceCache.load(cache_dir)
    rows = split_rows(cache, splits_csv, protocol)[spec["test_set"]]
    panels = gradcam_slices(cache, rows, label, spec["slices_per_panel"])
    model = load_trained_model(model_path, torch.device("cpu"))
    titles = {"a": f"(a) {label}-positive", "b": f"(b) hematoma, {label}-negative"}
    k = max(len(p) for p in panels.values())
    fig, axes = plt.subplots(4, k, figsize=(2.2 * k, 9.2), squeeze=False, layout="constrained")
    stats = []
    for p, (panel, panel_rows) in enumerate(panels.items()):
        images = torch.from_numpy(np.asarray(cache.images[panel_rows], np.float32) / 255.0)[:, None]
        masks = np.asarray(cache.masks[panel_rows]).astype(bool)
        pixels = images[:, 0].numpy()
        cams = grad_cam(model, images, spec["stage"])
        with torch.no_grad():
            probs = torch.softmax(model(images)["cls"], dim=1)[:, 1].numpy()
        energy = energy_in_mask(cams, masks)
        stats.append(energy.assign(panel=panel, slice_id=cache.index["slice_id"].to_numpy()[panel_rows],
                                   prob=probs))
        for j in range(k):
            top, bottom = axes[2 * p, j], axes[2 * p + 1, j]
            for ax in (top, bottom):
                blank(ax)
            if j >= len(panel_rows):
                top.axis("off")
                bottom.axis("off")
                continue
            top.imshow(pixels[j], cmap="gray", vmin=0, vmax=1)
            outline(top, masks[j])
            bottom.imshow(pixels[j], cmap="gray", vmin=0, vmax=1)
            bottom.imshow(cams[j], cmap="jet", alpha=0.45, vmin=0, vmax=1)
            outline(bottom, masks[j], "white")
            bottom.set_xlabel(f"p={probs[j]:.3f}, in mask {energy['energy_in_mask'][j]:.0%}", fontsize=7)
        axes[2 * p, 0].set_ylabel(titles[panel] + "\nCT + hematoma", fontsize=8)
        axes[2 * p + 1, 0].set_ylabel("Grad-CAM", fontsize=8)
    fig.suptitle(f"Grad-CAM, {spec['model']} (encoder stage {spec['stage']}), "
                 f"{TEST_SET_TITLES.get(spec['test_set'], spec['test_set'])}", fontsize=9)
    table = pd.concat(stats, ignore_index=True)[
        ["panel", "slice_id", "prob", "energy_in_mask", "mask_area_fraction"]]
    save_figure(fig, out)
    write_csv(stats_out, table)
    return table
