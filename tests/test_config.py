"""Study configs: the paper's values are there, overrides merge, typos are errors."""

from __future__ import annotations

import json

import pytest
import yaml

from medbench.config import deep_merge, load_run_study, load_study_config, model_config
from medbench.errors import ConfigError

from .conftest import REPO, STUDY_YAML


def test_papers_hyperparameters_are_in_the_study_yaml():
    cfg = load_study_config(STUDY_YAML)
    assert cfg["data"]["image_size"] == 224
    assert cfg["split"]["test_fraction"] == 0.1 and cfg["split"]["val_fraction"] == 0.2
    resnet = model_config(cfg, "resnet152")
    assert (resnet["batch_size"], resnet["lr"], resnet["epochs"]) == (128, 0.01, 600)
    swin = model_config(cfg, "swin_unet")
    assert (swin["batch_size"], swin["lr"], swin["epochs"]) == (32, 0.01, 200)
    assert swin["model_args"]["depths"] == [2, 2, 2, 2] and swin["model_args"]["window_size"] == 7
    mtl = model_config(cfg, "mtl_swin_unet_cls_seg_rec")
    assert (mtl["batch_size"], mtl["lr"], mtl["epochs"]) == (64, 0.01, 600)
    assert mtl["loss"]["weights"] == {"cls": 0.3, "seg": 0.4, "rec": 0.4}
    assert mtl["loss"]["seg"] == {"ce_weight": 0.4, "dice_weight": 0.6}
    assert mtl["optimizer"] == {"name": "sgd", "momentum": 0.9, "weight_decay": 1.0e-4}
    assert mtl["schedule"] == {"name": "poly", "power": 0.9} and mtl["pretrained"] is True


def test_overrides_merge_deeply():
    merged = deep_merge({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": 5}, "d": [2]})
    assert merged == {"a": {"b": 5, "c": 2}, "d": [2]}
    sgd = {"optimizer": {"name": "sgd", "momentum": 0.9, "weight_decay": 1e-4}}
    assert deep_merge(sgd, {"optimizer": {"weight_decay": 0.0}})["optimizer"]["momentum"] == 0.9
    adamw = deep_merge(sgd, {"optimizer": {"name": "adamw", "weight_decay": 0.05}})
    assert adamw["optimizer"] == {"name": "adamw", "weight_decay": 0.05}  # no SGD momentum left
    cfg = load_study_config(STUDY_YAML, json.dumps({"models": {"swin_unet": {"epochs": 3}}}))
    assert cfg["models"]["swin_unet"]["epochs"] == 3 and cfg["models"]["swin_unet"]["lr"] == 0.01


@pytest.mark.parametrize("override, message", [
    ({"models": {"swin_unte": {"epochs": 3}}}, "models the study does not define: \\['swin_unte'\\]"),
    ({"models": {"swin_unet": {"epoch": 3}}}, "models.swin_unet: Additional properties.*'epoch'"),
    ({"data": {"image_size": "big"}}, "data.image_size: 'big' is not of type 'integer'"),
    ({"training": {"optimizer": {"name": "lamb"}}}, "training.optimizer.name: 'lamb' is not one of"),
])
def test_typos_are_reported_with_their_path(override, message):
    with pytest.raises(ConfigError, match=message):
        load_study_config(STUDY_YAML, override)


def test_run_configs_select_toy_and_paper():
    toy = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    assert toy["data_kind"] == "toy" and paper["data_kind"] == "real"
    assert paper["brain_ct"]["overrides"] is None  # the published protocol, unmodified
    load_study_config(STUDY_YAML, toy["brain_ct"]["overrides"])  # the toy budget is valid


@pytest.mark.parametrize("change, message", [
    ({"study_config": "config/studies/bus.yaml"},
     "section brain_ct loads config/studies/bus.yaml, the config of study bus"),
    ({"protocols": ["paper", "hospitals"]}, "brain_ct.protocols lists \\['hospitals'\\]"),
    ({"models": ["unet", "unet3d"]}, "brain_ct.models lists \\['unet3d'\\], which are no rows of table1"),
])
def test_a_run_section_must_match_its_study(change, message, monkeypatch):
    monkeypatch.chdir(REPO)
    run = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["brain_ct"]
    assert load_run_study("brain_ct", run)["study"] == "brain_ct"
    with pytest.raises(ConfigError, match=message):
        load_run_study("brain_ct", {**run, **change})
