"""Device selection, shared by training, prediction and figures."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """`auto`: CUDA when present, else the CPU; anything else as torch names it (cpu, cuda:1)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
