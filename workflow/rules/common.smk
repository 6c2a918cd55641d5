# What the generic pipeline (pipeline.smk) and the studies' rules (rules/studies/<study>.smk)
# share: the resolved study configs, result tables, paths and helpers. Every study named in the
# run config is loaded (its rules file included by the Snakefile); `studies:` only picks what
# `snakemake` builds with no target.
import json
import os
from pathlib import Path

from medbench.config import (
    load_run_study,
    model_config,
    required_models,
    row_models,
    study_tables,
    table_config,
)
from medbench.data.toy import toy_root
from medbench.report import SHARED_FIGURES
from medbench.studies import get_study

REPO = Path(workflow.basedir).resolve().parent
# Software environment of every rule under --use-conda (installs this checkout).
MEDBENCH_ENV = str(REPO / "workflow" / "envs" / "medbench.yaml")
os.environ.setdefault("MEDBENCH_ROOT", str(REPO))
# Caption templates of the report: each renders the caption its rule passes as `params.caption`
# (from the study YAML), so a study brings its captions without a file here.
TABLE_CAPTION, CLAIMS_CAPTION, FIGURE_CAPTION = (
    str(REPO / "workflow" / "report" / f"{kind}.rst") for kind in ("table", "claims", "figure")
)
PATHS = config["paths"]
RUN_KEYS = ("data_kind", "threads_per_job", "studies", "paths")
STUDY_NAMES = [key for key in config if key not in RUN_KEYS]


STUDY = {name: load_run_study(name, config[name]) for name in STUDY_NAMES}
missing = [name for name in config["studies"] if name not in STUDY]
if missing:
    raise ValueError(f"config: studies lists {missing}, which have no section in the run config")


def table_name(name, study, protocol):
    """The result file of a study table and protocol: the table's name for the study's first (the
    paper's) protocol, `<table>_<protocol>` for the others (results/table1_patient_disjoint.csv)."""
    return name if protocol == STUDY[study]["protocols"][0] else f"{name}_{protocol}"


# every result table -> (study, protocol, the study's table it is)
TABLES = {
    table_name(t["name"], s, p): (s, p, t["name"])
    for s in STUDY_NAMES
    for t in study_tables(STUDY[s])
    for p in STUDY[s]["protocols"]
}


def table_of(table):
    """The study config's table behind a result table."""
    study, _, name = TABLES[table]
    return table_config(STUDY[study], name)

# Filled by each study's rules file:
#   PREPARED[study]: input function (wildcards -> files) of the prepared data that training and
#                    prediction read (they get `--data <interim>/<study>`)
#   TABLE_DATA[study]: files the table verb also reads for its own sections (a list, or an input
#                      function of the table's wildcards)
#   TOY[study]: with toy data, ({name: what `medbench toy` writes}, outputs -> the folder it
#               writes into): the rule `<study>_toy` (pipeline.smk) generates them
PREPARED, TABLE_DATA, TOY = {}, {}, {}


def table_data(study, wildcards):
    """The files a study's table sections read (`TABLE_DATA`)."""
    files = TABLE_DATA.get(study, [])
    return files(wildcards) if callable(files) else files


def output_folder(of_outputs):
    """A rule's params function: the folder it writes into, from its outputs (`of_outputs(output)`)."""
    return lambda wildcards, output: of_outputs(output)


def data_dir(study):
    """A study's prepared data: what `medbench ... --data` reads."""
    return f"{PATHS['interim']}/{study}"


def study_of(wc):
    return TABLES[wc.table][0] if "table" in wc.keys() else wc.study


def training_seeds(study):
    """Training seeds of a study's runs (`seeds:` in the run config; default: the study's seed).
    The split does not change with them: seeds vary initialisation, order and augmentation."""
    return config[study].get("seeds") or [STUDY[study]["seed"]]


def resolved(study, *sections, model=None, seed=None):
    """The resolved config sections a rule uses, as JSON for `medbench ... --override`.

    Snakemake reruns a rule when its params change, so passing exactly what a rule uses makes
    an edit (one model's epochs, the HU window) rerun exactly the steps it concerns.
    """
    cfg = STUDY[study]
    picked = {key: cfg[key] for key in sections if key in cfg}
    if model is not None:
        picked["models"] = {model: model_config(cfg, model)}
    if seed is not None:
        picked["seed"] = int(seed)
    return json.dumps(picked)  # keeps the YAML's order: table columns are ordered mappings


def step_params(study, verb, sections, data, env="", item=""):
    """params of a study's data-preparation step (a rule derived from templates.smk's
    prepare_step), which runs `medbench <verb>` on the study config and the resolved `sections`
    the step uses; `data`: a params function giving the prepared-data folder from the rule's
    outputs; `env`: variables set before the command, `item`: its `--item` (hubmap: one job per
    image)."""
    return {"verb": verb, "study": config[study]["study_config"], "override": resolved(study, *sections),
            "data": data, "env": env, "item": item}


def toy_params(study):
    return json.dumps(config[study].get("toy") or {}, sort_keys=True)


def job_threads(wildcards):
    """Threads of a training/prediction job: the study's `threads_per_job` (else the run's), or
    0 for all of --cores (jobs then run one after another, which is fastest on small machines
    for large networks: torch jobs sharing cores slow each other down far more than they gain;
    small networks use two threads poorly, and run faster side by side on one thread each).
    Never more than this machine's CPUs: `--cores 8` on 2 CPUs would start 8 OpenMP threads
    (OMP_NUM_THREADS) that fight over 2 CPUs. On a cluster the profile's set-threads decide."""
    requested = config[wildcards.study].get("threads_per_job", config["threads_per_job"]) or workflow.cores
    return min(requested, len(os.sched_getaffinity(0)))


