# Helpers shared by every study's rules.
import json
from pathlib import Path

from medbench.config import load_study_config, model_config

# Software environment of every rule under --use-conda (installs this checkout).
MEDBENCH_ENV = "../envs/medbench.yaml"
os.environ.setdefault("MEDBENCH_ROOT", str(Path(workflow.basedir).resolve().parent))

# study -> (split protocol -> result table); rule `all` asks for every enabled study's tables
# of the protocols its config lists.
RESULT_TABLES = {"brain_ct": {"paper": "table1", "patient_disjoint": "table1_patient_disjoint"}}


def result_tables():
    return [
        f"results/{RESULT_TABLES[study][protocol]}.{ext}"
        for study in config["studies"]
        for protocol in config[study]["protocols"]
        for ext in ("csv", "md")
    ]


def protocol_of(tables, table):
    """The split protocol whose runs fill `table`."""
    return next(protocol for protocol, name in tables.items() if name == table)


def resolved(study_cfg, *sections, model=None):
    """The resolved config sections a rule uses, as JSON for `medbench ... --override`.

    Snakemake reruns a rule when its params change, so passing exactly what a rule uses makes
    an edit (one model's epochs, the HU window) rerun exactly the steps it concerns.
    """
    picked = {key: study_cfg[key] for key in sections if key in study_cfg}
    if model is not None:
        picked["models"] = {model: model_config(study_cfg, model)}
    return json.dumps(picked)  # keeps the YAML's order: table columns are ordered mappings


def toy_params(study):
    return json.dumps(config[study].get("toy") or {}, sort_keys=True)


def job_threads():
    """Threads of a training/prediction job: `threads_per_job`, or 0 for all of --cores
    (jobs then run one after another, which is fastest on small machines: torch jobs
    sharing cores slow each other down far more than they gain)."""
    return config["threads_per_job"] or workflow.cores


def check_table_models(study_cfg, models, study):
    """Every model a run asks for must be a row of the study's table (fail before training)."""
    rows = {row.get("model") for row in study_cfg["table"]["rows"]}
    unknown = [m for m in models if m not in rows]
    if unknown:
        raise ValueError(
            f"config: {study}.models lists {unknown}, which are no rows of "
            f"{study_cfg['table']['name']}; rows: {sorted(r for r in rows if r)}"
        )


def required_checkpoint(study_cfg, model, runs_dir):
    """[model.pt of the run `model` freezes] for joint models, [] otherwise."""
    required = model_config(study_cfg, model).get("requires")
    return [f"{runs_dir}/{required}/model.pt"] if required else []


def frozen_argument(paths):
    return " ".join(f"--frozen-checkpoint {path}" for path in paths)
