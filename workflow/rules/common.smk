# Helpers shared by every study's rules.
import json
from pathlib import Path

# Software environment of every rule under --use-conda (installs this checkout).
MEDBENCH_ENV = "../envs/medbench.yaml"
os.environ.setdefault("MEDBENCH_ROOT", str(Path(workflow.basedir).resolve().parent))

# study -> the result files its rules produce; rule `all` asks for every enabled study's.
RESULT_FILES = {"brain_ct": ["results/table1.csv", "results/table1.md"]}


def result_tables():
    return [path for study in config["studies"] for path in RESULT_FILES[study]]


def study_override(study):
    """The run's budget overrides of a study, as JSON for `medbench ... --override`."""
    return json.dumps(config[study].get("overrides") or {}, sort_keys=True)


def toy_params(study):
    return json.dumps(config[study].get("toy") or {}, sort_keys=True)


def job_threads():
    """Threads of a training/prediction job: `threads_per_job`, or 0 for all of --cores
    (jobs then run one after another, which is fastest on small machines: torch jobs
    sharing cores slow each other down far more than they gain)."""
    return config["threads_per_job"] or workflow.cores
