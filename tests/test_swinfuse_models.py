"""swinfuse models and losses: the DIM, the SSL operations and terms, weight transfer, sliding
windows, the relative-difference claims."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from monai.losses import ContrastiveLoss

from medbench.checkpoint import save_checkpoint
from medbench.errors import ConfigError
from medbench.models import create_model
from medbench.models.swinfuse import DomainInvarianceModule
from medbench.report.relative_claims import check_relative_claim, relative_difference
from medbench.train.ssl import aug_rand, embedding_cosines, kde_jsd, patch_rand_drop, rot_rand
from medbench.train.volumes import segment

ROI = [64, 32, 32]
SMALL = {"feature_size": 12, "window_size": 4}


RELEASED = {"residual": False, "zero_init": False}  # the DIM as the released code builds it


def test_dim_keeps_the_shape_and_attends_within_each_sample():
    torch.manual_seed(0)
    dim = DomainInvarianceModule(16, heads=4, **RELEASED).eval()
    x = torch.randn(2, 6, 4, 4, 4)
    out = dim(x, x)
    assert out.shape == x.shape
    changed = x.clone()
    changed[1] += 1.0
    assert torch.allclose(dim(changed, changed)[0], out[0], atol=1e-6)  # sample 0 does not see sample 1


def test_dim_across_the_batch_mixes_samples_as_the_released_code():
    torch.manual_seed(0)
    dim = DomainInvarianceModule(16, heads=4, attend_across_batch=True, **RELEASED).eval()
    x = torch.randn(2, 6, 4, 4, 4)
    changed = x.clone()
    changed[1] += 1.0
    assert not torch.allclose(dim(changed, changed)[0], dim(x, x)[0], atol=1e-4)


def test_dim_heads_must_divide_the_features_and_the_paper_size_has_the_codes_parameters():
    with pytest.raises(ConfigError, match="not divisible by heads = 3"):
        DomainInvarianceModule(256, heads=3)
    dim = DomainInvarianceModule(48 * 48, heads=3)  # 96^3 input, patch 2, feature size 48
    assert sum(p.numel() for p in dim.parameters()) == 2 * 21_242_880


def _deepest_cosine(encoder, x) -> float:
    """Cosine between the two samples' flattened deepest-stage outputs."""
    deep = encoder(x)[4].flatten(1)
    return float(F.cosine_similarity(deep[0], deep[1], dim=0))


def test_dim_residual_starts_as_the_encoder_without_it_and_the_released_dim_collapses():
    from medbench.models.swinfuse_monai import swin_vit

    torch.manual_seed(0)
    g = torch.meshgrid(*(torch.linspace(-1, 1, n) for n in ROI), indexing="ij")
    ball = (g[0] ** 2 + g[1] ** 2 + g[2] ** 2 < 0.4).float()
    slab = (g[0] > 0.2).float() + 0.1 * torch.sin(6 * g[1])
    x = torch.stack([ball, slab])[:, None]  # two unlike crops
    plain = swin_vit(1, 12, ROI, window_size=4).eval()
    residual = swin_vit(1, 12, ROI, window_size=4, dim={"heads": 4}).eval()
    released = swin_vit(1, 12, ROI, window_size=4, dim={"heads": 4, **RELEASED}).eval()
    for encoder in (residual, released):  # the same encoder weights, DIM aside
        assert not encoder.load_state_dict(plain.state_dict(), strict=False).unexpected_keys
    with torch.no_grad():
        for ours, theirs in zip(residual(x), plain(x), strict=True):
            torch.testing.assert_close(ours, theirs)  # at initialisation: the encoder without DIM
        # the released module maps both samples to nearly the same features: the collapse
        assert _deepest_cosine(released, x) > 0.97 and _deepest_cosine(plain, x) < 0.9
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['residul'\]"):
        swin_vit(1, 12, ROI, window_size=4, dim={"heads": 4, "residul": True})


def test_collapse_monitor_tells_collapsed_from_spread_embeddings():
    torch.manual_seed(0)
    collapsed = torch.ones(6, 512) + 1e-3 * torch.randn(6, 512)
    cosines = embedding_cosines(collapsed, collapsed + 1e-3 * torch.randn(6, 512))
    assert cosines["cos_mean"] > 0.99 and cosines["cos_pos"] > 0.99
    spread = torch.randn(6, 512)
    cosines = embedding_cosines(spread, spread + 0.3 * torch.randn(6, 512))
    assert abs(cosines["cos_mean"]) < 0.3 and cosines["cos_pos"] > 0.9  # views agree, crops differ


