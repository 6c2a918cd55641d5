"""The hubmap paper's figures, drawn from the exports, the preprocessed cache and saved
predictions (nothing is re-run):

- `organs_figure`: Fig. 2 (organ distribution of the training export) beside Fig. 1 (one
  image per organ with its FTU outlines).
- `stain_figure`: Fig. 5, an evaluation image before and after Vahadane normalisation, with
  the stain target.
- `masks_figure`: Fig. 6 and 8, predicted masks of every model and loss on one image.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from medbench.config import table_config
from medbench.errors import DataError
from medbench.report.figures import blank, outline, save_figure, wrapped
from medbench.report.runs import Run
from medbench.report.tables import cell_source, table_columns
from medbench.studies.hubmap import layout
from medbench.studies.hubmap.kaggle import ORGANS, load_image, load_mask
from medbench.studies.hubmap.preprocess import image_file, load_resized, reference_um_per_px, target_row
from medbench.studies.hubmap.splits import read_hubmap_splits

PREDICTED = ListedColormap(["magenta"])


def _raw(exports: dict[str, Path], row) -> tuple[np.ndarray, np.ndarray]:
    return load_image(exports[row["source"]] / "train_images", row["id"]), load_mask(row)


def organs_figure(cfg: dict, spec: dict, runs: dict[str, list[Run]], data_dir, protocol: str, out) -> None:
    splits, exports = read_hubmap_splits(layout.splits_file(data_dir)), layout.exports(cfg)
    training = splits[splits["source"] == "training"]
    organs = [o for o in ORGANS if o in set(training["organ"])]
    fig = plt.figure(figsize=(3.2 + 2.2 * len(organs), 3.2), layout="constrained")
    grid = fig.add_gridspec(1, len(organs) + 1, width_ratios=[1.6] + [1] * len(organs))
    bars = fig.add_subplot(grid[0])
    counts = training["organ"].value_counts().reindex(organs)
    bars.bar(range(len(organs)), counts.to_numpy(), color="tab:blue")
    bars.set_xticks(range(len(organs)), organs, rotation=45, ha="right", fontsize=7)
    bars.set_title("Fig. 2: training images per organ", fontsize=8)
    for i, organ in enumerate(organs):
        image, mask = _raw(exports, training[training["organ"] == organ].iloc[0])
        ax = fig.add_subplot(grid[i + 1])
        ax.imshow(image)
        outline(ax, mask)
        blank(ax)
        ax.set_title(f"Fig. 1: {organ}", fontsize=8)
    save_figure(fig, out)


def stain_figure(cfg: dict, spec: dict, runs: dict[str, list[Run]], data_dir, protocol: str, out) -> None:
    splits, exports = read_hubmap_splits(layout.splits_file(data_dir)), layout.exports(cfg)
    test = splits[splits["source"] == "evaluation"]
    if spec.get("organ"):
        test = test[test["organ"] == spec["organ"]]
    if test.empty:
        raise DataError(f"figures.stain: no evaluation image of organ {spec.get('organ')!r}")
    row, target = test.iloc[0], target_row(splits, cfg["stain"]["target"])
    ref = reference_um_per_px(splits, cfg["data"]["image_size"])
    before, _ = load_resized(row, exports[row["source"]], cfg["data"], ref)
    target_image, _ = load_resized(target, exports[target["source"]], cfg["data"], ref)
    with np.load(image_file(layout.cache_dir(data_dir), row["source"], row["id"])) as arrays:
        after = arrays["image"]
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), layout="constrained")
    for ax, image, title in zip(axes, (before, after, target_image),
                                (f"{row['data_source']} {row['organ']} {row['id']}: as stained",
                                 "after Vahadane normalisation", f"stain target ({target['id']})"),
                                strict=True):
        ax.imshow(image)
        blank(ax)
        ax.set_title(title, fontsize=8)
    save_figure(fig, out)


def masks_figure(cfg: dict, spec: dict, runs: dict[str, list[Run]], data_dir, protocol: str, out) -> None:
    """Rows: the table's models on `spec.test_set`; columns: their losses; first column: truth."""
    table_cfg, splits = table_config(cfg), read_hubmap_splits(layout.splits_file(data_dir))
    test = splits[splits["set"] == spec["test_set"]]
    if spec.get("organ"):
        test = test[test["organ"] == spec["organ"]]
    if test.empty:
        raise DataError(f"figures.masks: no {spec.get('organ', '')} image in {spec['test_set']}")
    row = test.iloc[0]
    with np.load(image_file(layout.cache_dir(data_dir), row["source"], row["id"])) as arrays:
        image, truth = arrays["image"], arrays["mask"]
    columns = list(table_columns(table_cfg).items())
    section = table_cfg["sections"][0]
    labels = dict(zip(section["columns"], section.get("labels", []), strict=False))
    table_rows = [r for r in table_cfg["rows"] if r.get("test_set") == spec["test_set"]
                  and any(cell_source(r, c, s)[0] in runs for c, s in columns)]
    fig, axes = plt.subplots(len(table_rows), len(columns) + 1, squeeze=False,
                             figsize=(2.0 * (len(columns) + 1), 2.1 * len(table_rows)), layout="constrained")
    for ax_row, spec_row in zip(axes, table_rows, strict=True):
        ax_row[0].imshow(image)
        outline(ax_row[0], truth)
        ax_row[0].set_title(wrapped(f"{spec_row.get('name', spec_row['method'])}: truth", 30), fontsize=7)
        for ax, (column, source) in zip(ax_row[1:], columns, strict=True):
            model = cell_source(spec_row, column, source)[0]
            if model not in runs:
                ax.axis("off")
                ax.set_title(f"{labels.get(column, column)}: not run", fontsize=7)
                continue
            pred, threshold, dice = _prediction(runs[model][0], spec["test_set"], row["id"])
            ax.imshow(image)
            # a filled overlay, not an outline: an all-foreground prediction has no contour
            ax.imshow(np.ma.masked_where(pred < threshold, np.ones_like(pred)), cmap=PREDICTED,
                      alpha=0.45, vmin=0, vmax=1)
            outline(ax, truth)
            blank(ax)
            ax.set_title(f"{labels.get(column, column)}: Dice {dice:.3f}", fontsize=7)
        blank(ax_row[0])
    fig.suptitle(f"{row['data_source']} {row['organ']} {row['id']} "
                 "(green outline: truth; magenta: predicted)", fontsize=8)
    save_figure(fig, out)


def _prediction(run: Run, test_set: str, image_id) -> tuple[np.ndarray, float, float]:
    """One image's TTA probabilities (preprocessed grid), its threshold and its Dice."""
    table = run.predictions(test_set).astype({"id": str}).set_index("id")
    with np.load(run.directory / "predictions" / f"{test_set}.npz") as arrays:
        if f"prob_{image_id}" not in arrays:
            raise DataError(f"{run.directory}: no prediction for id {image_id} in {test_set}")
        prob = arrays[f"prob_{image_id}"] / 255.0
    return prob, float(table.loc[str(image_id), "threshold"]), float(table.loc[str(image_id), "dice"])
