"""hubmap test-set predictions (paper §6): flip test-time augmentation, organ- and
source-specific thresholds, Dice per image on the original pixel grid.

Each preprocessed image is segmented whole: MONAI's sliding-window inference with the
training size as window (one window when the image has that size; pixel-size-aware images
of any size are tiled or padded).

For each evaluation set `<name>`: `<name>.csv` (id, organ, data_source, threshold, dice) and
`<name>.npz` (`prob_<id>`: the TTA probabilities on the preprocessed grid, uint8 x 255).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from medbench.errors import ConfigError
from medbench.fileio import atomic_path, write_csv
from medbench.metrics import dice_per_image
from medbench.progress import progress
from medbench.studies.hubmap.dataset import HubmapDataset, to_tensor
from medbench.studies.hubmap.kaggle import load_mask
from medbench.studies.hubmap.layout import EVALUATION_SETS
from medbench.studies.hubmap.preprocess import to_original

log = logging.getLogger(__name__)
FLIPS = {"hflip": (-1,), "vflip": (-2,), "hvflip": (-2, -1)}
WHITE = to_tensor(np.full((1, 1, 3), 255, np.uint8))  # (3, 1, 1), normalised


def threshold_for(thresholds: dict, data_source: str, organ: str) -> float:
    """`thresholds[<data source>]` gives `default` and per-organ exceptions (paper: lung)."""
    by_source = {k.lower(): v for k, v in thresholds.items()}
    if data_source.lower() not in by_source:
        raise ConfigError(f"inference.thresholds: no entry for data source {data_source!r}; "
                          f"have {sorted(thresholds)}")
    spec = by_source[data_source.lower()]
    return float(spec.get(organ, spec["default"]))


@torch.no_grad()
def tta_probabilities(segment: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                      flips: list[str]) -> torch.Tensor:
    """Mean sigmoid of `segment` (images -> (B, 1, H, W) logits) over the identity and each
    flip (flipped back), (B, H, W)."""
    unknown = sorted(set(flips) - set(FLIPS))
    if unknown:
        raise ConfigError(f"inference.tta: unknown flip(s) {unknown}; known: {sorted(FLIPS)}")
    total = torch.sigmoid(segment(images)[:, 0].float())
    for flip in flips:
        dims = FLIPS[flip]
        total += torch.sigmoid(segment(images.flip(dims))[:, 0].float()).flip(dims)
    return total / (1 + len(flips))


def whole_image_segmenter(model: torch.nn.Module, window: int, windows_per_batch: int):
    """Logits of a whole image of any size from `window` x `window` tiles (MONAI). An image
    smaller than the window is padded with white, the slide background the model knows
    (MONAI would pad with 0, the mean colour after normalisation), and cropped back."""
    from monai.inferers import sliding_window_inference

    def segment(images: torch.Tensor) -> torch.Tensor:
        height, width = images.shape[-2:]
        if height < window or width < window:
            canvas = WHITE.to(images).expand(*images.shape[:2], max(height, window), max(width, window))
            padded = canvas.clone()
            padded[..., :height, :width] = images
            images = padded
        logits = sliding_window_inference(images, (window, window), windows_per_batch,
                                          lambda tiles: model(tiles)["seg"], overlap=0.25)
        return logits[..., :height, :width]

    return segment


def _predict_set(model, dataset: HubmapDataset, cfg: dict, device, desc):
    inference = cfg["inference"]
    model.eval()
    segment = whole_image_segmenter(model, cfg["data"]["image_size"], inference.get("batch_size", 8))
    rows, probs, dices, thresholds = dataset.rows, {}, [], []
    for batch in progress(DataLoader(dataset, batch_size=1), desc=desc, unit="image", leave=False):
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            prob = tta_probabilities(segment, batch["image"].to(device), inference["tta"])[0].cpu().numpy()
        row = rows.iloc[int(batch["row"][0])]
        threshold = threshold_for(inference["thresholds"], row["data_source"], row["organ"])
        full = to_original(prob.astype(np.float32), row) >= threshold
        dices.append(float(dice_per_image(full[None], load_mask(row)[None])[0]))
        probs[f"prob_{row['id']}"] = np.round(prob * 255).astype(np.uint8)
        thresholds.append(threshold)
    table = rows.loc[:, ["id", "organ", "data_source"]].assign(threshold=thresholds, dice=dices)
    return table, probs


def predict_hubmap(cfg: dict, model: torch.nn.Module, splits, cache_dir, out_dir,
                   device: torch.device) -> None:
    """Predict both evaluation sets; Dice against the split table's masks (original grid)."""
    for name in EVALUATION_SETS:
        dataset = HubmapDataset(cache_dir, splits[splits["set"] == name])
        table, probs = _predict_set(model, dataset, cfg, device, f"predict {name}")
        write_csv(Path(out_dir) / f"{name}.csv", table)
        with atomic_path(Path(out_dir) / f"{name}.npz") as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **probs)
        log.info("%s: %d images, mean Dice %.4f", name, len(table), table["dice"].mean())
