"""Joint models: the segmentation encoder loads strictly, stays frozen and in eval mode."""

from __future__ import annotations

import pytest
import torch

from medbench.checkpoint import save_checkpoint
from medbench.errors import ConfigError
from medbench.models import create_model

SMALL_SWIN = {"img_size": 32, "embed_dim": 24, "window_size": 2, "num_heads": [1, 2, 3, 4]}


@pytest.fixture
def swin_unet_run(tmp_path):
    torch.manual_seed(1)
    seg = create_model("swin_unet", **SMALL_SWIN)
    path = tmp_path / "model.pt"
    save_checkpoint(path, {"arch": "swin_unet", "model_args": SMALL_SWIN,
                           "state_dict": seg.state_dict()})
    return seg, path


def test_frozen_encoder_is_the_segmentation_encoder(swin_unet_run):
    seg, path = swin_unet_run
    joint = create_model("joint_swin", frozen_checkpoint=str(path), **SMALL_SWIN)
    for key, value in seg.encoder.state_dict().items():
        torch.testing.assert_close(joint.frozen.encoder.state_dict()[key], value, msg=key)


def test_frozen_part_gets_no_gradient_and_stays_in_eval(swin_unet_run):
    _, path = swin_unet_run
    joint = create_model("joint_swin", frozen_checkpoint=str(path), drop_path_rate=0.5, **SMALL_SWIN)
    joint.train()
    assert not joint.frozen.training and joint.trainable.training
    before = {k: v.clone() for k, v in joint.frozen.state_dict().items()}
    opt = torch.optim.SGD([p for p in joint.parameters() if p.requires_grad], lr=1.0)
    joint(torch.rand(2, 1, 32, 32))["cls"].sum().backward()
    opt.step()
    assert all(p.grad is None for p in joint.frozen.parameters())
    for key, value in joint.frozen.state_dict().items():
        torch.testing.assert_close(value, before[key])
    x = torch.rand(2, 1, 32, 32)  # eval-mode frozen features are deterministic despite drop-path
    torch.testing.assert_close(joint.frozen(x), joint.frozen(x))


def test_mismatched_checkpoint_is_an_error_naming_it(swin_unet_run, tmp_path):
    _, path = swin_unet_run
    with pytest.raises(ConfigError, match=rf"{path}: frozen encoder does not match"):
        create_model("joint_swin", frozen_checkpoint=str(path), **{**SMALL_SWIN, "depths": [2, 2, 6, 2]})
    other = tmp_path / "resnet.pt"
    save_checkpoint(other, {"arch": "resnet152", "state_dict": {}})
    with pytest.raises(ConfigError, match="must come from a 'swin_unet' run, got 'resnet152'"):
        create_model("joint_swin", frozen_checkpoint=str(other), **SMALL_SWIN)


def test_joint_cnn_loads_the_unet_encoder(tmp_path):
    seg = create_model("unet", encoder_name="tu-efficientnet_b0")
    path = tmp_path / "unet.pt"
    save_checkpoint(path, {"arch": "unet", "state_dict": seg.state_dict()})
    joint = create_model("joint_cnn", frozen_checkpoint=str(path))
    key = next(iter(seg.net.encoder.state_dict()))
    torch.testing.assert_close(joint.frozen.encoder.state_dict()[key], seg.net.encoder.state_dict()[key])
    assert joint.head.in_features == 2 * 320  # EfficientNet-B0's deepest features, twice


def test_training_a_joint_model_needs_its_frozen_checkpoint(toy_cache, tmp_path):
    from medbench.config import load_study_config
    from medbench.train.run import train_model

    from .conftest import STUDY_YAML

    cfg = load_study_config(STUDY_YAML)

    def unused():
        raise AssertionError("the checks come before any data is read")

    with pytest.raises(ConfigError, match="'joint_swin' needs --frozen-checkpoint \\(the 'swin_unet' run\\)"):
        train_model(cfg, "joint_swin", "paper", unused, toy_cache.parent, tmp_path / "run")
    with pytest.raises(ConfigError, match="'resnet152' has no `requires`"):
        train_model(cfg, "resnet152", "paper", unused, toy_cache.parent, tmp_path / "run",
                    frozen_checkpoint="x.pt")
