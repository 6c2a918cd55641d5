"""Runs loader, paired tests in the table, and the paper's claims checked on runs."""

from __future__ import annotations

import pytest

from medbench.config import load_study_config
from medbench.errors import ConfigError, DataError
from medbench.report.claims import check_claims, render_claims
from medbench.report.runs import aligned_probabilities, load_runs
from medbench.report.tables import paired_tests, read_paper_results, table_columns

from .conftest import REPO, STUDY_YAML
from .report_fixtures import write_run


@pytest.fixture(scope="module")
def cfg():
    return load_study_config(STUDY_YAML)


@pytest.fixture(scope="module")
def paper(cfg):
    return read_paper_results(REPO / cfg["table"]["paper_results"], list(table_columns(cfg["table"])))


@pytest.fixture()
def runs(tmp_path):
    """Swin Transformer weak, Joint-Swin strong (2 seeds), MTL cls+seg+rec in between."""
    paths = [write_run(tmp_path, "swin_transformer", 0, 0.3),
             write_run(tmp_path, "joint_swin", 0, 3.0), write_run(tmp_path, "joint_swin", 1, 3.0),
             write_run(tmp_path, "mtl_swin_unet_cls_seg_rec", 0, 1.5, seg=True),
             write_run(tmp_path, "swin_unet", 0, None, seg=True)]
    return load_runs(paths)


def test_runs_are_grouped_by_model_and_sorted_by_seed(runs, tmp_path):
    assert [r.seed for r in runs["joint_swin"]] == [0, 1]
    labels, a, b = aligned_probabilities(runs["joint_swin"], runs["swin_transformer"], "test_h1_4")
    assert a.shape == (2, len(labels)) and b.shape == (1, len(labels))
    with pytest.raises(DataError, match="seed<N>"):
        load_runs([tmp_path / "seed0" / "swin_unet" / "metrics.json", tmp_path / "metrics.json"])


def test_misaligned_predictions_are_refused(runs):
    table = runs["swin_transformer"][0].predictions("test_h1_4")
    table.iloc[:-1].to_csv(runs["swin_transformer"][0].directory / "predictions" / "test_h1_4.csv",
                           index=False)
    with pytest.raises(DataError, match="different test_h1_4 samples"):
        aligned_probabilities(runs["joint_swin"], runs["swin_transformer"], "test_h1_4")


def test_paired_tests_against_the_baseline(cfg, runs):
    tests = paired_tests(cfg["table"], runs, n_boot=300, seed=0).set_index(["method", "test_set"])
    joint = tests.loc[("Joint-SwinTransformer", "test_h1_4")]
    assert joint["diff"] > 0 and joint["low"] > 0 and joint["p"] < 0.05
    methods = {m for m, _ in tests.index}
    assert "Swin-Unet (Cao et al. 2022)" not in methods  # segmentation only: no AUC
    assert "Swin Transformer (Liu et al. 2021)" not in methods  # the baseline itself


def _claim(kind, models, metric="test_h5_11.auc"):
    return {"claim": f"{kind} {models}", "source": "test", "kind": kind, "models": models,
            "metric": metric}


def test_claims_are_judged_by_paired_intervals(cfg, runs, paper):
    claims = [_claim("best", ["joint_swin"], "test_h1_4.auc"),
              _claim("greater", ["swin_transformer", "joint_swin"]),
              _claim("less", ["swin_transformer", "joint_swin"]),
              _claim("equal", ["joint_swin", "joint_swin"]),
              _claim("greater", ["mtl_swin_unet_cls_rec", "swin_transformer"])]
    checked = check_claims(claims, cfg["table"], runs, paper, n_boot=300, seed=0)
    assert list(checked["verdict"]) == [
        "holds (significant)", "contradicted (significant)", "holds (significant)",
        "consistent (difference interval includes 0)", "not run (mtl_swin_unet_cls_rec)"]
    assert checked.loc[0, "versus"] == "mtl_swin_unet_cls_seg_rec"  # the strongest other classifier
    assert checked.loc[1, "intervals"] == "disjoint"
    # the paper's own table: Joint-Swin's H1-4 AUC .974 is the highest; .772 < .787 on H5-11
    assert list(checked["paper"][:3]) == ["yes", "no (0.772 vs 0.787)", "yes"]
    md = render_claims(checked, "Table 1", "toy", {"protocol": "paper"})
    assert "| 5 | greater ['mtl_swin_unet_cls_rec', 'swin_transformer'] (test) |" in md
    assert "3 of 5 claims hold" in md and "2 with a paired interval excluding 0" in md


