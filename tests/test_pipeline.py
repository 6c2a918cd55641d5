"""End to end through Snakemake on the smoke config: tables, claims, figures, report, bad input,
kill + resume."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from .conftest import snakemake

pytestmark = pytest.mark.slow


def test_toy_pipeline_fills_the_implemented_rows(workdir):
    table = pd.read_csv(workdir / "results" / "table1.csv").set_index("model")
    paper = pd.read_csv(workdir / "config" / "paper_results" / "table1.csv")
    # the paper's columns in its order, then how each row was built and trained
    assert list(table.columns) == [*paper.columns, "fidelity", "budget"]
    assert table.loc["joint_swin", "fidelity"].startswith("rebuilt from")
    assert len(table) == 12
    assert 0 <= table.loc["swin_unet", "iou_seg"] <= 1
    for model in ("resnet152", "swin_transformer", "joint_swin", "mtl_swin_unet_cls_seg_rec"):
        row = table.loc[model]
        assert row[["h1_4_acc", "h1_4_auc", "h5_11_acc", "h5_11_auc"]].between(0, 1).all()
    run = workdir / "runs/brain_ct/paper/seed0/mtl_swin_unet_cls_seg_rec"
    mtl = json.loads((run / "metrics.json").read_text())
    for metric in ("auc", "acc", "iou"):
        low, high = mtl["test_h1_4"]["ci"][metric]
        assert low <= mtl["test_h1_4"][metric] <= high
    md = (workdir / "results" / "table1.md").read_text()
    assert "**Toy data**" in md and "MTL-Swin-Unet(cls+seg+rec)" in md
    assert "## Paired test: auc against Swin Transformer" in md
    assert re.search(r"\| Joint-SwinTransformer \| [+-]\d\.\d{3} \[", md)
    # the paper's slice-level split: every Hospital 1-4 test patient also trains
    leak = re.search(r"\| test_h1_4 \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|", md)
    assert leak and leak.group(2) == leak.group(3) and leak.group(1) == leak.group(4)
    leakage = pd.read_csv(workdir / "data" / "interim" / "brain_ct" / "leakage.csv")
    assert set(leakage["protocol"]) == {"paper", "patient_disjoint"}


def test_patient_disjoint_table_from_the_same_rules(workdir):
    run = snakemake(workdir, "results/table1_patient_disjoint.csv")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = pd.read_csv(workdir / "results" / "table1_patient_disjoint.csv").set_index("model")
    assert 0 <= table.loc["resnet152", "h1_4_auc"] <= 1
    assert (workdir / "runs/brain_ct/patient_disjoint/seed0/swin_unet/model.pt").exists()
    md = (workdir / "results/table1_patient_disjoint.md").read_text()
    assert "protocol `patient_disjoint`" in md
    assert re.search(r"## Patient leakage of this split\n(.*\n)*\| test_h1_4 \| \d+ \| \d+ \| 0 \| 0 \|", md)


def test_claims_are_checked_on_the_run_and_on_the_papers_table(workdir):
    claims = (workdir / "results" / "table1_claims.md").read_text()
    rows = [line for line in claims.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) == 18  # every claim of the study YAML
    # run here: MTL (cls+seg+rec) vs Joint-Swin F1 gets a verdict with a paired interval
    verdict = r"\*\*(holds|does not hold|contradicted)"
    assert re.search(r"\| 3 \| .*\| yes \| .* \(joint_swin\) \| [+-]\d\.\d{3} \[.*" + verdict, claims)
    assert "not run (mtl_swin_unet_cls_rec)" in claims  # not in the smoke run: said so
    # the paper's own table contradicts its "no change vs cls+rec" sentence (0.967 vs 0.955)
    assert "| no (0.967 vs 0.955) |" in claims


def test_figures_are_drawn_from_the_runs(workdir):
    figures = workdir / "results" / "figures" / "table1"
    for name in ("gradcam", "roc", "overlays", "curves"):
        assert (figures / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    cam = pd.read_csv(figures / "gradcam.csv")
    assert set(cam["panel"]) == {"a", "b"}
    assert cam["energy_in_mask"].between(0, 1).all() and (cam["mask_area_fraction"] > 0).all()


def test_hubmap_table_fills_the_cells_of_the_models_run(workdir):
    table = pd.read_csv(workdir / "results" / "table2.csv").set_index("method")
    assert len(table) == 14  # the paper's 10 rows + our CNN rows on the private set
    assert table.loc["Enet-b5 Unet [Pub] HuBMAP+ HPA", "normal"] >= 0
    assert table.loc["CoaT [Priv] HuBMAP", "aux"] >= 0
    assert table.loc["Segformer [Pub] HuBMAP+ HPA", "switched"] >= 0
    assert table[["normal", "aux", "switched"]].notna().sum().sum() == 6  # 3 models x 2 sets
    run = workdir / "runs/hubmap/paper/seed0/segformer_switched"
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"dice_hpa", "dice_hubmap", "dice_kidney"} <= set(metrics["test_pub"])
    low, high = metrics["test_pub"]["ci"]["dice"]
    assert low <= metrics["test_pub"]["dice"] <= high
    curves = pd.read_csv(run / "metrics.csv")  # the switched head: level 1, then level 0
    assert {"train_seg_loss", "train_aux_loss", "val_dice"} <= set(curves.columns)
    md = (workdir / "results" / "table2.md").read_text()
    assert "**Toy data**" in md and "/ 0.770 (" in md  # CoaT aux, public: the paper's value beside ours
    claims = (workdir / "results" / "table2_claims.md").read_text()
    assert len([line for line in claims.splitlines() if re.match(r"\| \d+ \|", line)]) == 23
    assert "| no (0.757 vs 0.743) |" in claims  # "aux decreases Dice" vs the paper's own PVTv2 row


def test_stain_normalisation_runs_once_per_image_not_per_model(workdir):
    splits = pd.read_csv(workdir / "data/interim/hubmap/splits.csv")
    run = snakemake(workdir, "-n", "--forcerun", "hubmap_stain_target", "results/table2.csv")
    assert run.returncode == 0, run.stderr[-2000:]
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", run.stdout, flags=re.MULTILINE))
    assert stats["hubmap_preprocess"] == str(len(splits))  # one job per image ...
    assert stats["train"] == "3"                             # ... feeding every model


def test_hubmap_figures_are_drawn(workdir):
    figures = workdir / "results" / "figures" / "table2"
    for name in ("organs", "stain", "masks", "curves"):
        assert (figures / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_malformed_rle_stops_the_hubmap_run_naming_the_id(workdir, tmp_path):
    work = tmp_path / "bad_rle"
    shutil.copytree(workdir, work, ignore=shutil.ignore_patterns("results", "runs", "interim", ".snakemake"))
    csv = work / "data" / "raw" / "hubmap" / "hpa" / "train.csv"
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    bad_id = table.loc[3, "id"]
    table.loc[3, "rle"] = "5 3 4"  # odd number of tokens
    table.to_csv(csv, index=False)
    (work / "data" / "raw" / "hubmap" / "hpa" / "train_images" / f"{table.loc[5, 'id']}.tiff").unlink()

    run = snakemake(work, "results/table2.csv")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"id {bad_id}:" in output and f"id {table.loc[5, 'id']}:" in output and "not found" in output
    assert not (work / "data" / "interim" / "hubmap" / "splits.csv").exists()
    assert not (work / "results" / "table2.csv").exists()


def test_bus_tables_are_the_mean_of_five_folds(workdir):
    table3 = pd.read_csv(workdir / "results" / "table3.csv").set_index("model")
    table4 = pd.read_csv(workdir / "results" / "table4.csv").set_index("model")
    assert len(table3) == 10 and len(table4) == 4
    hybrid = table3.loc["hybrid_mt_estan"]
    assert hybrid[["acc", "sens", "spec", "f1", "auc", "fnr", "fpr", "dsc", "ji", "auc_prob"]].notna().all()
    assert 0 <= hybrid["acc"] <= 100 and 0 <= hybrid["f1"] <= 1  # percent, F1 a fraction (as printed)
    assert hybrid["auc"] == pytest.approx((hybrid["sens"] + hybrid["spec"]) / 2, abs=0.05)
    assert pd.isna(table3.loc["mobilenet", "dsc"])  # single-task
    assert table4.loc["hybrid_mt_estan", "acc"] == hybrid["acc"]  # the same runs
    metrics = json.loads((workdir / "runs/bus/paper/seed0/hybrid_mt_estan/metrics.json").read_text())
    assert len(metrics["test"]["folds"]) == 5
    predictions = pd.read_csv(workdir / "runs/bus/paper/seed0/hybrid_mt_estan/predictions/test.csv")
    index = pd.read_csv(workdir / "data/interim/bus/images/index.csv")
    assert sorted(predictions["sample_id"]) == sorted(index["sample_id"])  # every image tested once
    leakage = pd.read_csv(workdir / "data/interim/bus/leakage.csv")
    assert (leakage[["groups_in_two_roles", "case_ids_in_two_roles"]] == 0).all().all()
    claims = (workdir / "results" / "table4_claims.md").read_text()
    assert "## The paper's table checked against itself" in claims and "(0.83 = 0.83)" in claims
    for name in ("overlays", "roc_folds", "curves"):
        assert (workdir / "results/figures/table3" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_swinfuse_table_fills_every_cell_of_the_rows_run(workdir):
    table = pd.read_csv(workdir / "results" / "table5.csv").set_index("model")
    assert len(table) == 5
    run = table.loc[["scratch", "ssl_ct", "swinfuse"]]
    columns = ["brats21_tc", "brats21_wt", "brats21_et", "brats21_mean", "msd01_wt", "msd10_dice",
               "brats21_mean_bestval", "msd01_wt_bestval", "msd10_dice_bestval"]
    assert run[columns].notna().all().all() and ((run[columns] >= 0) & (run[columns] <= 100)).all().all()
    assert table.loc["ssl_mr", columns].isna().all()  # not in the smoke run: an empty row
    markdown = (workdir / "results" / "table5.md").read_text()
    assert "| SwinFUSE (CT+MR, DIM) | CT+MR | ID | ID | ID |" in markdown  # in- or out-of-distribution
    assert "| Swin UNETR + CT SSL | CT | OOD | OOD | ID |" in markdown
    leakage = pd.read_csv(workdir / "data/interim/swinfuse/pretrain_leakage.csv").set_index("protocol")
    assert leakage.loc["ours: by patient", "val_patients_with_a_training_volume"] == 0
    claims = (workdir / "results" / "table5_claims.md").read_text()
    assert "relative" in claims and "not run (ssl_mr)" in claims
    history = pd.read_csv(workdir / "runs/swinfuse/paper/seed0/pretrain_fuse/metrics.csv")
    terms = {"train_rot_loss", "train_contrast_loss", "train_rec_loss", "train_jsd_loss", "val_rec"}
    assert terms <= set(history)
    for name in ("pretrain_curves", "overlays", "id_ood", "curves"):
        assert (workdir / "results/figures/table5" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_holds_the_table_and_every_figure(workdir):
    run = snakemake(workdir, "--report", "results/report.html")
    assert run.returncode == 0, run.stderr[-2000:]
    html = (workdir / "results" / "report.html").read_text(errors="replace")
    for name in ("table1.csv", "table1.html", "table1_claims.html", "gradcam.png", "roc.png", "overlays.png",
                 "curves.png", "Grad-CAM of MTL-Swin-Unet", "table2.csv", "organs.png", "stain.png",
                 "masks.png", "Vahadane", "table3.csv", "roc_folds.png", "table5.csv",
                 "pretrain_curves.png", "id_ood.png"):
        assert name in html, name


def test_second_run_has_nothing_to_do(workdir):
    run = snakemake(workdir, "-n")
    assert run.returncode == 0 and "Nothing to be done" in run.stdout + run.stderr


def test_a_config_edit_reruns_exactly_the_steps_it_concerns(workdir):
    (workdir / "edit.yaml").write_text("brain_ct:\n  overrides:\n    models:\n"
                                       "      resnet152: {epochs: 2}\n")
    run = snakemake(workdir, "-n", "results/table1.csv", configs=("edit.yaml",))
    assert run.returncode == 0, run.stderr[-2000:]
    stats = re.findall(r"^(\w+)\s+(\d+)$", run.stdout, flags=re.MULTILINE)
    assert dict(stats) == {"train": "1", "predict": "1", "evaluate": "1", "table": "1",
                           "total": "4"}, run.stdout[-2000:]
    assert "model=resnet152" in run.stdout


def test_several_seeds_train_every_model_once_per_seed(workdir):
    (workdir / "seeds.yaml").write_text("brain_ct:\n  seeds: [0, 1]\n")
    run = snakemake(workdir, "-n", configs=("seeds.yaml",))
    assert run.returncode == 0, run.stderr[-2000:]
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", run.stdout, flags=re.MULTILINE))
    # seed 0 exists already: seed 1 trains all six smoke models, the reports are redrawn
    assert stats["train"] == "6" and stats["table"] == "1"
    assert "runs/brain_ct/paper/seed1/joint_swin/model.pt" in run.stdout
    assert '"seed": 1' in run.stdout  # the training seed reaches the train rule's config


def test_unknown_model_in_run_config_fails_before_any_job(workdir):
    (workdir / "typo.yaml").write_text("brain_ct:\n  models: [swin_unte]\n")
    run = snakemake(workdir, "-n", "results/table1.csv", configs=("typo.yaml",))
    assert run.returncode != 0
    assert "brain_ct.models lists ['swin_unte'], which are no rows of table1" in run.stdout + run.stderr


def test_paper_config_plans_the_published_protocol_on_real_data(workdir):
    """config/paper.yaml + a manifest of a (here: toy) export: no generator, paper budgets."""
    (workdir / "real.yaml").write_text(
        "brain_ct:\n  raw: {manifest: data/raw/brain_ct/manifest.csv}\n")
    cmd = [sys.executable, "-m", "snakemake", "-n", "--forceall", "results/table1.csv",
           "--configfile", "config/paper.yaml", "real.yaml"]
    run = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "brain_ct_toy" not in run.stdout
    assert '"image_size": 224' in run.stdout and '"epochs": 600' in run.stdout
    assert '"test_fraction": 0.1' in run.stdout and "--data-kind real" in run.stdout


def test_truncated_dicom_stops_the_run_and_no_table_is_written(workdir, tmp_path):
    work = tmp_path / "bad"
    shutil.copytree(workdir, work, ignore=shutil.ignore_patterns("results", "runs", ".snakemake"))
    raw = work / "data" / "raw" / "brain_ct"
    manifest = pd.read_csv(raw / "manifest.csv", dtype=str, keep_default_na=False)
    good = raw / manifest.loc[0, "dicom"]
    bad = good.with_name("slice_truncated.dcm")
    bad.write_bytes(good.read_bytes()[:3000])
    extra = manifest.iloc[[0]].assign(dicom=str(bad.relative_to(raw)))
    pd.concat([manifest, extra]).to_csv(raw / "manifest.csv", index=False)

    run = snakemake(work, "results/table1.csv")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "slice_truncated.dcm: pixel data unreadable or truncated" in output
    assert not (work / "results" / "table1.csv").exists()
    assert not (work / "data" / "interim" / "brain_ct" / "slices" / "images.npy").exists()


def test_killed_training_resumes_from_its_last_checkpoint(workdir, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "medbench.cli", "--threads", "1", "train",
           "--config", "config/studies/brain_ct.yaml", "--override",
           '{"data": {"image_size": 32}, "training": {"pretrained": false}, "models": '
           '{"mtl_swin_unet_cls_seg_rec": {"batch_size": 4, "epochs": 3, '
           '"model_args": {"window_size": 2, "embed_dim": 24}}}}',
           "--model", "mtl_swin_unet_cls_seg_rec", "--data", "data/interim/brain_ct", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    last = out / "checkpoints" / "last.pt"
    deadline = time.time() + 300
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # mid-epoch 2: only epoch 1 is checkpointed
    proc.wait()
    assert not (out / "model.pt").exists()

    rerun = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resuming from" in rerun.stderr and "after epoch 1" in rerun.stderr
    assert "epoch 1/3 {" not in rerun.stderr  # epoch 1 was not trained again
    assert list(pd.read_csv(out / "metrics.csv")["epoch"]) == [1, 2, 3]
    assert (out / "model.pt").exists()
