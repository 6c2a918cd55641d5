"""The CLI: errors in inputs exit with code 2 and a message naming the file."""

from __future__ import annotations

import json

import pytest

from medbench.cli import main

from .conftest import STUDY_YAML


def test_bad_manifest_exits_2_naming_the_file(tmp_path, capsys):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("hospital,patient_id\n1,P1\n")
    code = main(["prepare", "ingest", "--config", str(STUDY_YAML), "--override",
                 json.dumps({"raw": {"manifest": str(manifest)}}), "--data", str(tmp_path / "data")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{manifest}: manifest lacks required column(s)" in err
    assert not (tmp_path / "data").exists()


def test_study_steps_and_figures_are_the_studys_own(tmp_path, capsys):
    assert main(["prepare", "stain-target", "--config", str(STUDY_YAML), "--data", str(tmp_path)]) == 2
    assert "study brain_ct has no step 'stain-target'; its steps: ['ingest']" in capsys.readouterr().err
    assert main(["prepare", "ingest", "--config", str(STUDY_YAML), "--data", str(tmp_path)]) == 2
    assert "no raw.manifest" in capsys.readouterr().err
    assert main(["figure", "masks", "--config", str(STUDY_YAML), "--out", "x.png"]) == 2
    assert "no `figures.masks` section" in capsys.readouterr().err


def test_help_lists_every_registered_studys_steps_and_figures(capsys):
    from medbench.studies import get_study, list_studies

    for verb, what in (("prepare", "steps"), ("figure", "figures")):
        with pytest.raises(SystemExit):
            main([verb, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for name in list_studies():
            assert f"{name}: {', '.join(getattr(get_study(name), what)())}" in text, (verb, name)


def test_config_typo_exits_2(tmp_path, capsys):
    code = main(["split", "--config", str(STUDY_YAML), "--override", '{"split": {"protocl": "x"}}',
                 "--data", str(tmp_path)])
    assert code == 2
    assert "split: Additional properties are not allowed ('protocl'" in capsys.readouterr().err


def test_models_lists_the_registry(capsys):
    assert main(["models"]) == 0
    assert capsys.readouterr().out.split() == [
        "busbench_densenet121", "busbench_mobilenet", "busbench_swin", "busbench_vit", "chowdary",
        "coat_daformer", "deeplabv3plus", "emt_net", "hybrid_mt_estan", "joint_cnn", "joint_swin",
        "mt_estan", "mt_estan_swin", "mtl_swin_unet", "pvt_v2_daformer", "resnet152",
        "segformer_daformer", "sha_mtl", "swin_ssl", "swin_transformer", "swin_unet", "swin_unetr",
        "unet", "vgga_vit"]


def test_toy_hubmap_writes_both_kaggle_exports(tmp_path, capsys):
    assert main(["toy", "hubmap", "--out", str(tmp_path / "hubmap"),
                 "--params", '{"size": 64, "images_scale": 0.05, "hubmap_per_organ": 1}']) == 0
    for source in ("hpa", "hubmap"):
        assert (tmp_path / "hubmap" / source / "train.csv").is_file()
    assert main(["toy", "hubmap", "--out", str(tmp_path / "x"), "--params", '{"sise": 1}']) == 2
    assert "toy hubmap: unknown parameter(s) ['sise']" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["toy", "hubmapp", "--out", str(tmp_path / "x")]) == 2
    assert "unknown study 'hubmapp': no module medbench.studies.hubmapp" in capsys.readouterr().err


def test_figure_without_its_config_section_exits_2(tmp_path, capsys):
    study = tmp_path / "study.yaml"
    study.write_text(STUDY_YAML.read_text().split("\nfigures:")[0] + "\n")
    code = main(["figure", "roc", "--config", str(study), "--metrics", "m.json", "--out", "x.png"])
    assert code == 2
    assert f"{study}: no `figures.roc` section" in capsys.readouterr().err
