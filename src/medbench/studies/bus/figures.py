"""bus's own figures, drawn from the image cache and saved predictions (nothing is re-run).

- `overlay_figure`: ground truth and each multitask model's predicted mask on the same test
  images (the largest lesions, spread over the folds), with each image's DSC.
- `roc_folds_figure`: ROC of every classifier, one panel per model, one curve per fold (the AUC
  of the probabilities; the tables' AUC is the authors' AUC of the 0/1 predictions).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from medbench.data.cache import ImageCache
from medbench.errors import DataError
from medbench.report.figures import blank, outline, save_figure, wrapped
from medbench.report.runs import Run
from medbench.report.tables import study_model_labels
from medbench.studies.bus.layout import cache_dir


def overlay_figure(cfg: dict, spec: dict, runs: dict[str, list[Run]], data_dir, protocol: str, out) -> None:
    models = [m for m in spec["models"] if m in runs]
    if not models:
        raise DataError(f"figures.overlays: none of {spec['models']} was run")
    cache, labels = ImageCache.load(cache_dir(data_dir)), study_model_labels(cfg)
    probs = {m: runs[m][0].segmentation_arrays(spec["test_set"], "seg_sample_id", "seg_prob") for m in models}
    row_of = {sid: i for i, sid in enumerate(cache.index["sample_id"])}
    shared = sorted(set.intersection(*(set(p) for p in probs.values())))
    area = {sid: int(cache.masks[row_of[sid]].sum()) for sid in shared}
    lesions = [sid for sid in sorted(shared, key=lambda s: -area[s]) if area[sid]]
    picked = lesions[:: max(1, len(lesions) // spec["images"])][: spec["images"]]
    if not picked:
        raise DataError("figures.overlays: no test image with a lesion mask")
    fig, axes = plt.subplots(
        len(picked),
        1 + len(models),
        squeeze=False,
        figsize=(2.1 * (1 + len(models)), 2.2 * len(picked)),
        layout="constrained",
    )
    for i, sid in enumerate(picked):
        image, truth = cache.images[row_of[sid]], cache.masks[row_of[sid]].astype(bool)
        malignant = int(cache.index.loc[row_of[sid], "label"])
        for j, model in enumerate([None, *models]):
            ax = axes[i, j]
            blank(ax)
            ax.imshow(image)
            outline(ax, truth)
            if model is None:
                ax.set_ylabel(f"{sid} ({'malignant' if malignant else 'benign'})", fontsize=7)
                ax.set_title("ground truth" if i == 0 else "", fontsize=8)
                continue
            pred = probs[model][sid] >= 128
            ax.imshow(np.ma.masked_where(~pred, pred), cmap="cool", alpha=0.45)
            dsc = (2 * (pred & truth).sum() + 1e-7) / (pred.sum() + truth.sum() + 1e-7)
            ax.set_xlabel(f"DSC {dsc:.2f}", fontsize=7)
            if i == 0:
                ax.set_title(wrapped(labels.get(model, model)), fontsize=8)
    save_figure(fig, out)


def roc_folds_figure(cfg: dict, spec: dict, runs: dict[str, list[Run]], data_dir, protocol: str, out) -> None:
    models = [m for m in spec.get("models", runs) if m in runs]
    if not models:
        raise DataError("figures.roc_folds: no classifier among the runs")
    labels, test_set = study_model_labels(cfg), spec["test_set"]
    cols = min(4, len(models))
    fig, axes = plt.subplots(
        math.ceil(len(models) / cols),
        cols,
        squeeze=False,
        figsize=(3.3 * cols, 3.3 * math.ceil(len(models) / cols)),
        layout="constrained",
    )
    for ax in axes.flat[len(models) :]:
        ax.axis("off")
    for ax, model in zip(axes.flat, models, strict=False):
        table = runs[model][0].predictions(test_set)
        for fold, part in table.groupby("fold") if "fold" in table else [(0, table)]:
            fpr, tpr, _ = roc_curve(part["label"], part["prob"])
            ax.plot(fpr, tpr, lw=1, label=f"fold {fold}")
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=0.8)
        auc = runs[model][0].metrics[test_set].get("auc_prob", float("nan"))
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1.01),
            aspect="equal",
            xlabel="false positive rate",
            ylabel="true positive rate",
        )
        ax.set_title(wrapped(f"{labels.get(model, model)} (AUC {auc:.3f})", 34), fontsize=8)
        ax.legend(fontsize=6, loc="lower right")
    save_figure(fig, out)
