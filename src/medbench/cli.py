"""`medbench <verb>`: every pipeline step, called by Snakemake rules or by hand.

Every verb but `toy` and `models` reads a study config (`--config STUDY.yaml`, optionally with
`--override JSON` deep-merged into it); its `study:` key names the study whose code prepares the
data and predicts. `--data DIR` is the study's prepared-data folder (data/interim/<study>).

    medbench toy      STUDY --out data/raw/<study> [--params JSON]      (or --config instead of STUDY)
    medbench prepare  STEP --config C --data DIR [--item ITEM]           study-only data steps
    medbench split    --config C --data DIR
    medbench train    --config C --model NAME --protocol P --data DIR --out RUN_DIR
    medbench predict  --config C --model-file RUN_DIR/model.pt --protocol P --data DIR --out PRED_DIR
    medbench evaluate --config C --predictions PRED_DIR --out metrics.json
    medbench table    --config C --metrics RUN/metrics.json ... --data DIR --csv OUT.csv --md OUT.md
    medbench claims   --config C --metrics RUN/metrics.json ... --out claims.md
    medbench figure   KIND --config C [--metrics ...] [--data DIR] --out FIG.png
    medbench models   [PATTERN]                                          the registered architectures

Each study's own steps and figure kinds come from its plug-in: `medbench prepare --help` and
`medbench figure --help` list them for every registered study. Errors in inputs end the command
with a message naming the file and problem (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from functools import partial
from pathlib import Path

from medbench.config import deep_merge, load_study_config, model_config, table_config
from medbench.errors import ConfigError, MedbenchError
from medbench.fileio import write_csv, write_text
from medbench.report import SHARED_FIGURES
from medbench.report.html import markdown_page

log = logging.getLogger("medbench")


def _study(args):
    """(study, config) of the verb's `--config` (+ `--override`)."""
    from medbench.studies import get_study

    cfg = load_study_config(args.config, args.override)
    return get_study(cfg["study"], cfg.get("module")), cfg


def _cmd_toy(args) -> None:
    from medbench.studies import get_study

    if bool(args.study) == bool(args.config):
        raise ConfigError("toy: name the study, or give its --config (not both)")
    study = get_study(args.study) if args.study else _study(args)[0]
    study.generate_toy(Path(args.out), json.loads(args.params or "{}"))


def _cmd_prepare(args) -> None:
    study, cfg = _study(args)
    steps = study.steps()
    if args.step not in steps:
        raise ConfigError(f"prepare: study {study.name} has no step '{args.step}'; "
                          f"its steps: {sorted(steps)}")
    steps[args.step](cfg, Path(args.data), args.item)


def _cmd_split(args) -> None:
    study, cfg = _study(args)
    study.split(cfg, Path(args.data))


def _cmd_train(args) -> None:
    from medbench.train.run import train_folds

    study, cfg = _study(args)

    def datasets(fold):
        return partial(study.datasets, cfg, Path(args.data), args.protocol, ("train", "val"), cfg["seed"],
                       fold=fold, model=args.model)

    result = train_folds(cfg, args.model, args.protocol, datasets, study.folds(cfg, args.model), args.data,
                         args.out, device=args.device, frozen_checkpoint=args.frozen_checkpoint,
                         fold_recipe=partial(study.fold_recipe, cfg, args.model))
    log.info("best epoch %s (%s)", result["best_epoch"], result["best_score"])


def _cmd_predict(args) -> None:
    from medbench.device import resolve_device
    from medbench.evaluate.predict import predict_run

    study, cfg = _study(args)
    predict_run(study, cfg, args.model_file, args.data, args.protocol, args.out,
                resolve_device(args.device or "auto"))


def _cmd_evaluate(args) -> None:
    from medbench.fileio import write_json

    study, cfg = _study(args)
    write_json(args.out, study.evaluate(cfg, Path(args.predictions)))


