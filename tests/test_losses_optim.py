"""Multi-task loss composition and the learning-rate schedules."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from segmentation_models_pytorch.losses import DiceLoss

from medbench.errors import ConfigError
from medbench.train.losses import MultiTaskLoss, build_loss
from medbench.train.optim import build_optimizer, build_schedule, parameter_groups, poly_factor


def _batch_and_outputs(has_mask):
    torch.manual_seed(0)
    n = len(has_mask)
    batch = {"image": torch.rand(n, 1, 8, 8), "label": torch.tensor([0, 1, 1, 0][:n]),
             "mask": (torch.rand(n, 8, 8) > 0.7).long(), "has_mask": torch.tensor(has_mask)}
    outputs = {"cls": torch.randn(n, 2), "seg": torch.randn(n, 2, 8, 8), "rec": torch.rand(n, 1, 8, 8)}
    return batch, outputs


def test_weighted_sum_of_the_papers_terms():
    batch, out = _batch_and_outputs([True, True, True, True])
    loss_fn = MultiTaskLoss({"cls": 0.3, "seg": 0.4, "rec": 0.4}, {"ce_weight": 0.4, "dice_weight": 0.6})
    total, parts = loss_fn(out, batch)
    seg = 0.4 * F.cross_entropy(out["seg"], batch["mask"]) + 0.6 * DiceLoss("multiclass")(
        out["seg"], batch["mask"])
    expected = 0.3 * F.cross_entropy(out["cls"], batch["label"]) + 0.4 * seg + 0.4 * F.mse_loss(
        out["rec"], batch["image"])
    assert float(total) == pytest.approx(float(expected), rel=1e-6)
    assert set(parts) == {"cls", "seg", "rec"}


def test_segmentation_loss_ignores_samples_without_mask():
    batch, out = _batch_and_outputs([True, False, True, False])
    loss_fn = MultiTaskLoss({"seg": 1.0})
    before, _ = loss_fn(out, batch)
    out["seg"][[1, 3]] = torch.randn(2, 2, 8, 8) * 100  # unmasked samples' predictions change
    after, _ = loss_fn(out, batch)
    assert float(before) == pytest.approx(float(after))
    out["seg"][0, 1] += 5.0  # foreground logit of a masked sample
    changed, _ = loss_fn(out, batch)
    assert float(changed) != pytest.approx(float(before))


def test_batch_without_masks_gives_zero_seg_loss_with_gradient_path():
    batch, out = _batch_and_outputs([False, False])
    out["seg"].requires_grad_(True)
    total, parts = MultiTaskLoss({"seg": 1.0})(out, batch)
    total.backward()
    assert parts["seg"] == 0.0 and out["seg"].grad is not None


def test_unknown_task_weight_is_config_error():
    with pytest.raises(ConfigError, match=r"unknown task\(s\) \['depth'\]"):
        MultiTaskLoss({"cls": 1.0, "depth": 1.0})


def test_poly_schedule_steps_every_iteration():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = build_optimizer({"name": "sgd", "momentum": 0.9, "weight_decay": 1e-4}, [param], lr=0.01)
    schedule = build_schedule({"name": "poly", "power": 0.9}, opt, steps_per_epoch=5, epochs=2,
                              mode="max")
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step_iteration()
    expected = [0.01 * (1 - it / 10) ** 0.9 for it in range(10)]
    assert lrs == pytest.approx(expected)
    assert poly_factor(10, 10, 0.9) == 0.0
    assert opt.param_groups[0]["momentum"] == 0.9 and opt.param_groups[0]["weight_decay"] == 1e-4


def test_plateau_schedule_reduces_on_stalled_metric():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = build_optimizer({"name": "adam"}, [param], lr=5e-5)
    schedule = build_schedule({"name": "plateau", "factor": 0.5, "patience": 1}, opt, 3, 10, "max")
    for metric in (0.5, 0.5, 0.5):
        schedule.step_iteration()  # no effect for an epoch-level schedule
        schedule.step_epoch(metric)
    assert opt.param_groups[0]["lr"] == pytest.approx(2.5e-5)


def test_unknown_optimiser_and_schedule():
    with pytest.raises(ConfigError, match="unknown optimiser 'lamb'"):
        build_optimizer({"name": "lamb"}, [torch.nn.Parameter(torch.zeros(1))], 0.1)
    opt = build_optimizer({"name": "sgd"}, [torch.nn.Parameter(torch.zeros(1))], 0.1)
    with pytest.raises(ConfigError, match="unknown schedule 'step'"):
        build_schedule({"name": "step"}, opt, 1, 1, "max")


def test_cosine_schedule_warms_up_then_decays_to_zero_per_iteration():
    opt = build_optimizer({"name": "adamw"}, [torch.nn.Parameter(torch.zeros(1))], 1.0)
    schedule = build_schedule({"name": "cosine", "warmup_steps": 4}, opt, 5, 2, "max")  # 10 steps
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(10):
        opt.step()
        schedule.step_iteration()
        schedule.step_epoch(0.5)  # no effect for an iteration-level schedule
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[:5] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])  # linear warm-up over 4 steps
    # then half a cosine period over the remaining 6 steps, down to 0 at the last
    assert lrs[4:] == pytest.approx([0.5 * (1 + math.cos(math.pi * k / 6)) for k in range(7)])


class _WithHead(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.out = torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.out(self.body(x))

    def output_layer(self):
        return self.out


def test_head_lr_scale_puts_the_output_layer_in_its_own_group_that_the_schedule_scales_alike():
    model = _WithHead()
    opt = build_optimizer({"name": "adamw"}, parameter_groups(model, 1e-3, 10), 1e-3)
    body, head = opt.param_groups
    assert [p is q for p, q in zip(head["params"], model.out.parameters(), strict=True)] == [True, True]
    assert {id(p) for p in body["params"]} == {id(p) for p in model.body.parameters()}
    assert (body["lr"], head["lr"]) == pytest.approx((1e-3, 1e-2))
    schedule = build_schedule({"name": "cosine", "warmup_steps": 0}, opt, 2, 2, "max")
    for _ in range(2):  # half-way through the cosine: both at half their peak
        opt.step()
        schedule.step_iteration()
    assert (body["lr"], head["lr"]) == pytest.approx((5e-4, 5e-3))


def test_one_group_without_head_scale_and_an_error_for_a_model_without_output_layer():
    plain = torch.nn.Linear(3, 2)
    assert len(parameter_groups(plain, 1e-3)) == 1
    with pytest.raises(ConfigError, match="output_layer"):
        parameter_groups(plain, 1e-3, 10)


def _seg_batch():
    torch.manual_seed(0)
    mask = (torch.rand(2, 16, 16) > 0.6).float()
    outputs = {"seg": torch.randn(2, 1, 16, 16),
               "aux": {1: torch.randn(2, 1, 2, 2), 0: torch.randn(2, 1, 4, 4)}}
    return {"mask": mask}, outputs


def test_normal_loss_is_plain_bce():
    batch, out = _seg_batch()
    total, parts = build_loss({"name": "bce"}, epochs=10)(out, batch)
    torch.testing.assert_close(total, F.binary_cross_entropy_with_logits(out["seg"], batch["mask"][:, None]))
    assert set(parts) == {"seg"}


def test_aux_loss_adds_a_fifth_of_the_bce_on_the_nearest_downsampled_mask():
    batch, out = _seg_batch()
    loss_fn = build_loss({"name": "bce", "aux": {"weight": 0.2, "levels": [1]}}, epochs=10)
    total, parts = loss_fn(out, batch)
    small = batch["mask"][:, None, ::8, ::8]  # nearest: the top-left pixel of every 8x8 cell
    expected = (F.binary_cross_entropy_with_logits(out["seg"], batch["mask"][:, None])
                + 0.2 * F.binary_cross_entropy_with_logits(out["aux"][1], small))
    torch.testing.assert_close(total, expected)
    assert set(parts) == {"seg", "aux"}


def test_switched_aux_loss_moves_one_level_down_after_half_of_training():
    """Paper §4.3/§5: level "second block" for epochs 1-60, "first block" for 61-120."""
    loss_fn = build_loss({"name": "bce", "aux": {"weight": 0.2, "levels": [1, 0], "switch_fraction": 0.5}},
                         epochs=120)
    levels = {}
    for epoch in (1, 60, 61, 120):
        loss_fn.set_epoch(epoch)
        levels[epoch] = loss_fn.level
    assert levels == {1: 1, 60: 1, 61: 0, 120: 0}
    batch, out = _seg_batch()
    _, parts = loss_fn(out, batch)  # epoch 120: the level-0 head, 4x4
    torch.testing.assert_close(torch.tensor(parts["aux"]), F.binary_cross_entropy_with_logits(
        out["aux"][0], batch["mask"][:, None, ::4, ::4]))


def test_single_aux_level_never_switches():
    loss_fn = build_loss({"name": "bce", "aux": {"weight": 0.2, "levels": [2]}}, epochs=4)
    assert {e: (loss_fn.set_epoch(e), loss_fn.level)[1] for e in (1, 4)} == {1: 2, 4: 2}


def test_more_than_two_aux_levels_is_a_config_error():
    with pytest.raises(ConfigError, match="one level, or two"):
        build_loss({"name": "bce", "aux": {"weight": 0.2, "levels": [2, 1, 0]}}, epochs=4)


def test_losses_come_from_a_registry_and_a_trainer_variant_owns_its_loss():
    from medbench.train.run import get_trainer  # registers the 3-D variants and their losses

    with pytest.raises(ConfigError, match="unknown name 'bcee'.*registered"):
        build_loss({"name": "bcee"}, epochs=1)
    ssl_trainer = get_trainer("ssl_pretrain")
    assert type(ssl_trainer.build_loss({}, epochs=1)).__name__ == "SSLLoss"
    with pytest.raises(ConfigError, match="SSLTrainer trains with 'ssl'"):
        ssl_trainer.build_loss({"name": "dice"}, epochs=1)
    assert type(get_trainer("default").build_loss({"name": "bce"}, epochs=1)).__name__ == "AuxiliaryBCELoss"
