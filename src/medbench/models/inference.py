"""Batched inference shared by validation (Trainer) and test-set prediction."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from medbench.progress import progress


def collect_outputs(outputs: dict, batch: dict) -> dict[str, np.ndarray]:
    """Per-sample numpy views of what evaluation needs: probabilities, masks, labels."""
    out = {k: batch[k].cpu().numpy() for k in ("label", "row", "has_mask") if k in batch}
    if "cls" in outputs and outputs["cls"].shape[1] == 1:  # one logit: sigmoid (bus)
        out["cls_prob"] = torch.sigmoid(outputs["cls"][:, 0].float()).cpu().numpy()
    elif "cls" in outputs:  # two classes: softmax (brain_ct)
        out["cls_prob"] = torch.softmax(outputs["cls"].float(), dim=1)[:, 1].cpu().numpy()
    if "seg" in outputs and outputs["seg"].shape[1] == 1:  # binary: one logit channel
        out["seg_prob"] = torch.sigmoid(outputs["seg"][:, 0].float()).cpu().numpy()
        out["mask"] = batch["mask"].to(torch.uint8).cpu().numpy()
    elif "seg" in outputs:
        out["seg_pred"] = outputs["seg"].argmax(dim=1).to(torch.uint8).cpu().numpy()
        out["mask"] = batch["mask"].to(torch.uint8).cpu().numpy()
    return out


@torch.no_grad()
def infer(model: torch.nn.Module, loader: DataLoader, device: torch.device, amp: bool = False,
          loss_fn=None, desc: str = "predict") -> dict:
    """Run `model` over `loader`; numpy arrays per output, plus the mean loss if `loss_fn`."""
    model.eval()
    collected: dict[str, list[np.ndarray]] = {}
    loss_sum, n = 0.0, 0
    for batch in progress(loader, desc=desc, unit="batch", leave=False):
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(device.type, enabled=amp):
            outputs = model(batch["image"])
        if loss_fn is not None:
            loss, _ = loss_fn(outputs, batch)
            loss_sum += float(loss) * len(batch["image"])
        n += len(batch["image"])
        for key, value in collect_outputs(outputs, batch).items():
            collected.setdefault(key, []).append(value)
    result = {k: np.concatenate(v) for k, v in collected.items()}
    if loss_fn is not None:
        result["loss"] = loss_sum / max(n, 1)
    return result
