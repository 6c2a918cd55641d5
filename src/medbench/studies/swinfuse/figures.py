"""swinfuse's figures, drawn from finished runs (nothing is re-run).

- `pretrain_curves_figure`: each pre-training run's loss terms (rotation, contrastive,
  reconstruction, JSD) per epoch, training solid and validation dashed, and the collapse
  monitor: the mean cosine between the validation embeddings (solid) and between positive pairs
  (dotted), with the threshold above which the log warns of a collapse.
- `overlay_figure`: one test case per task: its image, the ground truth and each row's
  fine-tuned segmentation on the same slice (BraTS regions: WT green, TC yellow, ET red).
- `id_ood_figure`: each row's mean test Dice per task, out-of-distribution cells hatched.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap

from medbench.errors import DataError
from medbench.report.figures import blank, save_figure, wrapped
from medbench.report.runs import Run
from medbench.report.tables import study_model_labels
from medbench.studies.swinfuse.report import distribution
from medbench.train.ssl import COLLAPSED

TERMS = ("rot", "contrast", "rec", "jsd")
REGIONS = ListedColormap([(0, 0, 0, 0), "tab:green", "gold", "tab:red"])
SUMMARY = {"brats21": "dice_mean"}  # MSD tasks: "dice"


def _seed_dir(runs: dict[str, list[Run]]):
    if not runs:
        raise DataError("figure: no finished fine-tuning run to locate the pre-training runs from")
    return next(iter(runs.values()))[0].directory.parent


def pretrain_curves_figure(cfg: dict, spec: dict, runs, data_dir, protocol: str, out) -> None:
    seed_dir = _seed_dir(runs)
    histories = {}
    for model in spec["models"]:
        path = seed_dir / model / "metrics.csv"
        if not path.is_file():
            raise DataError(f"{path}: pre-training history missing; train '{model}' first")
        histories[model] = pd.read_csv(path)
    fig, axes = plt.subplots(1, len(TERMS) + 1, figsize=(3.2 * (len(TERMS) + 1), 3),
                             layout="constrained")
    for i, (model, history) in enumerate(histories.items()):
        colour = f"C{i}"
        for ax, term in zip(axes, TERMS, strict=False):
            ax.plot(history["epoch"], history[f"train_{term}_loss"], color=colour, label=model)
            ax.plot(history["epoch"], history[f"val_{term}"], color=colour, linestyle="--")
        axes[-1].plot(history["epoch"], history["val_cos_mean"], color=colour)
        axes[-1].plot(history["epoch"], history["val_cos_pos"], color=colour, linestyle=":")
    for ax, term in zip(axes, TERMS, strict=False):
        ax.set(title=term, xlabel="epoch")
    axes[-1].axhline(COLLAPSED, color="grey", lw=0.8)
    axes[-1].set(title="embedding cosine (collapse above the line)", xlabel="epoch", ylim=(-0.1, 1.02))
    axes[-1].title.set_fontsize(8)
    axes[0].set_ylabel("loss (solid: train, dashed: validation)")
    axes[0].legend(fontsize=7)
    save_figure(fig, out)


def _slices(run: Run, task: str) -> dict[str, np.ndarray]:
    path = run.directory / "predictions" / f"{task}.npz"
    with np.load(path) as arrays:
        return {k: arrays[k] for k in arrays.files}


def overlay_figure(cfg: dict, spec: dict, runs, data_dir, protocol: str, out) -> None:
    models = [m for m in spec["models"] if m in runs]
    if not models:
        raise DataError(f"figures.overlays: none of {spec['models']} was run")
    labels, tasks = study_model_labels(cfg), list(cfg["tasks"])
    fig, axes = plt.subplots(
        len(tasks),
        2 + len(models),
        squeeze=False,
        figsize=(2.2 * (2 + len(models)), 2.4 * len(tasks)),
        layout="constrained",
    )
    for row, task in zip(axes, tasks, strict=True):
        slices = {m: _slices(runs[m][0], task) for m in models}
        first = slices[models[0]]
        case = int(np.argmax([t.astype(bool).sum() for t in first["truth"]]))  # the largest lesion
        panels = [
            ("image", first["image"][case], None),
            ("truth", first["image"][case], first["truth"][case]),
        ]
        panels += [
            (wrapped(labels.get(m, m), 20), first["image"][case], slices[m]["pred"][case]) for m in models
        ]
        for ax, (title, image, regions) in zip(row, panels, strict=True):
            ax.imshow(image.astype(float).T, cmap="gray", origin="lower")
            if regions is not None:
                ax.imshow(
                    np.ma.masked_equal(regions.T, 0), cmap=REGIONS, vmin=0, vmax=3, alpha=0.5, origin="lower"
                )
            ax.set_title(f"{task}: {title}" if title in ("image", "truth") else title, fontsize=8)
            blank(ax)
    save_figure(fig, out)


def id_ood_figure(cfg: dict, spec: dict, runs, data_dir, protocol: str, out) -> None:
    labels, tasks = study_model_labels(cfg), list(cfg["tasks"])
    models = [m for m in labels if m in runs]
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(2.2 + 1.6 * len(tasks), 3.4), layout="constrained")
    for i, model in enumerate(models):
        for j, task in enumerate(tasks):
            metric = SUMMARY.get(cfg["tasks"][task]["dataset"], "dice")
            value = np.mean([run.metrics[task][metric] for run in runs[model]])
            ood = distribution(cfg, model, task) == "OOD"
            ax.bar(
                j + (i - (len(models) - 1) / 2) * width,
                100 * value,
                width,
                color=f"C{i}",
                hatch="//" if ood else None,
                edgecolor="black",
                label=labels[model] if j == 0 else None,
            )
    ax.set_xticks(range(len(tasks)), [f"{t}\n({cfg['tasks'][t]['modality']})" for t in tasks])
    ax.set_ylabel("test Dice (%); hatched: OOD")
    ax.legend(fontsize=7, ncols=2)
    save_figure(fig, out)
