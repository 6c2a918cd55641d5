"""brain_ct's own figures, drawn from the slice cache and saved runs.

- `gradcam_figure`: the paper's Figure 4, Grad-CAM of the configured model's class logit on (a)
  label-positive slices and (b) slices with a hematoma but not the label, CT with the hematoma
  outline above its CAM overlay; the share of CAM energy inside each hematoma is written beside
  the figure (`<figure>.csv`).
- `overlay_figure`: ground-truth vs predicted masks of the segmenting models.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from medbench.config import table_config
from medbench.data.cache import ImageCache
from medbench.errors import DataError
from medbench.fileio import write_csv
from medbench.metrics import binary_iou
from medbench.models.loading import load_trained_model
from medbench.report.figures import blank, outline, save_figure, wrapped
from medbench.report.gradcam import energy_in_mask, grad_cam
from medbench.report.runs import Run
from medbench.report.tables import model_labels
from medbench.studies.brain_ct.dataset import protocol_rows
from medbench.studies.brain_ct.layout import slices_dir

log = logging.getLogger(__name__)


def gradcam_slices(cache: ImageCache, rows: np.ndarray, label: str, k: int) -> dict[str, np.ndarray]:
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


def gradcam_figure(cfg: dict, spec: dict, runs: dict[str, list[Run]], data_dir, protocol: str,
                   out: str | Path) -> pd.DataFrame:
    if spec["model"] not in runs:
        raise DataError(f"figures.gradcam: model {spec['model']} was not run (give its metrics.json)")
    label = cfg["split"]["label"]
    cache, rows = protocol_rows(data_dir, protocol)
    panels = gradcam_slices(cache, rows[spec["test_set"]], label, spec["slices_per_panel"])
    model = load_trained_model(runs[spec["model"]][0].directory / "model.pt", torch.device("cpu"))
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
                 f"{cfg['test_sets'][spec['test_set']]}", fontsize=9)
    table = pd.concat(stats, ignore_index=True)[
        ["panel", "slice_id", "prob", "energy_in_mask", "mask_area_fraction"]]
    save_figure(fig, out)
    write_csv(Path(out).with_suffix(".csv"), table)
    log.info("share of Grad-CAM energy inside the hematoma (mean per panel):\n%s",
             table.groupby("panel")[["energy_in_mask", "mask_area_fraction"]].mean())
    return table


def overlay_figure(cfg: dict, spec: dict, runs: dict[str, list[Run]], data_dir, protocol: str, out) -> None:
    models = [m for m in spec["models"] if m in runs]
    if not models:
        raise DataError(f"overlay figure: none of {spec['models']} was run")
    method_of = model_labels(table_config(cfg))
    cache = ImageCache.load(slices_dir(data_dir))
    preds = {m: runs[m][0].segmentation_arrays(spec["test_set"], "seg_slice_id", "seg_pred") for m in models}
    row_of = {sid: i for i, sid in enumerate(cache.index["slice_id"])}
    shared = sorted(set.intersection(*(set(p) for p in preds.values())))
    area = {sid: int(cache.masks[row_of[sid]].sum()) for sid in shared}
    lesions = [sid for sid in sorted(shared, key=lambda s: -area[s]) if area[sid]]
    picked = lesions[:: max(1, len(lesions) // spec["slices"])][: spec["slices"]]
    fig, axes = plt.subplots(len(picked), 1 + len(models), figsize=(2.2 * (1 + len(models)),
                                                                     2.3 * len(picked)), squeeze=False)
    for i, sid in enumerate(picked):
        image, mask = cache.images[row_of[sid]], cache.masks[row_of[sid]].astype(bool)
        for j, model in enumerate([None, *models]):
            ax = axes[i, j]
            blank(ax)
            ax.imshow(image, cmap="gray")
            if model is None:
                ax.imshow(np.ma.masked_where(~mask, mask), cmap="autumn_r", alpha=0.5)
                ax.set_title("ground truth" if i == 0 else "", fontsize=8)
                ax.set_ylabel(sid, fontsize=7)
                continue
            pred = preds[model][sid].astype(bool)
            ax.imshow(np.ma.masked_where(~pred, pred), cmap="cool", alpha=0.5)
            outline(ax, mask)
            ax.set_xlabel(f"IoU {binary_iou(pred, mask):.2f}", fontsize=7)
            if i == 0:
                ax.set_title(wrapped(method_of[model]), fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
