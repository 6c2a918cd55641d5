"""A trained model back from its `model.pt` (written by the Trainer: architecture, arguments, weights)."""

from __future__ import annotations

from pathlib import Path

import torch

from medbench.checkpoint import load_checkpoint
from medbench.models.registry import create_model


def load_trained_model(path: str | Path, device: torch.device) -> torch.nn.Module:
    ckpt = load_checkpoint(path, device)
    model = create_model(ckpt["arch"], **ckpt["model_args"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device)