def _cmd_table(args) -> None:
    from medbench.report import tables
    from medbench.report.runs import load_runs

    study, cfg = _study(args)
    table_cfg = table_config(cfg, args.table)
    runs = load_runs(args.metrics)
    budgets, notes = tables.row_budgets(table_cfg, partial(_recipes, study, cfg))
    ours = tables.build_table(table_cfg, runs, budgets)
    paper = tables.read_paper_results(table_cfg["paper_results"], list(tables.table_columns(table_cfg)))
    tests = (tables.paired_tests(table_cfg, runs, _bootstrap_samples(cfg), cfg["seed"], _classification(cfg))
             if "paired_test" in table_cfg else None)
    md = tables.render_markdown(table_cfg, ours, paper, args.data_kind,
                                tables.provenance(cfg, args.protocol, runs),
                                tables.interval_table(table_cfg, runs), tests,
                                study.table_sections(cfg, Path(args.data), args.protocol, runs), notes)
    write_csv(args.csv, ours)
    write_text(args.md, md)
    if args.html:
        write_text(args.html, markdown_page(md, table_cfg["title"]))


def _cmd_claims(args) -> None:
    from medbench.report import tables
    from medbench.report.claims import check_claims, render_claims
    from medbench.report.runs import load_runs
    from medbench.report.self_checks import self_check_lines

    _, cfg = _study(args)
    table_cfg = table_config(cfg, args.table)
    runs = load_runs(args.metrics)
    paper = tables.read_paper_results(table_cfg["paper_results"], list(tables.table_columns(table_cfg)))
    checked = check_claims(table_cfg["claims"], table_cfg, runs, paper, _bootstrap_samples(cfg),
                           cfg["seed"], _classification(cfg))
    extra = self_check_lines(paper, table_cfg["self_checks"]) if "self_checks" in table_cfg else []
    md = render_claims(checked, table_cfg["title"], args.data_kind,
                       tables.provenance(cfg, args.protocol, runs), extra)
    write_text(args.out, md)
    if args.html:
        write_text(args.html, markdown_page(md, f"Claims: {table_cfg['title']}"))


def _cmd_figure(args) -> None:
    from medbench.report.runs import load_runs

    study, cfg = _study(args)
    spec = cfg.get("figures", {}).get(args.kind)
    if args.kind != "curves" and spec is None:
        raise ConfigError(f"{args.config}: no `figures.{args.kind}` section to draw this figure from")
    runs = load_runs(args.metrics or [])
    if args.kind in SHARED_FIGURES:
        return _shared_figure(args.kind, cfg, spec, runs, args.out)
    drawers = study.figures()
    if args.kind not in drawers:
        raise ConfigError(f"figure: study {study.name} draws no '{args.kind}'; kinds: "
                          f"{sorted([*SHARED_FIGURES, *drawers])}")
    if not args.data:
        raise ConfigError(f"figure {args.kind}: needs --data (the study's prepared data)")
    drawers[args.kind](cfg, spec, runs, Path(args.data), args.protocol, args.out)


def _shared_figure(kind: str, cfg: dict, spec: dict | None, runs, out) -> None:
    from medbench.report import figures
    from medbench.report.tables import study_model_labels

    method_of = study_model_labels(cfg)
    if kind == "roc":
        figures.roc_figure(runs, method_of, spec["test_sets"], cfg["test_sets"], out)
    else:
        figures.curves_figure(runs, method_of, out)


def _recipes(study, cfg: dict, model: str) -> dict:
    """A model's training recipe per fold or task ({None: recipe} without folds)."""
    recipe = model_config(cfg, model)
    return {fold: deep_merge(recipe, study.fold_recipe(cfg, model, fold)) for fold in study.folds(cfg, model)}


def _bootstrap_samples(cfg: dict) -> int:
    return cfg.get("evaluation", {}).get("bootstrap_samples", 1000)


def _classification(cfg: dict) -> str:
    """Which classification metrics the study's tables mean (`evaluation.classification`)."""
    return cfg.get("evaluation", {}).get("classification", "macro")


def _cmd_models(args) -> None:
    from medbench.models import list_models

    print("\n".join(list_models(args.pattern)))