def test_cut_out_pastes_only_from_the_same_modality():
    torch.manual_seed(0)
    crops = torch.cat([torch.full((3, 1, 12, 12, 12), 5.0), torch.full((3, 1, 12, 12, 12), -5.0)])
    modality = torch.tensor([0, 0, 0, 1, 1, 1])
    for _ in range(5):
        out = aug_rand(crops, modality)
        assert (out[:3] >= 0).all() and (out[3:] <= 1).all()  # no MR value in a CT crop, nor back
        assert (out[:3] != 5).any()  # something was cut out


def test_rot_rand_labels_are_the_rotations():
    torch.manual_seed(0)
    x = torch.randn(8, 1, 4, 6, 6)
    rotated, labels = rot_rand(x)
    for sample, out, k in zip(x, rotated, labels, strict=True):
        assert torch.equal(out, torch.rot90(sample, int(k), dims=(2, 3)))
    assert len(set(labels.tolist())) > 1


def test_patch_rand_drop_covers_at_most_its_share_and_aug_rand_leaves_the_input():
    torch.manual_seed(0)
    for _ in range(20):
        x = torch.zeros(1, 20, 20, 20)
        patch_rand_drop(x)
        # the last box may overshoot the drawn share by at most one box (25% of each side)
        assert (x != 0).float().mean() <= 0.3 + 0.25**3
    batch = torch.zeros(3, 1, 20, 20, 20)
    augmented = aug_rand(batch)
    assert torch.count_nonzero(batch) == 0 and torch.count_nonzero(augmented) > 0


def test_monai_contrastive_loss_is_the_released_nt_xent():
    torch.manual_seed(0)
    a, b = torch.randn(4, 8), torch.randn(4, 8)
    z = F.normalize(torch.cat([a, b]), dim=1)
    sim = z @ z.T / 0.5
    sim.fill_diagonal_(-float("inf"))
    targets = torch.cat([torch.arange(4, 8), torch.arange(0, 4)])
    assert float(ContrastiveLoss(temperature=0.5)(a, b)) == pytest.approx(
        float(F.cross_entropy(sim, targets)), rel=1e-5
    )


def test_kde_jsd_is_a_divergence():
    torch.manual_seed(0)
    ct, mr = torch.randn(3, 5), torch.randn(3, 5) + 2
    modality = torch.tensor([0, 0, 0, 1, 1, 1])
    same = kde_jsd(torch.cat([ct, ct]), modality)
    apart = kde_jsd(torch.cat([ct, mr]), modality)
    swapped = kde_jsd(torch.cat([mr, ct]), modality)
    assert float(same) == pytest.approx(0.0, abs=1e-6) and float(apart) > 0.1
    assert float(swapped) == pytest.approx(float(apart), rel=1e-5)
    assert torch.isfinite(kde_jsd(torch.randn(2, 5), torch.tensor([0, 1])))
    assert float(kde_jsd(ct, torch.zeros(3, dtype=torch.long))) == 0.0  # one modality: no term


def test_ssl_network_heads_and_tokens():
    out = create_model("swin_ssl", img_size=ROI, **SMALL, dim={"heads": 4})(torch.rand(2, 1, *ROI))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "rot": (2, 4),
        "contrast": (2, 512),
        "rec": (2, 1, *ROI),
        "embedding": (2, 12),
    }


@pytest.fixture(scope="module")
def ssl_checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ssl")
    paths = {}
    for name, dim in (("plain", None), ("dim", {"heads": 4})):
        model = create_model("swin_ssl", img_size=ROI, **SMALL, dim=dim)
        paths[name] = folder / f"{name}.pt"
        save_checkpoint(paths[name], {"state_dict": model.state_dict()})
    return paths


