"""bus predictions of one fold's model on its test images: `test.csv` (sample_id, label, prob,
and per image with a mask `dsc`, `ji` of the mask probability > 0.5; NaN elsewhere) and
`test.npz` (the mask probabilities of those images, uint8 x 255, for the overlay figure). The
pipeline merges the folds (a `fold` column).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from torch.utils.data import DataLoader

from medbench.fileio import atomic_path, write_csv
from medbench.metrics import overlap_per_image
from medbench.models.inference import infer

MASK_THRESHOLD = 0.5  # busbench's pred_df: a pixel is lesion when its probability is > 0.5


def predict_fold(model, dataset, test_set: str, out_dir, device) -> None:
    pred = infer(
        model,
        DataLoader(dataset, batch_size=32),
        device,
        amp=device.type == "cuda",
        desc=f"predict {test_set}",
    )
    index = dataset.cache.index
    table = pd.DataFrame(
        {
            "sample_id": index["sample_id"].to_numpy()[pred["row"]],
            "label": pred["label"].astype(int),
            "prob": pred["cls_prob"],
        }
    )
    arrays = {}
    if "seg_prob" in pred:
        keep = pred["has_mask"].astype(bool)
        dsc, ji = overlap_per_image(pred["seg_prob"][keep] > MASK_THRESHOLD, pred["mask"][keep])
        table["dsc"], table["ji"] = np.nan, np.nan
        table.loc[keep, "dsc"], table.loc[keep, "ji"] = dsc, ji
        arrays = {
            "seg_sample_id": table["sample_id"].to_numpy()[keep].astype(str),
            "seg_prob": np.round(pred["seg_prob"][keep] * 255).astype(np.uint8),
        }
    write_csv(Path(out_dir) / f"{test_set}.csv", table)
    with atomic_path(Path(out_dir) / f"{test_set}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
