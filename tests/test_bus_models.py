"""bus models, losses, metrics and the paper's self-checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score

from medbench.metrics import binary_classification_metrics, overlap_per_image
from medbench.models import create_model
from medbench.models.anatomy_attention import AnatomyAwareAttention
from medbench.models.estan import ResNetTaps
from medbench.report.self_checks import self_check_lines
from medbench.report.tables import read_paper_results
from medbench.train.losses import BinaryMultiTaskLoss, soft_dice_loss

from .conftest import REPO

SWIN = {
    "name": "swinv2_base_window8_256",
    "embed_dim": 16,
    "depths": [2, 2, 2, 2],
    "num_heads": [1, 2, 4, 8],
    "window_size": 4,
}
HYBRID = {"resnet": "resnet18", "estan_widths": [4, 8, 16, 32, 64], "swin": SWIN}
TOY_ARGS = {  # registry name -> small arguments
    "mt_estan": {"resnet": "resnet18", "estan_widths": [4, 8, 16, 32, 64]},
    "mt_estan_swin": HYBRID,
    "hybrid_mt_estan": HYBRID,
    "busbench_swin": {k if k != "name" else "timm_name": v for k, v in SWIN.items()},
    "busbench_vit": {"timm_name": "vit_tiny_patch16_224", "patch_size": 8},
    "vgga_vit": {"embed_dim": 32, "depth": 1, "num_heads": 2},
    "sha_mtl": {"encoder": "resnet18"},
    "chowdary": {"encoder": "resnet18"},
    "emt_net": {},
    "busbench_mobilenet": {},
    "busbench_densenet121": {},
}
# the rows the default toy run trains (config/config.yaml `bus.models`)
BUS_ROWS = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["bus"]["models"]
MULTITASK = {"mt_estan", "mt_estan_swin", "hybrid_mt_estan", "sha_mtl", "chowdary", "emt_net", "vgga_vit"}


@pytest.mark.parametrize("name", sorted(TOY_ARGS))
def test_every_bus_model_returns_one_logit_and_a_mask_if_multitask(name):
    torch.manual_seed(0)
    model = create_model(name, img_size=64, **TOY_ARGS[name]).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out["cls"].shape == (2, 1)
    assert ("seg" in out) == (name in MULTITASK)
    if "seg" in out:
        assert out["seg"].shape == (2, 1, 64, 64)


def test_mt_estans_transposed_convolutions_are_linear_as_in_keras():
    """busbench's Conv2DTranspose layers have no activation: a negative output passes on."""
    torch.manual_seed(0)
    model = create_model("mt_estan", img_size=64, **TOY_ARGS["mt_estan"]).eval()
    seen = []
    model.ups[0].conv_a.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    model.ups[1].conv_b.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    transposed = [model.bottleneck, model.ups[1].up]
    for conv in transposed:
        torch.nn.init.constant_(conv.bias, -10.0)
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 64))
    widths = [model.bottleneck.out_channels, model.ups[1].up.out_channels]
    for tensor, width in zip(seen, widths, strict=True):
        assert (tensor[:, :width] < 0).any()  # the transposed convolution's output, un-rectified


def test_resnet_taps_have_the_keras_strides():
    taps = ResNetTaps("resnet18")(torch.zeros(1, 3, 64, 64))
    strides = {name: 64 // t.shape[-1] for name, t in taps.items()}
    assert strides == {
        "conv1_conv": 2,
        "conv1_relu": 2,
        "conv2_first": 4,
        "conv2_out": 4,
        "conv3_first": 8,
        "conv3_out": 8,
        "conv4_first": 16,
        "conv4_out": 16,
        "conv5_first": 32,
        "conv5_out": 32,
    }


@pytest.mark.parametrize("merge, gate, size", [("concat", "C", 8), ("sum", "1", 7)])
def test_anatomy_aware_attention_keeps_the_nhwc_shape(merge, gate, size):
    block = AnatomyAwareAttention(12, merge=merge, gate_channels=gate)
    x = torch.randn(2, size, size, 12)
    assert block(x).shape == x.shape


def test_hybrid_carries_aaa_after_each_block_pair_and_its_swin_reaches_the_classifier():
    model = create_model("hybrid_mt_estan", img_size=64, **HYBRID)
    assert sum(isinstance(m, AnatomyAwareAttention) for m in model.modules()) == 4  # depths 2,2,2,2
    assert not any(
        isinstance(m, AnatomyAwareAttention)
        for m in create_model("mt_estan_swin", img_size=64, **HYBRID).modules()
    )
    model(torch.randn(2, 3, 64, 64))["cls"].sum().backward()
    swin_grads = [p.grad for n, p in model.named_parameters() if n.startswith("swin.")]
    assert swin_grads and any(g is not None and g.abs().sum() > 0 for g in swin_grads)


def _busbench_focal(p, t, alpha=0.5, gamma=2.0):
    """busbench's focal_loss_fixed (MIDA-Lab/busbench): two means, one per class."""
    eps = 1e-7
    p = np.clip(p, eps, 1 - eps)
    pt1, pt0 = np.where(t == 1, p, 1.0), np.where(t == 0, p, 0.0)
    return -np.mean(alpha * (1 - pt1) ** gamma * np.log(pt1)) - np.mean(
        (1 - alpha) * pt0**gamma * np.log(1 - pt0)
    )


def test_focal_loss_is_busbenchs_and_dice_counts_a_batch_without_lesions():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=16), (rng.random(16) > 0.5).astype(float)
    loss = BinaryMultiTaskLoss({"cls": 1.0}, {"name": "focal", "alpha": 0.5, "gamma": 2.0})
    ours = loss.classification(torch.tensor(logits)[:, None], torch.tensor(labels))
    assert float(ours) == pytest.approx(_busbench_focal(1 / (1 + np.exp(-logits)), labels), rel=1e-5)
    empty = soft_dice_loss(torch.full((2, 8, 8), 3.0, requires_grad=True), torch.zeros(2, 8, 8))
    assert 0 < float(empty.detach()) < 1  # busbench's smooth 1: predicting lesions where none are costs
    both = BinaryMultiTaskLoss({"cls": 3.0, "seg": 1.0}, {"name": "wbce", "pos_weight": 3.0})
    batch = {
        "label": torch.tensor([0.0, 1.0]),
        "mask": torch.zeros(2, 8, 8),
        "has_mask": torch.tensor([False, False]),
    }
    total, parts = both({"cls": torch.zeros(2, 1), "seg": torch.zeros(2, 1, 8, 8)}, batch)
    assert parts["seg"] == 0.0 and float(total) == pytest.approx(3 * parts["cls"])  # no mask: no Dice term


