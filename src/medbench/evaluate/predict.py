"""Test-set predictions saved to disk, so metrics, tables and figures never re-run a model.

For each test set `<name>`: `<name>.csv` (slice_id, label, prob where the model classifies)
and `<name>.npz` (the same plus predicted and true masks of slices that have one).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from medbench.data.splits import TEST_SETS
from medbench.data.study_data import split_datasets
from medbench.evaluate.inference import infer
from medbench.fileio import atomic_path, write_csv
from medbench.models import create_model
from medbench.train.checkpoint import load_checkpoint
from medbench.train.trainer import resolve_device

log = logging.getLogger(__name__)


def load_trained_model(path: str | Path, device: torch.device) -> torch.nn.Module:
    ckpt = load_checkpoint(path, device)
    model = create_model(ckpt["arch"], **ckpt["model_args"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device)


def predict_test_sets(cfg: dict, model_path, protocol: str, cache_dir, splits_csv, out_dir,
                      device: str = "auto", batch_size: int = 32) -> None:
    dev = resolve_device(device)
    model = load_trained_model(model_path, dev)
    data = split_datasets(cfg, cache_dir, splits_csv, protocol, TEST_SETS, cfg["seed"])
    out_dir = Path(out_dir)
    for name, dataset in data.items():
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
        pred = infer(model, loader, dev, amp=dev.type == "cuda", desc=f"predict {name}")
        slice_ids = dataset.cache.index["slice_id"].to_numpy()[pred["row"]]
        table = pd.DataFrame({"slice_id": slice_ids, "label": pred["label"]})
        if "cls_prob" in pred:
            table["prob"] = pred["cls_prob"]
        write_csv(out_dir / f"{name}.csv", table)
        arrays = {"slice_id": slice_ids.astype(str), "label": pred["label"]}
        if "seg_pred" in pred:
            keep = pred["has_mask"].astype(bool)
            arrays |= {"seg_slice_id": slice_ids[keep].astype(str),
                       "seg_pred": pred["seg_pred"][keep], "mask": pred["mask"][keep]}
        with atomic_path(out_dir / f"{name}.npz") as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        log.info("%s: %d slices predicted -> %s", name, len(table), out_dir)