def test_every_claim_of_the_paper_matches_the_papers_table_but_one(cfg, paper):
    """The encoded claims agree with the paper's own Table 1, except the sentence that names
    cls+rec where the numbers are cls+seg's (see the YAML comment)."""
    checked = check_claims(cfg["claims"], cfg["table"], {}, paper, n_boot=10, seed=0)
    mismatched = checked[checked["paper"] != "yes"]
    assert list(mismatched["claim"]) == [
        "MTL-Swin-Unet (cls+seg+rec) showed no change in AUC on Hospital 1-4 compared to "
        "MTL-Swin-Unet (cls+rec)"]
    assert all(checked["verdict"].str.startswith("not run"))


def test_claims_on_pooled_metrics_are_config_errors(cfg, runs, paper):
    """Pooled IoU has no per-slice score to resample in pairs: not a claim metric."""
    with pytest.raises(ConfigError, match="test_h1_4.iou is not a comparable column of table1"):
        check_claims([_claim("greater", ["swin_unet", "unet"], "test_h1_4.iou")], cfg["table"],
                     runs, paper, n_boot=10, seed=0)


def _dice_run(root, model: str, dice: list[float]):
    """A hubmap run: the same Dice per image on both evaluation sets."""
    import json

    import pandas as pd

    run = root / "seed0" / model
    (run / "predictions").mkdir(parents=True)
    ids = [str(1000 + i) for i in range(len(dice))]
    for test_set in ("test_pub", "test_priv"):
        pd.DataFrame({"id": ids, "organ": "kidney", "data_source": "HPA", "threshold": 0.5,
                      "dice": dice}).to_csv(run / "predictions" / f"{test_set}.csv", index=False)
    metrics = {test_set: {"dice": sum(dice) / len(dice)} for test_set in ("test_pub", "test_priv")}
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run / "metrics.json"


def test_hubmap_claims_compare_dice_per_image_and_check_the_papers_table(tmp_path):
    cfg = load_study_config(REPO / "config" / "studies" / "hubmap.yaml")
    table_cfg = cfg["table"]
    paper = read_paper_results(REPO / table_cfg["paper_results"], list(table_columns(table_cfg)))
    runs = load_runs([_dice_run(tmp_path, "pvtv2_normal", [0.6] * 30),
                      _dice_run(tmp_path, "pvtv2_aux", [0.5] * 30),
                      _dice_run(tmp_path, "pvtv2_switched", [0.6 + 0.01 * (i % 3) for i in range(30)])])
    checked = check_claims(cfg["claims"], table_cfg, runs, paper, n_boot=200, seed=0).set_index("claim")
    aux = checked.loc["Single auxiliary loss decreases Dice: PVTv2, public"]
    # the paper's own Table 2 says the opposite: 0.75728 (aux) > 0.74261 (normal)
    assert aux["paper"] == "no (0.757 vs 0.743)"
    assert aux["verdict"] == "holds (significant)" and aux["diff"] == pytest.approx(-0.1)
    switched = checked.loc["Switched > normal: PVTv2, public"]
    assert switched["paper"] == "yes" and switched["verdict"] == "holds (significant)"
    assert checked.loc["CoaT (switched auxiliary loss) performed best, 0.778 on the private set",
                       "paper"] == "yes"
    assert checked.loc["Switched > normal: CoaT, public", "verdict"].startswith("not run")
