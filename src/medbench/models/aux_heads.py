"""Auxiliary segmentation heads on encoder levels (hubmap paper §4.3).

A 1x1 convolution per chosen encoder level maps its features to one logit channel, trained
with BCE against the mask resized to that level. Level i is the encoder output at stride
4 * 2**i (0: first block ... 3: last block), the same numbering for every encoder.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from medbench.errors import ConfigError


class AuxHeads(nn.Module):
    def __init__(self, channels: Sequence[int], levels: Sequence[int]):
        super().__init__()
        bad = [lv for lv in levels if not 0 <= lv < len(channels)]
        if bad:
            raise ConfigError(f"aux levels {bad} out of range: the encoder has levels 0-{len(channels) - 1}")
        self.heads = nn.ModuleDict({str(lv): nn.Conv2d(channels[lv], 1, kernel_size=1) for lv in levels})

    def forward(self, features: Sequence[torch.Tensor]) -> dict[int, torch.Tensor]:
        return {int(lv): head(features[int(lv)]) for lv, head in self.heads.items()}
