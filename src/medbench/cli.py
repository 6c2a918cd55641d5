"""`medbench <verb>`: every pipeline step, called by Snakemake rules or by hand.

    medbench toy brain_ct|hubmap --out data/raw/<study> [--params JSON]
    medbench ingest   --config STUDY.yaml --manifest CSV --out CACHE_DIR
    medbench split    --config STUDY.yaml --cache CACHE_DIR --out splits.csv --leakage leakage.csv
    medbench split    --config hubmap.yaml --training-export DIR --evaluation-export DIR --out splits.csv
    medbench stain-target --config hubmap.yaml --splits CSV --training-export ... --out target.npz
    medbench preprocess   --config hubmap.yaml --splits CSV --source S --id ID ... --out CACHE/S/ID.npz
    medbench train    --config STUDY.yaml --model NAME --cache DIR --splits CSV --out RUN_DIR
    medbench predict  --config STUDY.yaml --model-file RUN_DIR/model.pt ... --out PRED_DIR
    medbench evaluate --predictions PRED_DIR --out metrics.json
    medbench table    --config STUDY.yaml --metrics RUN/metrics.json ... --csv OUT.csv --md OUT.md
    medbench claims   --config STUDY.yaml --metrics RUN/metrics.json ... --out claims.md
    medbench figure   <gradcam|roc|overlays|curves|organs|stain|masks> --config STUDY.yaml ... --out FIG.png
    medbench models   (lists the registered architectures)

`--override JSON` (any verb taking --config) deep-merges a run's budget into the study YAML.
Errors in inputs end the command with a message naming the file and problem (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from medbench.config import load_study_config
from medbench.errors import ConfigError, MedbenchError
from medbench.fileio import write_csv, write_json, write_text

log = logging.getLogger("medbench")


def _cmd_toy(args) -> None:
    params = json.loads(args.params or "{}")
    if args.study == "brain_ct":
        from medbench.data.toy.brain_ct import ToyBrainCTConfig, generate

        generate(args.out, ToyBrainCTConfig.from_dict(params))
    else:
        from medbench.data.toy.hubmap import ToyHubmapConfig, generate

        generate(args.out, ToyHubmapConfig.from_dict(params))


def _cmd_ingest(args) -> None:
    from medbench.data.brain_ct import ingest

    cfg = _study(args)
    ingest(args.manifest, args.out, cfg["data"]["image_size"], cfg["data"]["window"])


def _exports(args) -> dict[str, str]:
    """hubmap: the Kaggle-format exports by role (split table `source`)."""
    missing = [flag for flag, value in (("--training-export", args.training_export),
                                        ("--evaluation-export", args.evaluation_export)) if not value]
    if missing:
        raise ConfigError(f"hubmap needs {' and '.join(missing)}")
    return {"training": args.training_export, "evaluation": args.evaluation_export}


def _hubmap_split(cfg: dict, args) -> None:
    from medbench.data.hubmap import read_train_table
    from medbench.data.hubmap_splits import hubmap_splits, split_summary

    exports = _exports(args)
    tables = {role: read_train_table(f"{path}/train.csv", f"{path}/train_images")
              for role, path in exports.items()}
    splits = hubmap_splits(tables["training"], tables["evaluation"], cfg["split"], cfg["seed"])
    write_csv(args.out, splits)
    log.info("splits:\n%s", split_summary(splits).to_string(index=False))


def _cmd_split(args) -> None:
    from medbench.data.cache import SliceCache
    from medbench.data.splits import leakage_report, make_splits, split_summary

    cfg = _study(args)
    if cfg["study"] == "hubmap":
        return _hubmap_split(cfg, args)
    if not args.cache or not args.leakage:
        raise ConfigError("brain_ct split needs --cache and --leakage")
    index = SliceCache.load(args.cache).index
    splits = make_splits(index, cfg["split"], cfg["seed"])
    leakage = leakage_report(splits)
    write_csv(args.out, splits)
    write_csv(args.leakage, leakage)
    log.info("splits:\n%s", split_summary(splits, cfg["split"]["label"]).to_string(index=False))
    log.info("leakage (test patients also in train):\n%s", leakage.to_string(index=False))


def _cmd_stain_target(args) -> None:
    from medbench.data.hubmap_preprocess import fit_stain_target
    from medbench.data.hubmap_splits import read_hubmap_splits

    fit_stain_target(read_hubmap_splits(args.splits), _exports(args), _study(args), args.out)


def _cmd_preprocess(args) -> None:
    from medbench.data.hubmap_preprocess import preprocess_image
    from medbench.data.hubmap_splits import read_hubmap_splits

    preprocess_image(read_hubmap_splits(args.splits), args.source, args.id, _exports(args), _study(args),
                     args.stain_target, args.out)


def _cmd_train(args) -> None:
    from medbench.train.run import train_model

    result = train_model(_study(args), args.model, args.protocol, args.cache, args.splits,
                         args.out, device=args.device, frozen_checkpoint=args.frozen_checkpoint)
    log.info("best epoch %s (%s)", result["best_epoch"], result["best_score"])


def _cmd_predict(args) -> None:
    cfg = _study(args)
    if cfg["study"] == "hubmap":
        from medbench.evaluate.hubmap_predict import predict_hubmap

        return predict_hubmap(cfg, args.model_file, args.cache, args.splits, args.out,
                              device=args.device or "auto")
    from medbench.evaluate.predict import predict_test_sets

    predict_test_sets(cfg, args.model_file, args.protocol, args.cache, args.splits,
                      args.out, device=args.device or "auto")


def _cmd_evaluate(args) -> None:
    from medbench.evaluate.evaluate import evaluate_predictions

    test_sets = {"test_sets": args.test_sets} if args.test_sets else {}
    write_json(args.out, evaluate_predictions(args.predictions, args.bootstrap, args.seed, **test_sets))


def _cmd_table(args) -> None:
    import pandas as pd

    from medbench.report import tables
    from medbench.report.runs import load_runs

    cfg = _study(args)
    table_cfg = cfg["table"]
    runs = load_runs(args.metrics)
    ours = tables.build_table(table_cfg, runs)
    paper = tables.read_paper_results(table_cfg["paper_results"], list(tables.table_columns(table_cfg)))
    tests = (tables.paired_tests(table_cfg, runs, _bootstrap_samples(cfg), cfg["seed"])
             if "paired_test" in table_cfg else None)
    leakage = None
    if args.leakage:
        leakage = pd.read_csv(args.leakage)
        leakage = leakage[leakage["protocol"] == args.protocol]
    md = tables.render_markdown(table_cfg, ours, paper, args.data_kind,
                                tables.provenance(cfg, args.protocol, runs),
                                tables.interval_table(table_cfg, runs), tests, leakage)
    write_csv(args.csv, ours)
    write_text(args.md, md)


def _cmd_claims(args) -> None:
    from medbench.report import tables
    from medbench.report.claims import check_claims, render_claims
    from medbench.report.runs import load_runs

    cfg = _study(args)
    table_cfg = cfg["table"]
    runs = load_runs(args.metrics)
    paper = tables.read_paper_results(table_cfg["paper_results"], list(tables.table_columns(table_cfg)))
    checked = check_claims(cfg.get("claims", []), table_cfg, runs, paper, _bootstrap_samples(cfg),
                           cfg["seed"])
    write_text(args.out, render_claims(checked, table_cfg["title"], args.data_kind,
                                       tables.provenance(cfg, args.protocol, runs)))


def _cmd_figure(args) -> None:
    from medbench.report.runs import load_runs

    cfg = _study(args)
    spec = cfg.get("figures", {}).get(args.kind)
    if args.kind != "curves" and spec is None:
        raise ConfigError(f"{args.config}: no `figures.{args.kind}` section to draw this figure from")
    if args.kind in HUBMAP_FIGURES:
        return _hubmap_figure(cfg, spec, args)
    from medbench.report.tables import model_labels

    method_of = model_labels(cfg["table"])
    if args.kind == "gradcam":
        from medbench.report import gradcam

        stats = gradcam.gradcam_figure(args.model_file, args.cache, args.splits, args.protocol, spec,
                                       cfg["split"]["label"], args.out, args.stats)
        log.info("share of Grad-CAM energy inside the hematoma (mean per panel):\n%s",
                 stats.groupby("panel")[["energy_in_mask", "mask_area_fraction"]].mean())
        return
    from medbench.report import figures

    runs = load_runs(args.metrics)
    if args.kind == "roc":
        figures.roc_figure(runs, method_of, spec["test_sets"], args.out)
    elif args.kind == "overlays":
        figures.overlay_figure(runs, method_of, args.cache, spec, args.out)
    else:
        figures.curves_figure(runs, method_of, args.out)


HUBMAP_FIGURES = ("organs", "stain", "masks")


def _hubmap_figure(cfg: dict, spec: dict, args) -> None:
    from medbench.data.hubmap_splits import read_hubmap_splits
    from medbench.report import hubmap_figures

    splits = read_hubmap_splits(args.splits)
    if args.kind == "organs":
        hubmap_figures.organs_figure(splits, _exports(args), args.out)
    elif args.kind == "stain":
        hubmap_figures.stain_figure(splits, cfg, _exports(args), args.cache, spec, args.out)
    else:
        from medbench.report.runs import load_runs

        hubmap_figures.masks_figure(load_runs(args.metrics), cfg["table"], splits, args.cache, spec, args.out)


def _bootstrap_samples(cfg: dict) -> int:
    return cfg.get("evaluation", {}).get("bootstrap_samples", 1000)


def _cmd_models(args) -> None:
    from medbench.models import list_models

    print("\n".join(list_models(args.pattern)))


def _study(args) -> dict:
    return load_study_config(args.config, args.override)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medbench", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    sub = parser.add_subparsers(dest="verb", required=True)

    def verb(name, fn, help_, study=True):
        p = sub.add_parser(name, help=help_)
        p.set_defaults(fn=fn)
        if study:
            p.add_argument("--config", required=True, help="study YAML (config/studies/*.yaml)")
            p.add_argument("--override", default=None, help="JSON deep-merged into the study YAML")
        return p

    p = verb("toy", _cmd_toy, "write a synthetic dataset in the real on-disk format", study=False)
    p.add_argument("study", choices=["brain_ct", "hubmap"])
    p.add_argument("--out", required=True)
    p.add_argument("--params", default=None, help="JSON of generator parameters")

    p = verb("ingest", _cmd_ingest, "validate a manifest and build the slice cache")
    p.add_argument("--manifest", required=True)
    p.add_argument("--out", required=True)

    def exports(p):
        p.add_argument("--training-export", help="hubmap: Kaggle-format training export (HPA)")
        p.add_argument("--evaluation-export", help="hubmap: Kaggle-format evaluation export (HuBMAP)")

    p = verb("split", _cmd_split, "write the split table (brain_ct: and the leakage report)")
    p.add_argument("--cache", help="brain_ct: slice cache")
    p.add_argument("--out", required=True)
    p.add_argument("--leakage", help="brain_ct: leakage report CSV")
    exports(p)

    p = verb("stain-target", _cmd_stain_target, "hubmap: fit Vahadane on the configured target image")
    p.add_argument("--splits", required=True)
    p.add_argument("--out", required=True, help="fitted target (.npz)")
    exports(p)

    p = verb("preprocess", _cmd_preprocess, "hubmap: resize + stain-normalise one image")
    p.add_argument("--splits", required=True)
    p.add_argument("--source", required=True, choices=["training", "evaluation"])
    p.add_argument("--id", required=True)
    p.add_argument("--stain-target", required=True)
    p.add_argument("--out", required=True, help="<cache>/<source>/<id>.npz")
    exports(p)

    for name, fn, help_ in (("train", _cmd_train, "train one model"),
                            ("predict", _cmd_predict, "save test-set predictions")):
        p = verb(name, fn, help_)
        p.add_argument("--protocol", default="paper")
        p.add_argument("--cache", required=True)
        p.add_argument("--splits", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:1 ...")
        if name == "train":
            p.add_argument("--model", required=True, help="a model key of the study YAML")
            p.add_argument("--frozen-checkpoint", default=None,
                           help="model.pt of the run named by the model's `requires` (joint models)")
        else:
            p.add_argument("--model-file", required=True)

    p = verb("evaluate", _cmd_evaluate, "metrics from saved predictions", study=False)
    p.add_argument("--predictions", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--bootstrap", type=int, default=1000, help="resamples for 95%% intervals")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-sets", nargs="+", help="default: brain_ct's test sets")

    p = verb("table", _cmd_table, "the paper's table with our values beside the paper's")
    p.add_argument("--metrics", nargs="+", required=True)
    p.add_argument("--protocol", default="paper")
    p.add_argument("--data-kind", choices=["toy", "real"], required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--leakage", default=None, help="leakage.csv of `medbench split` (shown in the md)")

    p = verb("claims", _cmd_claims, "check the paper's comparative claims on our runs")
    p.add_argument("--metrics", nargs="+", required=True)
    p.add_argument("--protocol", default="paper")
    p.add_argument("--data-kind", choices=["toy", "real"], required=True)
    p.add_argument("--out", required=True)

    p = verb("figure", _cmd_figure, "draw a figure from saved runs")
    p.add_argument("kind", choices=["gradcam", "roc", "overlays", "curves", *HUBMAP_FIGURES])
    p.add_argument("--out", required=True, help="image file (.png, .svg, .pdf)")
    p.add_argument("--metrics", nargs="+", help="runs' metrics.json (roc, overlays, curves)")
    p.add_argument("--model-file", help="gradcam: the model.pt to explain")
    p.add_argument("--stats", help="gradcam: CSV of CAM energy inside each hematoma")
    p.add_argument("--cache", help="slice cache (gradcam, overlays)")
    p.add_argument("--splits", help="splits.csv (gradcam, hubmap figures)")
    p.add_argument("--protocol", default="paper")
    exports(p)

    p = verb("models", _cmd_models, "list registered model architectures", study=False)
    p.add_argument("pattern", nargs="?", default="*")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if args.threads:
        import torch  # here, not at the top: verbs without models start seconds faster

        # More torch threads than usable CPUs makes OpenMP spin and slows everything down.
        torch.set_num_threads(min(args.threads, len(os.sched_getaffinity(0))))
    try:
        args.fn(args)
    except MedbenchError as exc:
        print(f"medbench {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
