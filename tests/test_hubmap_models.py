"""hubmap models: the DAFormer decoder's structure, auxiliary heads, the smp CNNs with heads."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from medbench.errors import ConfigError
from medbench.models import create_model
from medbench.models.daformer import DAFormerHead


def test_daformer_head_follows_the_official_config():
    head = DAFormerHead([8, 16, 32, 64], embed_dim=16, dilations=(1, 6, 12, 18), dropout=0.1)
    assert [e.out_channels for e in head.embed] == [16] * 4  # every level embedded to one width
    one_by_one, *separable = head.aspp
    assert one_by_one[0].kernel_size == (1, 1) and one_by_one[0].in_channels == 64  # 4 x 16 fused
    for branch, dilation in zip(separable, (6, 12, 18), strict=True):
        depthwise, pointwise = branch
        assert depthwise[0].dilation == (dilation, dilation) and depthwise[0].groups == 64
        assert pointwise[0].kernel_size == (1, 1)
    assert head.bottleneck[0].kernel_size == (3, 3) and head.bottleneck[0].in_channels == 4 * 16
    assert head.dropout.p == 0.1 and head.classifier.out_channels == 1
    features = [torch.rand(1, c, 16 // 2**i, 16 // 2**i) for i, c in enumerate([8, 16, 32, 64])]
    assert head(features).shape == (1, 1, 16, 16)  # stride-4 logits


def test_every_level_reaches_the_output():
    """Gradients flow from the output into all four embeddings (no level dropped)."""
    head = DAFormerHead([4, 4, 4, 4], embed_dim=8)
    features = [torch.rand(1, 4, 8 // 2**i, 8 // 2**i) for i in range(4)]
    head(features).sum().backward()
    assert all(e.weight.grad.abs().sum() > 0 for e in head.embed)


@pytest.mark.parametrize("arch,kwargs", [
    ("unet", {"encoder_name": "resnet18", "num_classes": 1, "in_chans": 3}),
    ("segformer_daformer", {"encoder_name": "mit_b0", "embed_dim": 16}),
])
def test_no_aux_heads_without_aux_levels(arch, kwargs):
    model = create_model(arch, img_size=64, **kwargs).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 64, 64))
    assert not out.get("aux")
    assert not any(isinstance(m, nn.Conv2d) and m.out_channels == 1 and "aux" in name
                   for name, m in model.named_modules())


def test_aux_level_out_of_range_is_a_config_error():
    with pytest.raises(ConfigError, match=r"aux levels \[4\] out of range"):
        create_model("pvt_v2_daformer", encoder_name="pvt_v2_b0", embed_dim=16, aux_levels=[4])


def test_coat_takes_its_configured_input_size():
    model = create_model("coat_daformer", encoder_name="coat_lite_tiny", embed_dim=16, img_size=64)
    assert model(torch.rand(1, 3, 64, 64))["seg"].shape == (1, 1, 64, 64)
