"""Figures every study can draw from its saved runs (nothing is re-run), and the helpers of
the studies' own figures.

- `roc_figure`: ROC curves of every classifier on every test set.
- `curves_figure`: per-epoch training/validation loss and the monitored validation metric.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import roc_curve

from medbench.errors import DataError
from medbench.fileio import atomic_path
from medbench.report.runs import Run, classifies, seed_probabilities

VALIDATION_METRICS = {"val_auc": {"color": "tab:green", "ls": "--"},
                      "val_iou": {"color": "tab:purple", "ls": ":"},
                      "val_dice": {"color": "tab:red", "ls": "-."}}


def save_figure(fig, out: str | Path) -> None:
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=150, bbox_inches="tight", format=Path(out).suffix.lstrip("."))
    plt.close(fig)


def outline(ax, mask: np.ndarray, color: str = "lime") -> None:
    if mask.any():
        ax.contour(mask.astype(float), levels=[0.5], colors=color, linewidths=1.0)


def wrapped(title: str, width: int = 24) -> str:
    """Table 1's method names are long; panel titles wrap instead of overlapping."""
    return textwrap.fill(title, width)


def blank(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


# ------------------------------------------------------------------------------- ROC
def roc_figure(runs: dict[str, list[Run]], method_of: dict[str, str], test_sets, titles: dict[str, str],
               out) -> None:
    classifiers = [m for m in method_of if m in runs and classifies(runs[m])]
    if not classifiers:
        raise DataError("ROC figure: no classifier among the runs")
    fig, axes = plt.subplots(1, len(test_sets), figsize=(5.2 * len(test_sets), 5), squeeze=False)
    colors = plt.get_cmap("tab20")(np.linspace(0, 1, len(classifiers), endpoint=False))
    styles = ["-", "--", "-.", ":"]
    for ax, test_set in zip(axes[0], test_sets, strict=True):
        for k, (color, model) in enumerate(zip(colors, classifiers, strict=True)):
            _, labels, probs = seed_probabilities(runs[model], test_set)
            fpr, tpr, _ = roc_curve(labels, probs[0])
            auc = np.mean([r.metrics[test_set]["auc"] for r in runs[model]])
            ax.plot(fpr, tpr, color=color, lw=1.2, ls=styles[k % len(styles)],
                    label=f"{method_of[model]} ({auc:.3f})")
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=0.8)
        ax.set(title=titles.get(test_set, test_set), xlabel="false positive rate",
               ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01), aspect="equal")
        ax.legend(fontsize=6, loc="lower right", title="AUC", title_fontsize=7)
    save_figure(fig, out)


# ------------------------------------------------------------------------------- curves
def curves_figure(runs: dict[str, list[Run]], method_of: dict[str, str], out) -> None:
    models = [m for m in method_of if m in runs]
    cols = min(4, len(models))
    nrows = math.ceil(len(models) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.8 * cols, 3.0 * nrows), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[len(models):]:
        ax.axis("off")
    for ax, model in zip(axes.flat, models, strict=False):
        twin = ax.twinx()  # validation metrics in [0, 1] beside the losses
        for run in runs[model]:
            path = run.directory / "metrics.csv"
            if not path.is_file():
                raise DataError(f"{path}: per-epoch metrics missing")
            history = pd.read_csv(path)
            for _, log in history.groupby("fold") if "fold" in history else [(None, history)]:  # CV: per fold
                ax.plot(log["epoch"], log["train_loss"], color="tab:blue", lw=1, label="train loss")
                ax.plot(log["epoch"], log["val_loss"], color="tab:orange", lw=1, label="val loss")
                for metric, style in VALIDATION_METRICS.items():
                    if metric in log:
                        twin.plot(log["epoch"], log[metric], lw=1, label=metric, **style)
        twin.set_ylim(0, 1)
        twin.tick_params(labelsize=6)
        ax.set_title(wrapped(method_of[model], 40), fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=6)
        lines = ax.get_lines()[:2] + twin.get_lines()[:len(VALIDATION_METRICS)]
        ax.legend(lines, [ln.get_label() for ln in lines], fontsize=5, loc="center right")
    save_figure(fig, out)