def test_encoder_transfer_reinitialises_only_a_multichannel_patch_embedding(ssl_checkpoints):
    source = torch.load(ssl_checkpoints["dim"])["state_dict"]
    model = create_model(
        "swin_unetr",
        img_size=ROI,
        in_channels=4,
        out_channels=3,
        **SMALL,
        dim={"heads": 4},
        frozen_checkpoint=str(ssl_checkpoints["dim"]),
    )
    own = model.net.swinViT.state_dict()
    assert torch.equal(own["dim.mh1.in_proj_weight"], source["encoder.dim.mh1.in_proj_weight"])
    assert torch.equal(
        own["layers1.0.blocks.0.attn.qkv.weight"], source["encoder.layers1.0.blocks.0.attn.qkv.weight"]
    )
    assert own["patch_embed.proj.weight"].shape[1] == 4  # a new 4-channel embedding
    one = create_model(
        "swin_unetr",
        img_size=ROI,
        in_channels=1,
        out_channels=2,
        **SMALL,
        dim={"heads": 4},
        frozen_checkpoint=str(ssl_checkpoints["dim"]),
    )
    assert torch.equal(
        one.net.swinViT.state_dict()["patch_embed.proj.weight"], source["encoder.patch_embed.proj.weight"]
    )


def test_encoder_transfer_is_strict(ssl_checkpoints):
    with pytest.raises(ConfigError, match="does not match"):  # DIM weights into a model without DIM
        create_model(
            "swin_unetr",
            img_size=ROI,
            in_channels=1,
            out_channels=2,
            **SMALL,
            frozen_checkpoint=str(ssl_checkpoints["dim"]),
        )


def test_sliding_windows_segment_a_whole_volume():
    model = create_model("swin_unetr", img_size=ROI, in_channels=4, out_channels=3, **SMALL).eval()
    with torch.no_grad():
        logits = segment(model, torch.rand(1, 4, 72, 48, 48), ROI, overlap=0.25)
    assert logits.shape == (1, 3, 72, 48, 48)


def test_swin_unetr_output_layer_is_the_last_1x1x1_convolution():
    # `head_lr_scale` trains it at its own rate: it must be what maps features to the channels
    model = create_model("swin_unetr", img_size=ROI, in_channels=4, out_channels=3, **SMALL)
    weights = [p.shape for p in model.output_layer().parameters()]
    assert weights == [(3, SMALL["feature_size"], 1, 1, 1), (3,)]


def test_roi_must_tile_swin_unetr():
    with pytest.raises(ConfigError, match="divisible by 32"):
        create_model("swin_unetr", img_size=[48, 32, 32], **SMALL)


class FakeRun:
    def __init__(self, model, frame):
        self.model, self.seed, self.frame = model, 0, frame

    def predictions(self, test_set):
        return self.frame


def _runs(a_values, b_values):
    cases = [f"c{i}" for i in range(len(a_values))]
    return {
        "a": [FakeRun("a", pd.DataFrame({"case_id": cases, "dice": a_values}))],
        "b": [FakeRun("b", pd.DataFrame({"case_id": cases, "dice": b_values}))],
    }


def test_relative_difference_is_paired_over_cases():
    a, b = pd.Series([0.9, 0.8, np.nan, 0.7]), pd.Series([1.0, 0.8, 0.5, 0.7])
    test = relative_difference(a, b, n_boot=200, seed=0)
    assert test["diff"] == pytest.approx((0.8 - 2.5 / 3) / (2.5 / 3))  # the NaN case is left out
    assert test["low"] <= test["diff"] <= test["high"]


@pytest.mark.parametrize(
    "shift, verdict", [(-0.015, "holds"), (-0.10, "worse than claimed"), (0.05, "better than claimed")]
)
def test_relative_diff_in(shift, verdict):
    rng = np.random.default_rng(0)
    b = rng.uniform(0.6, 0.8, 200)
    claim = {
        "claim": "1-2% trade-off",
        "kind": "relative_diff_in",
        "band": [-0.02, 0.0],
        "models": ["a", "b"],
        "metrics": ["t.dice"],
    }
    [row] = check_relative_claim(claim, _runs(b * (1 + shift), b), n_boot=200, seed=0)
    assert verdict in row["verdict"] and row["diff"] == pytest.approx(shift)


def test_relative_diff_max_takes_the_largest_gain():
    claim = {
        "claim": "up to 27%",
        "kind": "relative_diff_max",
        "band": [0.27, 0.27],
        "models": ["a", "b"],
        "metrics": ["t.dice", "t.dice"],
    }
    [row] = check_relative_claim(claim, _runs([0.9, 0.8, 0.85], [0.6, 0.7, 0.65]), n_boot=100, seed=0)
    assert row["diff"] == pytest.approx(0.85 / 0.65 - 1) and row["verdict"].startswith("holds")
    assert "claimed up to +27%" in row["verdict"]
