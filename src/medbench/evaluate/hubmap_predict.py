"""hubmap test-set predictions (paper §6): flip test-time augmentation, organ- and
source-specific thresholds, Dice per image on the original pixel grid.

For each evaluation set `<name>`: `<name>.csv` (id, organ, data_source, threshold, dice) and
`<name>.npz` (ids and the TTA probabilities on the preprocessed grid, uint8 x 255, for figures).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from medbench.data.hubmap import load_mask
from medbench.data.hubmap_dataset import HubmapDataset
from medbench.data.hubmap_preprocess import reference_um_per_px, to_original
from medbench.data.hubmap_splits import EVALUATION_SETS, read_hubmap_splits
from medbench.errors import ConfigError
from medbench.evaluate.metrics import dice_per_image
from medbench.evaluate.predict import load_trained_model
from medbench.fileio import atomic_path, write_csv
from medbench.progress import progress
from medbench.train.trainer import resolve_device

log = logging.getLogger(__name__)
FLIPS = {"hflip": (-1,), "vflip": (-2,), "hvflip": (-2, -1)}


def threshold_for(thresholds: dict, data_source: str, organ: str) -> float:
    """`thresholds[<data source>]` gives `default` and per-organ exceptions (paper: lung)."""
    by_source = {k.lower(): v for k, v in thresholds.items()}
    if data_source.lower() not in by_source:
        raise ConfigError(f"inference.thresholds: no entry for data source {data_source!r}; "
                          f"have {sorted(thresholds)}")
    spec = by_source[data_source.lower()]
    return float(spec.get(organ, spec["default"]))


@torch.no_grad()
def tta_probabilities(model: torch.nn.Module, images: torch.Tensor, flips: list[str]) -> torch.Tensor:
    """Mean sigmoid over the identity and each flip (flipped back), (B, H, W)."""
    unknown = sorted(set(flips) - set(FLIPS))
    if unknown:
        raise ConfigError(f"inference.tta: unknown flip(s) {unknown}; known: {sorted(FLIPS)}")
    total = torch.sigmoid(model(images)["seg"][:, 0].float())
    for flip in flips:
        dims = FLIPS[flip]
        total += torch.sigmoid(model(images.flip(dims))["seg"][:, 0].float()).flip(dims)
    return total / (1 + len(flips))


def _predict_set(model, dataset: HubmapDataset, cfg: dict, ref_um, device, desc):
    inference = cfg["inference"]
    model.eval()
    rows, probs, dices, thresholds = dataset.rows, [], [], []
    loader = DataLoader(dataset, batch_size=inference.get("batch_size", 8), shuffle=False)
    for batch in progress(loader, desc=desc, unit="batch", leave=False):
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            prob = tta_probabilities(model, batch["image"].to(device), inference["tta"]).cpu().numpy()
        for i, p in zip(batch["row"].tolist(), prob, strict=True):
            row = rows.iloc[i]
            threshold = threshold_for(inference["thresholds"], row["data_source"], row["organ"])
            full = to_original(p.astype(np.float32), row, cfg["data"], ref_um) >= threshold
            dices.append(float(dice_per_image(full[None], load_mask(row)[None])[0]))
            probs.append(np.round(p * 255).astype(np.uint8))
            thresholds.append(threshold)
    table = rows.loc[:, ["id", "organ", "data_source"]].assign(threshold=thresholds, dice=dices)
    return table, np.stack(probs)


def predict_hubmap(cfg: dict, model_path, cache_dir, splits_csv, out_dir, device: str = "auto") -> None:
    """Predict both evaluation sets; Dice against the split table's masks (original grid)."""
    dev = resolve_device(device)
    model = load_trained_model(model_path, dev)
    splits = read_hubmap_splits(splits_csv)
    ref_um = reference_um_per_px(splits, cfg["data"]["image_size"])
    for name in EVALUATION_SETS:
        dataset = HubmapDataset(cache_dir, splits[splits["set"] == name])
        table, probs = _predict_set(model, dataset, cfg, ref_um, dev, f"predict {name}")
        write_csv(Path(out_dir) / f"{name}.csv", table)
        with atomic_path(Path(out_dir) / f"{name}.npz") as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, id=table["id"].to_numpy().astype(str), prob=probs)
        log.info("%s: %d images, mean Dice %.4f", name, len(table), table["dice"].mean())
