"""Test-set predictions saved to disk, so metrics, tables and figures never re-run a model.

For each test set `<name>`: `<name>.csv` (sample id, label, prob where the model classifies) and
`<name>.npz` (the same plus predicted and true masks of samples that have one). Studies whose
predictions need more (hubmap: test-time augmentation, thresholds, Dice on the original grid)
write their own, in the same layout: one csv row per sample, its id in the first column.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from medbench.fileio import atomic_path, read_csv_with_text_ids, write_csv
from medbench.models.inference import infer

log = logging.getLogger(__name__)


def predict_test_sets(model: torch.nn.Module, datasets: dict[str, Dataset], out_dir, device: torch.device,
                      sample_ids: Callable[[Dataset, np.ndarray], np.ndarray], id_column: str = "sample_id",
                      batch_size: int = 32) -> None:
    """Predict every dataset; `sample_ids(dataset, rows)` names the samples of the rows that
    `infer` reports (the datasets' `row` output)."""
    out_dir = Path(out_dir)
    for name, dataset in datasets.items():
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
        pred = infer(model, loader, device, amp=device.type == "cuda", desc=f"predict {name}")
        ids = np.asarray(sample_ids(dataset, pred["row"]))
        table = pd.DataFrame({id_column: ids, "label": pred["label"]})
        if "cls_prob" in pred:
            table["prob"] = pred["cls_prob"]
        write_csv(out_dir / f"{name}.csv", table)
        arrays = {id_column: ids.astype(str), "label": pred["label"]}
        if "seg_pred" in pred:
            keep = pred["has_mask"].astype(bool)
            arrays |= {f"seg_{id_column}": ids[keep].astype(str),
                       "seg_pred": pred["seg_pred"][keep], "mask": pred["mask"][keep]}
        with atomic_path(out_dir / f"{name}.npz") as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        log.info("%s: %d samples predicted -> %s", name, len(table), out_dir)


def predict_run(study, cfg: dict, model_file, data_dir, protocol: str, out_dir, device: torch.device) -> None:
    """A finished run's test-set predictions: one model, or (cross-validation) each fold's model
    on its own test fold, merged into one set of files (the mirror of `train.run.train_folds`)."""
    import tempfile

    from medbench.checkpoint import load_checkpoint
    from medbench.models.loading import load_trained_model

    run = load_checkpoint(model_file)
    if "folds" not in run:
        model = load_trained_model(model_file, device)
        return study.predict(cfg, model, Path(data_dir), protocol, Path(out_dir), device)
    with tempfile.TemporaryDirectory(dir=Path(out_dir).parent, prefix=".folds.") as tmp:
        fold_dirs = {}
        for fold, path in run["folds"].items():
            model = load_trained_model(Path(model_file).parent / path, device)
            fold_dirs[fold] = Path(tmp) / f"fold{fold}"
            study.predict(cfg, model, Path(data_dir), protocol, fold_dirs[fold], device, fold=fold)
        merge_fold_predictions(fold_dirs, out_dir)


def merge_fold_predictions(fold_dirs: dict[int, Path], out_dir) -> None:
    """The predictions of every fold's model on its own test samples, as one set of files: csv
    rows concatenated with a `fold` column after the sample id; npz arrays concatenated along
    the samples (keys named per sample, as hubmap's, are united). A fold that does not test a
    set (swinfuse: each task's network tests its own task only) adds nothing to it."""
    out_dir = Path(out_dir)
    names = sorted({path.stem for folder in fold_dirs.values() for path in folder.glob("*.csv")})
    for name in names:
        folders = {fold: folder for fold, folder in fold_dirs.items() if (folder / f"{name}.csv").is_file()}
        tables = []
        for fold, folder in folders.items():
            table = read_csv_with_text_ids(folder / f"{name}.csv")
            table.insert(1, "fold", fold)
            tables.append(table)
        write_csv(out_dir / f"{name}.csv", pd.concat(tables, ignore_index=True))
        arrays: dict[str, list[np.ndarray]] = {}
        for folder in folders.values():
            with np.load(folder / f"{name}.npz") as fold_arrays:
                for key in fold_arrays.files:
                    arrays.setdefault(key, []).append(fold_arrays[key])
        merged = {key: np.concatenate(parts) if len(parts) > 1 else parts[0] for key, parts in arrays.items()}
        with atomic_path(out_dir / f"{name}.npz") as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **merged)
