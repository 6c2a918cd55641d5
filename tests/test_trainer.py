"""Trainer: checkpoints, exact resume after an interruption, best-epoch selection."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from medbench.checkpoint import load_checkpoint
from medbench.data.cache import ImageCache
from medbench.data.transforms import build_augmentation
from medbench.errors import ConfigError
from medbench.models import create_model
from medbench.studies.brain_ct.dataset import SliceDataset
from medbench.train.losses import MultiTaskLoss
from medbench.train.optim import build_optimizer, build_schedule
from medbench.train.trainer import Trainer, TrainerConfig, get_trainer, register_trainer

SMALL_SWIN = {"img_size": 32, "embed_dim": 12, "window_size": 2, "num_heads": [1, 1, 2, 2],
              "depths": [1, 1, 1, 1]}
AUGMENT = {"rot90_flip_p": 0.5, "rotate_p": 0.5, "rotate_limit": 20}


class Interrupted(Exception):
    pass


class InterruptedTrainer(Trainer):
    """Dies in the middle of epoch `die_in` (after a first batch), like a killed job."""

    die_in = 2

    def train_epoch(self, epoch):
        if epoch == self.die_in:
            raise Interrupted
        return super().train_epoch(epoch)


def make_trainer(toy_cache, out_dir, cls=Trainer, epochs=3, monitor="val_loss", mode="min", fp=None,
                 keep_last=False):
    torch.manual_seed(0)
    cache = ImageCache.load(toy_cache)
    train = SliceDataset(cache, range(0, 24), "hypodensity", build_augmentation(AUGMENT, 0))
    val = SliceDataset(cache, range(24, 36), "hypodensity")
    model = create_model("mtl_swin_unet", **SMALL_SWIN)
    optimizer = build_optimizer({"name": "sgd", "momentum": 0.9}, model.parameters(), 0.01)
    schedule = build_schedule({"name": "poly", "power": 0.9}, optimizer, 3, epochs, mode)
    loss_fn = MultiTaskLoss({"cls": 0.3, "seg": 0.4, "rec": 0.4})
    cfg = TrainerConfig(epochs=epochs, batch_size=8, val_batch_size=12, monitor=monitor, mode=mode,
                        device="cpu", fingerprint=fp or {"test": 1}, keep_last=keep_last)
    return cls(model, loss_fn, optimizer, schedule, train, val, out_dir, cfg,
               {"arch": "mtl_swin_unet", "model_args": SMALL_SWIN})


def test_fit_writes_metrics_checkpoints_and_best_model(toy_cache, tmp_path):
    result = make_trainer(toy_cache, tmp_path).fit()
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2, 3]
    assert {"train_loss", "train_cls_loss", "train_seg_loss", "train_rec_loss", "val_loss",
            "val_auc", "val_iou", "lr"} <= set(metrics.columns)
    assert metrics["lr"].is_monotonic_decreasing
    best = load_checkpoint(tmp_path / "model.pt")
    assert best["epoch"] == int(metrics.loc[metrics["val_loss"].idxmin(), "epoch"])
    assert best["epoch"] == result["best_epoch"] and best["arch"] == "mtl_swin_unet"
    # a finished run keeps one copy of its weights: model.pt (best.pt renamed, last.pt deleted)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv", "model.pt"]


def test_keep_last_keeps_the_resumable_checkpoint(toy_cache, tmp_path):
    make_trainer(toy_cache, tmp_path, epochs=1, keep_last=True).fit()
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["last.pt"]
    assert load_checkpoint(tmp_path / "checkpoints" / "last.pt")["epoch"] == 1


def test_a_run_killed_after_its_model_was_written_finishes_on_rerun(toy_cache, tmp_path):
    make_trainer(toy_cache, tmp_path, epochs=1, keep_last=True).fit()  # as if killed before the clean-up
    model = (tmp_path / "model.pt").read_bytes()
    make_trainer(toy_cache, tmp_path, epochs=1).fit()
    assert (tmp_path / "model.pt").read_bytes() == model and not (tmp_path / "checkpoints").exists()


def test_resumed_run_equals_uninterrupted_run(toy_cache, tmp_path):
    make_trainer(toy_cache, tmp_path / "straight", keep_last=True).fit()
    with pytest.raises(Interrupted):
        make_trainer(toy_cache, tmp_path / "resumed", cls=InterruptedTrainer).fit()
    partial = pd.read_csv(tmp_path / "resumed" / "metrics.csv")
    assert list(partial["epoch"]) == [1] and not (tmp_path / "resumed" / "model.pt").exists()

    make_trainer(toy_cache, tmp_path / "resumed", keep_last=True).fit()
    straight = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")  # the last epoch's
    resumed = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")
    for key, value in straight["model"].items():
        torch.testing.assert_close(resumed["model"][key], value, msg=key)
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "straight" / "metrics.csv").drop(columns="seconds"),
        pd.read_csv(tmp_path / "resumed" / "metrics.csv").drop(columns="seconds"))


def test_checkpoint_of_another_config_is_not_resumed(toy_cache, tmp_path):
    with pytest.raises(Interrupted):
        make_trainer(toy_cache, tmp_path, cls=InterruptedTrainer).fit()
    make_trainer(toy_cache, tmp_path, epochs=2, fp={"test": 2}).fit()
    assert list(pd.read_csv(tmp_path / "metrics.csv")["epoch"]) == [1, 2]


def test_monitor_max_picks_highest_auc(toy_cache, tmp_path):
    make_trainer(toy_cache, tmp_path, monitor="val_auc", mode="max").fit()
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    best = load_checkpoint(tmp_path / "model.pt")
    assert best["score"] == pytest.approx(metrics["val_auc"].max())


@register_trainer("test_frozen_step")
class FrozenStepTrainer(Trainer):
    """A variant overriding one method: its steps cost nothing, so the weights never move."""

    def training_step(self, batch):
        loss = sum(p.sum() for p in self.model.parameters()) * 0.0
        return loss, {"zero": 0.0}


def test_a_trainer_variant_is_picked_by_name_and_overrides_one_step(toy_cache, tmp_path):
    assert get_trainer("default") is Trainer
    with pytest.raises(ConfigError, match="unknown variant 'nope'; registered: .*'default'"):
        get_trainer("nope")
    with pytest.raises(ValueError, match="registered twice"):
        register_trainer("test_frozen_step")(FrozenStepTrainer)
    trainer = make_trainer(toy_cache, tmp_path, cls=get_trainer("test_frozen_step"), epochs=1)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = load_checkpoint(tmp_path / "model.pt")["state_dict"]
    for key, value in before.items():
        if value.is_floating_point() and "running" not in key:  # BatchNorm statistics still update
            torch.testing.assert_close(after[key], value, msg=key)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert metrics.loc[0, "train_loss"] == 0.0 and "train_zero_loss" in metrics
    assert "val_auc" in metrics  # everything else is the default Trainer's


class CountingTrainer(Trainer):
    """Counts the batches (and their sizes) of every training epoch."""

    def training_step(self, batch):
        self.sizes = [*getattr(self, "sizes", []), len(batch["image"])]
        return super().training_step(batch)


def test_steps_per_epoch_draws_that_many_batches_from_reshuffled_passes(toy_cache, tmp_path):
    trainer = make_trainer(toy_cache, tmp_path, cls=CountingTrainer, epochs=1)
    trainer.cfg.steps_per_epoch = 5  # 5 x 8 = 40 samples from a training set of 24: over a pass
    trainer.fit()
    assert trainer.sizes == [8] * 5
    plain = make_trainer(toy_cache, tmp_path / "plain", cls=CountingTrainer, epochs=1)
    plain.fit()
    assert plain.sizes == [8, 8, 8]  # one pass over the 24 training slices
