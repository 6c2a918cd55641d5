"""The dicts that pass between a study's datasets, the models and the Trainer, declared.

A study's Dataset returns a `Sample`; the Trainer's DataLoader stacks samples into a batch of the
same keys (a leading batch dimension). Every registered model returns a `ModelOutput`; the losses
and the prediction code read the keys a model's tasks name (`tasks:` of a run: cls / seg / rec).
Keys are optional (`total=False`): a study or a model fills the ones its task has.
"""

from __future__ import annotations

from typing import TypedDict

import torch


class Sample(TypedDict, total=False):
    image: torch.Tensor  # float (C, H, W) or (C, X, Y, Z); SSL pre-training: (crops, C, X, Y, Z)
    label: torch.Tensor  # class: long () for softmax heads (brain_ct), float 0/1 () for one logit (bus)
    mask: torch.Tensor  # (H, W) 0/1 or class codes; swinfuse: (channels, X, Y, Z) region channels
    has_mask: torch.Tensor  # bool (): the sample's mask is annotated (losses skip the others)
    modality: torch.Tensor  # long (crops,): 0 CT, 1 MR (swinfuse pre-training)
    row: torch.Tensor  # long (): the sample's row in the study's index (predictions name it)


class ModelOutput(TypedDict, total=False):
    cls: torch.Tensor  # classification logits (B, classes), or (B, 1) for one sigmoid logit
    seg: torch.Tensor  # segmentation logits (B, classes or channels, *spatial)
    rec: torch.Tensor  # reconstruction of the input (B, C, *spatial)
    aux: dict[int, torch.Tensor]  # hubmap: deep-supervision logits by decoder level
    rot: torch.Tensor  # swinfuse pre-training: rotation logits (B, 4)
    contrast: torch.Tensor  # swinfuse pre-training: contrastive embedding (B, 512)
    embedding: torch.Tensor  # swinfuse pre-training: pooled patch embedding, the domain term's input
