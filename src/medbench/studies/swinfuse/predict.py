"""swinfuse test-set predictions (sliding windows, as the released fine-tuning scripts).

Each task's fine-tuned network segments its test volumes whole (sliding windows). `<task>.csv`:
per case, Dice of every channel (BraTS: dice_tc, dice_wt, dice_et and their mean over the
case's non-empty channels, dice_mean; MSD: dice), NaN where the ground truth of a channel is
empty (MONAI's ignore_empty). `<task>.npz`: one axial slice per case (the one with the most
ground truth) of the first image channel, the truth and the prediction as region codes (0
background, 1 WT, 2 TC, 3 ET; MSD: 0 / 1), for the overlay figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from medbench.fileio import atomic_path, write_csv
from medbench.progress import progress
from medbench.studies.swinfuse.evaluation import channels
from medbench.train.volumes import dice_per_channel, segment, to_prediction


def region_codes(masks, task: dict) -> np.ndarray:
    """(C, X, Y, Z) binary channels -> one code volume (BraTS: 1 WT, 2 TC, 3 ET)."""
    masks = masks.cpu().numpy().astype(bool)
    if task["dataset"] != "brats21":
        return masks[0].astype(np.uint8)
    tc, wt, et = masks
    return (wt.astype(np.uint8) + tc + et).astype(np.uint8)


@torch.no_grad()
def predict_task(model, dataset, test_set: str, task: dict, inference: dict, out_dir, device) -> None:
    model.eval()
    rows, slices = [], {"case_id": [], "image": [], "truth": [], "pred": []}
    roi = dataset_roi(model)
    for batch in progress(
        DataLoader(dataset, batch_size=1), desc=f"predict {test_set}", unit="volume", leave=False
    ):
        image, mask = batch["image"].to(device), batch["mask"].to(device)
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            logits = segment(model, image, roi, inference["sw_batch_size"], inference["overlap"])
        prediction = to_prediction(logits, task["activation"])
        dice = dice_per_channel(prediction, mask, task["activation"])[0]
        case = dataset.cases.iloc[int(batch["row"])]["case_id"]
        row = {"case_id": case, **dict(zip(channels(task), dice.tolist(), strict=True))}
        if len(dice) > 1:  # the case's mean over its non-empty channels (NaN if none)
            row["dice_mean"] = float(np.nanmean(dice)) if np.isfinite(dice).any() else float("nan")
        rows.append(row)
        truth = region_codes(mask[0] if task["activation"] == "sigmoid" else mask[0] > 0, task)
        z = int(truth.reshape(-1, truth.shape[-1]).astype(bool).sum(0).argmax())
        pred = region_codes(prediction[0] if task["activation"] == "sigmoid" else prediction[0, 1:], task)
        for key, value in (
            ("case_id", case),
            ("image", image[0, 0, ..., z].cpu().numpy().astype(np.float16)),
            ("truth", truth[..., z]),
            ("pred", pred[..., z]),
        ):
            slices[key].append(value)
    write_csv(Path(out_dir) / f"{test_set}.csv", pd.DataFrame(rows))
    with atomic_path(Path(out_dir) / f"{test_set}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **{k: np.stack(v) for k, v in slices.items()})


def dataset_roi(model) -> list[int]:
    """The ROI the network was built for (its encoder's DIM and windows are tied to it)."""
    return list(model.roi)