def test_binary_metrics_are_busbenchs_and_sklearns():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 200)
    probs = np.clip(labels * 0.3 + rng.random(200) * 0.7, 0, 1)
    m = binary_classification_metrics(labels, probs)
    pred = probs >= 0.5
    assert m["acc"] == pytest.approx(accuracy_score(labels, pred))
    assert m["sens"] == pytest.approx(recall_score(labels, pred)) and m["fnr"] == pytest.approx(1 - m["sens"])
    assert m["spec"] == pytest.approx(recall_score(1 - labels, ~pred)) and m["fpr"] == pytest.approx(
        1 - m["spec"]
    )
    assert m["f1"] == pytest.approx(f1_score(labels, pred))
    assert m["auc"] == pytest.approx((m["sens"] + m["spec"]) / 2)  # from 0/1 predictions
    assert m["auc_prob"] == pytest.approx(roc_auc_score(labels, probs))
    dsc, ji = overlap_per_image(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)))
    assert dsc[0] == pytest.approx(1.0) and ji[0] == pytest.approx(1.0)  # empty / empty
    a, b = np.zeros((1, 4, 4), bool), np.zeros((1, 4, 4), bool)
    a[0, :2], b[0, 1:3] = True, True
    dsc, ji = overlap_per_image(a, b)
    assert dsc[0] == pytest.approx(0.5) and ji[0] == pytest.approx(1 / 3)


def test_the_papers_tables_checked_against_themselves():
    paper = read_paper_results(
        REPO / "config" / "paper_results" / "table3.csv", ["acc", "sens", "spec", "f1", "auc", "fnr", "fpr"]
    )
    lines = self_check_lines(
        paper,
        {
            "prevalence": 0.499,
            "checks": ["auc_is_mean_of_sens_spec", "rates_are_complements", "f1_implied", "accuracy_implied"],
        },
    )
    inconsistent = [line for line in lines if "**inconsistent**" in line]
    assert not [line for line in inconsistent if "auc_is_mean" in line or "rates_are" in line]  # all rows
    f1_rows = {line.split(" | ")[0].strip("| ") for line in inconsistent if "f1_implied" in line}
    assert f1_rows == {
        "SHA-MTL [8]",
        "VGGA-ViT [16]",
        "Swin Transformer",
        "MT-ESTAN",
        "Ours (Hybrid-MT-ESTAN)",
    }
    assert {line.split(" | ")[0].strip("| ") for line in inconsistent if "accuracy_implied" in line} == {
        "VGGA-ViT [16]"
    }


def _toy_bus_config() -> dict:
    from medbench.config import load_study_config

    run = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["bus"]
    return load_study_config(REPO / run["study_config"], run["overrides"])


@pytest.mark.parametrize("name", BUS_ROWS)
def test_the_default_toy_runs_bus_models_build_with_their_recipes(name):
    """The toy recipes' sizes (ResNet10-T encoders, half-width decoders) build and run: a decoder
    too narrow for SHA-MTL's scSE squeeze fails here, not an hour into `snakemake`."""
    from medbench.config import model_config
    from medbench.train.run import model_arguments

    cfg = _toy_bus_config()
    recipe = model_config(cfg, name)
    model = create_model(recipe["arch"], **model_arguments(cfg, recipe)).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out["cls"].shape == (2, 1)
    widths = recipe.get("model_args", {}).get("decoder_channels")
    if widths:  # honoured: the last decoder block has the last width
        assert model.net.decoder.blocks[-1].conv2[0].out_channels == widths[-1]
