"""The CLI: errors in inputs exit with code 2 and a message naming the file."""

from __future__ import annotations

from medbench.cli import main

from .conftest import STUDY_YAML


def test_bad_manifest_exits_2_naming_the_file(tmp_path, capsys):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("hospital,patient_id\n1,P1\n")
    code = main(["ingest", "--config", str(STUDY_YAML), "--manifest", str(manifest),
                 "--out", str(tmp_path / "cache")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{manifest}: manifest lacks required column(s)" in err
    assert not (tmp_path / "cache").exists()


def test_config_typo_exits_2(tmp_path, capsys):
    code = main(["split", "--config", str(STUDY_YAML), "--override", '{"split": {"protocl": "x"}}',
                 "--cache", str(tmp_path), "--out", "x.csv", "--leakage", "y.csv"])
    assert code == 2
    assert "split: Additional properties are not allowed ('protocl'" in capsys.readouterr().err


def test_models_lists_the_registry(capsys):
    assert main(["models"]) == 0
    assert capsys.readouterr().out.split() == [
        "coat_daformer", "deeplabv3plus", "joint_cnn", "joint_swin", "mtl_swin_unet", "pvt_v2_daformer",
        "resnet152", "segformer_daformer", "swin_transformer", "swin_unet", "unet"]


def test_toy_hubmap_writes_both_kaggle_exports(tmp_path, capsys):
    assert main(["toy", "hubmap", "--out", str(tmp_path / "hubmap"),
                 "--params", '{"size": 64, "images_scale": 0.05, "hubmap_per_organ": 1}']) == 0
    for source in ("hpa", "hubmap"):
        assert (tmp_path / "hubmap" / source / "train.csv").is_file()
    assert main(["toy", "hubmap", "--out", str(tmp_path / "x"), "--params", '{"sise": 1}']) == 2
    assert "toy hubmap: unknown parameter(s) ['sise']" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_figure_without_its_config_section_exits_2(tmp_path, capsys):
    study = tmp_path / "study.yaml"
    study.write_text(STUDY_YAML.read_text().split("\nfigures:")[0] + "\n")
    code = main(["figure", "roc", "--config", str(study), "--metrics", "m.json", "--out", "x.png"])
    assert code == 2
    assert f"{study}: no `figures.roc` section" in capsys.readouterr().err
