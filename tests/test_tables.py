"""Result tables: paper rows and columns, our values only where run, Markdown beside the paper."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from medbench.config import load_study_config, model_config
from medbench.report.runs import Run
from medbench.report.tables import (
    build_table,
    interval_table,
    model_labels,
    read_paper_results,
    recipe_budget,
    render_markdown,
    row_budgets,
    table_columns,
)
from medbench.studies import get_study

from .conftest import REPO, STUDY_YAML


@pytest.fixture(scope="module")
def table_cfg():
    return load_study_config(STUDY_YAML)["table"]


@pytest.fixture(scope="module")
def paper(table_cfg):
    return read_paper_results(REPO / table_cfg["paper_results"], list(table_columns(table_cfg)))


def test_paper_table_is_the_papers_table1(paper):
    assert len(paper) == 12
    assert paper.loc["MTL-Swin-Unet(cls+seg+rec)", "h1_4_acc"] == pytest.approx(0.961)
    assert paper.loc["MTL-Swin-Unet(cls+seg+rec)", "h5_11_auc"] == pytest.approx(0.799)
    assert paper.loc["Swin-Unet (Cao et al. 2022)", "iou_seg"] == pytest.approx(0.808)
    assert math.isnan(paper.loc["ResNet152 (He et al. 2015)", "iou_seg"])
    assert paper.loc["ResNet152 (He et al. 2015)", "h1_4_f1"] == pytest.approx(0.692)


RESNET = {"test_h1_4": {"acc": 0.9, "prec": 0.5, "rec": 0.25, "f1": 0.6, "auc": 0.8},
          "test_h5_11": {"acc": 0.7, "prec": 0.2, "rec": 0.1, "f1": 0.5, "auc": 0.6}}
METRICS = {"resnet152": [Run("resnet152", 0, REPO, RESNET)]}


def test_our_table_has_paper_rows_and_only_our_values(table_cfg, paper):
    ours = build_table(table_cfg, METRICS)
    assert list(ours["method"]) == list(paper.index)
    assert list(ours.columns[2:]) == [*table_columns(table_cfg), "fidelity"]
    resnet = ours.set_index("method").loc["ResNet152 (He et al. 2015)"]
    assert resnet["h1_4_auc"] == 0.8 and resnet["h5_11_acc"] == 0.7 and math.isnan(resnet["iou_seg"])
    others = ours[ours["model"] != "resnet152"].drop(columns=["method", "model", "fidelity"])
    assert others.isna().all().all()  # nothing copied from the paper


def test_every_row_says_how_it_was_built_in_csv_and_markdown(table_cfg, paper):
    ours = build_table(table_cfg, METRICS)
    fidelity = ours.set_index("model")["fidelity"]
    assert fidelity["mtl_swin_unet_cls_seg_rec"] == "port of ko-hirata/Swin-Multitask (the authors' code)"
    assert fidelity["joint_swin"].startswith("rebuilt from the paper's §3.2")
    md = render_markdown(table_cfg, ours, paper, "toy", {})
    assert md.startswith(f"# {table_cfg['title']}\n\n{table_cfg['caption']}\n")  # the caption under the title
    assert "| Joint-SwinTransformer † | **" not in md  # not run: no result row, but ...
    assert "| Joint-SwinTransformer † | rebuilt from the paper's §3.2" in md  # ... its build is shown
    assert "| ResNet152 (He et al. 2015) | port of timm resnet152 |" in md


def test_budgets_are_stated_and_a_differing_row_gives_its_reason(table_cfg, paper):
    cfg = load_study_config(STUDY_YAML)
    budgets, notes = row_budgets(table_cfg, lambda model: {None: model_config(cfg, model)})
    assert budgets["ResNet152 (He et al. 2015)"] == "600 epochs × 1 pass, batch 128, SGD lr 0.01"
    assert budgets["Joint-SwinTransformer"].endswith(
        "; from swin_unet (200 epochs × 1 pass, batch 32, SGD lr 0.01)")
    md = render_markdown(table_cfg, build_table(table_cfg, METRICS, budgets), paper, "toy", {},
                         budget_notes=notes)
    assert "row(s) differ: see Rows)" in md
    assert ("| Unet (Ronneberger, Fischer, and Brox 2015) | port of segmentation-models-pytorch Unet "
            "(ResNet34 encoder) | 200 epochs × 1 pass, batch 32, SGD lr 0.01 (differs: §4.3 gives each") in md
    same = {m: "5 epochs × 1 pass, batch 8, AdamW lr 0.001" for m in budgets}
    # a row that starts from another run shares the budget when its own training does
    same["Joint-SwinTransformer"] += "; from swin_unet (5 epochs × 1 pass, batch 8, AdamW lr 0.001)"
    md = render_markdown(table_cfg, build_table(table_cfg, METRICS, same), paper, "toy", {},
                         budget_notes=notes)
    assert "budget of every row `5 epochs × 1 pass, batch 8, AdamW lr 0.001`" in md and "differs" not in md


def test_a_budget_names_the_output_layers_own_rate():
    recipe = {"epochs": 15, "batch_size": 2, "optimizer": {"name": "adamw"}, "lr": 1e-3}
    assert recipe_budget(recipe) == "15 epochs × 1 pass, batch 2, AdamW lr 0.001"
    assert recipe_budget({**recipe, "head_lr_scale": 10}).endswith("AdamW lr 0.001 (output layer ×10)")


def test_markdown_shows_ours_paper_and_difference(table_cfg, paper):
    md = render_markdown(table_cfg, build_table(table_cfg, METRICS), paper, "toy",
                         {"protocol": "paper"})
    assert "**Toy data**" in md and "not comparable" in md
    assert "| ResNet152 (He et al. 2015) | **0.900** / 0.901 (-0.001) |" in md
    assert "· / 0.963" in md  # Swin Transformer: not run here, paper's value shown as the paper's
    assert "Real data" in render_markdown(table_cfg, build_table(table_cfg, METRICS), paper,
                                          "real", {})


def test_markdown_shows_bootstrap_intervals(table_cfg, paper):
    metrics = {"resnet152": [Run("resnet152", 0, REPO, {
        "test_h1_4": {**RESNET["test_h1_4"], "ci": {"acc": [0.85, 0.95]}},
        "test_h5_11": RESNET["test_h5_11"]})]}
    md = render_markdown(table_cfg, build_table(table_cfg, metrics), paper, "toy", {},
                         interval_table(table_cfg, metrics))
    assert "| ResNet152 (He et al. 2015) | **0.900** [0.850, 0.950] / 0.901 (-0.001) |" in md
    assert "**0.700** / 0.822" in md  # no interval computed: none shown


def test_metrics_of_a_model_without_row_are_refused(table_cfg):
    with pytest.raises(Exception, match="have no row"):
        build_table(table_cfg, {"unet_typo": []})


def test_written_csv_round_trips(table_cfg, tmp_path):
    ours = build_table(table_cfg, METRICS)
    ours.to_csv(tmp_path / "t.csv", index=False)
    again = pd.read_csv(tmp_path / "t.csv", keep_default_na=False, na_values=[""])
    assert again.loc[2, "h1_4_auc"] == 0.8


def test_several_seeds_give_mean_and_sd(table_cfg, paper):
    other = {ts: {k: v + 0.1 for k, v in m.items()} for ts, m in RESNET.items()}
    runs = {"resnet152": [Run("resnet152", 0, REPO, RESNET), Run("resnet152", 1, REPO, other)]}
    ours = build_table(table_cfg, runs)
    resnet = ours.set_index("model").loc["resnet152"]
    assert resnet["h1_4_auc"] == pytest.approx(0.85)
    assert resnet["h1_4_auc_sd"] == pytest.approx(0.0707, abs=1e-4)  # sample sd of .8 and .9
    assert resnet["seeds"] == 2
    md = render_markdown(table_cfg, ours, paper, "toy", {}, interval_table(table_cfg, runs))
    assert "| ResNet152 (He et al. 2015) | **0.950 ± 0.071** / 0.901 (+0.049) |" in md


def test_markdown_ends_with_the_studys_own_sections(table_cfg, paper, tmp_path):
    """brain_ct adds the split's patient leakage of the table's protocol (leakage.csv)."""
    pd.DataFrame([{"protocol": protocol, "test_set": "test_h1_4", "test_slices": 80, "test_patients": 36,
                   "patients_shared_with_train": shared, "patients_shared_with_val": 0,
                   "slices_of_shared_patients": 2 * shared}
                  for protocol, shared in (("paper", 36), ("patient_disjoint", 0))]
                 ).to_csv(tmp_path / "leakage.csv", index=False)
    extra = get_study("brain_ct").table_sections({}, tmp_path, "paper")
    md = render_markdown(table_cfg, build_table(table_cfg, METRICS), paper, "toy", {}, extra=extra)
    assert md.endswith("\n".join(extra))
    assert "## Patient leakage of this split" in md and "| test_h1_4 | 80 | 36 | 36 | 72 |" in md
    assert "| 0 | 0 |" not in md  # the other protocol's row is not this table's


HUBMAP_YAML = REPO / "config" / "studies" / "hubmap.yaml"


def test_hubmap_paper_table_is_the_papers_table2():
    table_cfg = load_study_config(HUBMAP_YAML)["table"]
    paper = read_paper_results(REPO / table_cfg["paper_results"], list(table_columns(table_cfg)))
    assert len(paper) == 10
    assert paper.loc["CoaT [Priv] HuBMAP", "switched"] == pytest.approx(0.77805)
    assert paper.loc["Resnet101 DLv3+ [Pub] HuBMAP+ HPA", "normal"] == pytest.approx(0.60265)
    rows = {r["method"] for r in table_cfg["rows"]}
    assert set(paper.index) <= rows  # every paper row has a row of ours


def test_hubmap_cells_take_one_model_per_loss_and_the_rows_test_set(tmp_path):
    table_cfg = load_study_config(HUBMAP_YAML)["table"]
    normal = {"test_pub": {"dice": 0.7}, "test_priv": {"dice": 0.6}}
    switched = {"test_pub": {"dice": 0.8, "ci": {"dice": [0.7, 0.9]}}, "test_priv": {"dice": 0.65}}
    runs = {"coat_normal": [Run("coat_normal", 0, tmp_path, normal)],
            "coat_switched": [Run("coat_switched", 0, tmp_path, switched)]}
    table = build_table(table_cfg, runs).set_index("method")
    assert table.loc["CoaT [Pub] HuBMAP+ HPA", "normal"] == 0.7
    assert table.loc["CoaT [Pub] HuBMAP+ HPA", "switched"] == 0.8
    assert table.loc["CoaT [Priv] HuBMAP", "switched"] == 0.65
    assert math.isnan(table.loc["CoaT [Pub] HuBMAP+ HPA", "aux"])  # not run: empty, never the paper's
    assert math.isnan(table.loc["PVTv2 [Pub] HuBMAP+ HPA", "normal"])
    intervals = interval_table(table_cfg, runs).set_index("method")
    assert intervals.loc["CoaT [Pub] HuBMAP+ HPA", "switched"] == "[0.700, 0.900]"
    assert intervals.loc["CoaT [Pub] HuBMAP+ HPA", "normal"] == ""


def test_hubmap_figure_labels_name_model_and_loss():
    labels = model_labels(load_study_config(HUBMAP_YAML)["table"])
    assert labels["coat_switched"] == "CoaT · Switched Aux Loss"
    assert labels["enet_b5_dlv3p_normal"] == "Enet-b5 DLv3+ · Normal"
    assert len(labels) == 21