def run_dir(study, protocol="{protocol}", seed="{seed}", model="{model}"):
    return f"{PATHS['runs']}/{study}/{protocol}/seed{seed}/{model}"


def table_models(table):
    """The configured models that fill a row of `table` (a study's tables may share runs)."""
    rows = {m for row in table_of(table)["rows"] for m in row_models(row)}
    return [m for m in config[TABLES[table][0]]["models"] if m in rows]


def run_files(table, filename, models=None):
    """`filename` of every run (model x training seed) behind `table`: its models, or `models`."""
    study, protocol, _ = TABLES[table]
    return expand(
        os.path.join(run_dir(study, protocol, "{seed}", "{model}"), filename),
        model=table_models(table) if models is None else models,
        seed=training_seeds(study),
    )


def report_inputs(wc):
    """Every run's metrics and predictions (what paired tests resample), of table `wc.table`."""
    return {
        "metrics": run_files(wc.table, "metrics.json"),
        "predictions": run_files(wc.table, "predictions"),
        "paper": table_of(wc.table)["paper_results"],
    }


def figure_models(study, spec):
    """The models of a figure spec (`models:`, default every model) that this run trains."""
    return [m for m in spec.get("models", config[study]["models"]) if m in config[study]["models"]]


def shared_figures(study):
    """The shared figures a study's tables get: ROC if configured, curves if one of its models is run."""
    figures = STUDY[study].get("figures", {})
    drawn = {"roc": "roc" in figures, "curves": bool(figure_models(study, figures.get("curves", {})))}
    return [kind for kind in SHARED_FIGURES if drawn[kind]]


def study_figures(study):
    """The study's own figures (`Study.figure_kinds`) this run draws: those configured under
    `figures:` whose models (a spec's `model` or `models`), if it names any, this run trains
    (with the runs they start from)."""
    specs = STUDY[study].get("figures", {})
    trained = set(config[study]["models"]) | set(required_models(STUDY[study], config[study]["models"]))

    def drawn(spec):
        named = [*spec.get("models", []), *([spec["model"]] if "model" in spec else [])]
        return not named or bool(trained & set(named))

    return [kind for kind in get_study(study).figure_kinds if kind in specs and drawn(specs[kind])]


def study_toy_root(study):
    """With toy data: the folder the study's generator writes every raw dataset under (checked
    against the run config's `raw`)."""
    return toy_root(study, config[study]["raw"], get_study(study).toy_layout)


def figure_file(table, name):
    return f"{PATHS['results']}/figures/{table}/{name}.png"


def study_outputs(table):
    """A table's files built by the default target: csv, md, claims (if the study has any), figures."""
    study = TABLES[table][0]
    claims = [f"{PATHS['results']}/{table}_claims.{ext}" for ext in ("md", "html")] if table_of(table)["claims"] else []
    figures = shared_figures(study) + study_figures(study)
    return [*(f"{PATHS['results']}/{table}.{ext}" for ext in ("csv", "md", "html")), *claims,
            *(figure_file(table, name) for name in figures)]


def table_params(*sections):
    """params of a report rule: the study config, the sections it uses, protocol and data kind."""
    return {
        "study": lambda wc: config[study_of(wc)]["study_config"],
        "override": lambda wc: resolved(study_of(wc), *sections),
        "protocol": lambda wc: TABLES[wc.table][1],
        "table": lambda wc: TABLES[wc.table][2],
        "data_kind": config["data_kind"],
        "data": lambda wc: data_dir(study_of(wc)),
    }


def report_entry(path, caption, name):
    """An output in the Snakemake report, under its study and table, with its caption template;
    `name` says what it is (the report's "result" column: table, claims check, figure: <kind>)."""
    return report(path, caption=caption, category=lambda wc: study_of(wc), subcategory="{table}",
                  labels={"result": name})


def figure_entry(table, kind):
    """A figure's file, in the report as "figure: <kind>" under its study and table."""
    return report_entry(figure_file(table, kind), FIGURE_CAPTION, f"figure: {kind}")


def figure_caption(study, name):
    """A figure's report caption (`caption:` of its section in the study YAML)."""
    return STUDY[study].get("figures", {}).get(name, {}).get("caption", "")


def result_tables(study):
    """Wildcard constraint: the result tables of one study."""
    return "|".join(table for table, (owner, _, _) in TABLES.items() if owner == study)


def frozen_checkpoint(wc):
    """[model.pt of the run a joint model freezes] (its `requires`), [] for other models."""
    required = model_config(STUDY[wc.study], wc.model).get("requires")
    return [f"{run_dir(wc.study, wc.protocol, wc.seed, required)}/model.pt"] if required else []


def figure_runs(filename):
    """Input function: `filename` of the runs a shared figure draws (curves: `figures.curves.models`)."""

    def files(wc):
        study = study_of(wc)
        models = figure_models(study, STUDY[study].get("figures", {}).get(wc.kind, {}))
        return run_files(wc.table, filename, [m for m in models if m in table_models(wc.table)])

    return files


def checkpoint_files(checkpoint, pattern, columns):
    """Input function body: one file per row of a checkpoint's table (a per-item job each),
    `pattern` formatted with the row's `columns`; known once the checkpoint has run."""
    import pandas as pd

    table = pd.read_csv(checkpoint.get().output[0], dtype=str, usecols=list(columns), keep_default_na=False)
    return [pattern.format(**row) for row in table.to_dict("records")]
