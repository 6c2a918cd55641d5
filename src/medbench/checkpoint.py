"""Checkpoints written atomically (temp file + rename): a kill never leaves a torn file."""

from __future__ import annotations

from pathlib import Path

import torch

from medbench.fileio import atomic_path


def save_checkpoint(path: str | Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    return torch.load(path, map_location=map_location, weights_only=False)
