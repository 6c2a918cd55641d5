# Helpers shared by every study's rules.
import json
from pathlib import Path

from medbench.config import load_study_config, model_config
from medbench.report.tables import row_models
from medbench.data.splits import TEST_SETS

# Software environment of every rule under --use-conda (installs this checkout).
MEDBENCH_ENV = "../envs/medbench.yaml"
os.environ.setdefault("MEDBENCH_ROOT", str(Path(workflow.basedir).resolve().parent))

# study -> (split protocol -> result table); rule `all` asks for every enabled study's tables
# of the protocols its config lists.
RESULT_TABLES = {
    "brain_ct": {"paper": "table1", "patient_disjoint": "table1_patient_disjoint"},
    "hubmap": {"paper": "table2"},
}


# Each study's rules file registers here: "runs", its run directory pattern (wildcards
# <study>_protocol and <study>_seed, then <model>/), the training "seeds", its "figures" spec
# and the names of the figures this run draws ("drawn").
STUDIES = {}


def study_tables():
    """(study, table name) of every enabled study and protocol."""
    return [
        (study, RESULT_TABLES[study][protocol])
        for study in config["studies"]
        for protocol in config[study]["protocols"]
    ]


def training_seeds(study, study_cfg):
    """Training seeds of a study's runs (`seeds:` in the run config; default: the study's seed).
    The split does not change with them: seeds vary initialisation, order and augmentation."""
    return config[study].get("seeds") or [study_cfg["seed"]]


def protocol_of(tables, table):
    """The split protocol whose runs fill `table`."""
    return next(protocol for protocol, name in tables.items() if name == table)


def resolved(study_cfg, *sections, model=None, seed=None):
    """The resolved config sections a rule uses, as JSON for `medbench ... --override`.

    Snakemake reruns a rule when its params change, so passing exactly what a rule uses makes
    an edit (one model's epochs, the HU window) rerun exactly the steps it concerns.
    """
    picked = {key: study_cfg[key] for key in sections if key in study_cfg}
    if model is not None:
        picked["models"] = {model: model_config(study_cfg, model)}
    if seed is not None:
        picked["seed"] = int(seed)
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
    rows = {model for row in study_cfg["table"]["rows"] for model in row_models(row)}
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


def run_files(study, table, filename, models=None):
    """`filename` of every configured run (model x training seed) behind `table`."""
    layout = STUDIES[study]
    return expand(
        f"{layout['runs']}/{{model}}/{filename}",
        model=config[study]["models"] if models is None else models,
        **{
            f"{study}_protocol": protocol_of(RESULT_TABLES[study], table),
            f"{study}_seed": layout["seeds"],
        },
    )


def report_inputs(study, test_sets, paper_results):
    """Input function of table/claims/figure rules: every run's metrics, and the predictions
    that paired tests resample, of the table named by the `<study>_table` wildcard."""

    def inputs(wc):
        table = wc[f"{study}_table"]
        return {
            "metrics": run_files(study, table, "metrics.json"),
            "predictions": [
                path for test_set in test_sets for path in run_files(study, table, f"predictions/{test_set}.csv")
            ],
            "paper": paper_results,
        }

    return inputs


def figure_files(study, table):
    """The figures of `table` that this run draws (STUDIES[study]["drawn"])."""
    return [f"results/figures/{table}/{name}.png" for name in STUDIES[study]["drawn"]]


def study_outputs(study, table):
    """A table's files built by the default target: csv, md, claims (if the study has any), figures."""
    claims = [f"results/{table}_claims.md"] if STUDIES[study].get("claims") else []
    return [f"results/{table}.csv", f"results/{table}.md", *claims, *figure_files(study, table)]


def figure_report(study, name):
    """A figure output, in the Snakemake report under the study and table with its caption."""
    return report(
        f"results/figures/{{{study}_table}}/{name}.png",
        caption=f"../report/{study}_{name}.rst",
        category=study,
        subcategory=f"{{{study}_table}}",
        labels={"figure": name},
    )


def check_toy_exports(exports):
    """The toy generator writes <root>/hpa and <root>/hubmap: the configured exports must be those."""
    roots = {os.path.dirname(os.path.normpath(path)) for path in exports.values()}
    names = [os.path.basename(os.path.normpath(exports[role])) for role in ("training", "evaluation")]
    if len(roots) != 1 or names != ["hpa", "hubmap"]:
        raise ValueError(f"config: with toy data, hubmap exports must be <dir>/hpa and <dir>/hubmap; got {exports}")


def hubmap_cache_files(wildcards):
    """Every preprocessed hubmap image of the split table (known once the split checkpoint ran)."""
    import pandas as pd

    splits = pd.read_csv(checkpoints.hubmap_split.get().output.splits, dtype={"id": str}, usecols=["source", "id"])
    return [f"{HUBMAP_CACHE}/{row.source}/{row.id}.npz" for row in splits.itertuples()]