def _per_study(what: str) -> str:
    """'brain_ct: ingest; hubmap: stain-target, preprocess; ...' from the study registry (imports
    every study: only for --help)."""
    from medbench.studies import get_study, list_studies

    listing = {name: list(getattr(get_study(name), what)()) for name in list_studies()}
    return "; ".join(f"{name}: {', '.join(items)}" for name, items in listing.items() if items)


def build_parser(study_help: bool = False) -> argparse.ArgumentParser:
    """`study_help`: list every study's steps and figures in the help (a second to import)."""
    steps = _per_study("steps") if study_help else "the study's data-preparation step"
    figures = _per_study("figures") if study_help else "one of the study's own figures"
    parser = argparse.ArgumentParser(prog="medbench", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    sub = parser.add_subparsers(dest="verb", required=True)

    def verb(name, fn, help_, study=True, data=False):
        p = sub.add_parser(name, help=help_)
        p.set_defaults(fn=fn)
        if study:
            p.add_argument("--config", required=True, help="study YAML (config/studies/*.yaml)")
            p.add_argument("--override", default=None, help="JSON deep-merged into the study YAML")
        if data:
            p.add_argument("--data", required=data == "required",
                           help="the study's prepared data (data/interim/<study>)")
        return p

    p = verb("toy", _cmd_toy, "write a synthetic dataset in the real on-disk format", study=False)
    p.add_argument("study", nargs="?", help="a study name (or give --config)")
    p.add_argument("--config", help="a study YAML (the study it names)")
    p.add_argument("--override", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", required=True)
    p.add_argument("--params", default=None, help="JSON of generator parameters")

    p = verb("prepare", _cmd_prepare, "run one of the study's own data-preparation steps", data="required")
    p.add_argument("step", help=steps)
    p.add_argument("--item", default=None,
                   help="the unit of a per-item step (hubmap preprocess: <source>/<id>)")

    verb("split", _cmd_split, "validate the prepared data and write the split table(s)", data="required")

    for name, fn, help_ in (("train", _cmd_train, "train one model"),
                            ("predict", _cmd_predict, "save test-set predictions")):
        p = verb(name, fn, help_, data="required")
        p.add_argument("--protocol", default="paper")
        p.add_argument("--out", required=True)
        p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:1 ...")
        if name == "train":
            p.add_argument("--model", required=True, help="a model key of the study YAML")
            p.add_argument("--frozen-checkpoint", default=None,
                           help="model.pt of the run named by the model's `requires` (joint models)")
        else:
            p.add_argument("--model-file", required=True)

    p = verb("evaluate", _cmd_evaluate, "metrics (and bootstrap intervals) from saved predictions")
    p.add_argument("--predictions", required=True)
    p.add_argument("--out", required=True)

    p = verb("table", _cmd_table, "the paper's table with our values beside the paper's", data="required")
    p.add_argument("--table", default=None, help="which of the study's tables (default: its first)")
    p.add_argument("--metrics", nargs="+", required=True)
    p.add_argument("--protocol", default="paper")
    p.add_argument("--data-kind", choices=["toy", "real"], required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--html", default=None, help="also the Markdown rendered as an HTML page")

    p = verb("claims", _cmd_claims, "check the paper's comparative claims on our runs")
    p.add_argument("--table", default=None, help="which of the study's tables (default: its first)")
    p.add_argument("--metrics", nargs="+", required=True)
    p.add_argument("--protocol", default="paper")
    p.add_argument("--data-kind", choices=["toy", "real"], required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--html", default=None, help="also the Markdown rendered as an HTML page")

    p = verb("figure", _cmd_figure, "draw a figure from saved runs", data=True)
    p.add_argument("kind", help=f"every study: {', '.join(SHARED_FIGURES)}; {figures}")
    p.add_argument("--out", required=True, help="image file (.png, .svg, .pdf)")
    p.add_argument("--metrics", nargs="+", help="runs' metrics.json")
    p.add_argument("--protocol", default="paper")

    p = verb("models", _cmd_models, "list registered model architectures", study=False)
    p.add_argument("pattern", nargs="?", default="*")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(study_help=bool({"-h", "--help"} & set(argv))).parse_args(argv)
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
