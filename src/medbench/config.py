"""Study configuration: the paper's protocol (study YAML) plus run-specific overrides.

The study YAML (`config/studies/<study>.yaml`) is the paper. A run (toy data, CPU budget)
deep-merges `overrides` on top of it. The merged result is validated against
`schemas/study.schema.yaml` plus the study's own schema fragment (its `schema.yaml`), so a
misspelt key stops the run with its path named.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from medbench.errors import ConfigError


def deep_merge(base: dict, override: dict | None) -> dict:
    """Return `base` with `override` merged in: mappings recurse, anything else replaces.

    A mapping whose `name` differs from the base's (another optimiser, another schedule)
    replaces it whole, so that no option of the old one leaks into the new one.
    """
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        old = merged.get(key)
        same_kind = isinstance(old, dict) and value.get("name", old.get("name")) == old.get("name") \
            if isinstance(value, dict) else False
        if same_kind:
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_schema(base: dict, extra: dict) -> None:
    """Add a study's schema fragment to `base`: mappings recurse, `required` lists unite."""
    for key, value in extra.items():
        if key == "required":
            base[key] = [*base.get(key, []), *(v for v in value if v not in base.get(key, []))]
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge_schema(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def study_schema(fragment: Path | None) -> dict:
    """The common study schema with a study's own sections merged in."""
    schema = yaml.safe_load(resources.files("medbench").joinpath("schemas/study.schema.yaml").read_text())
    if fragment is not None:
        _merge_schema(schema, yaml.safe_load(Path(fragment).read_text()))
    return schema


def validate_study_config(cfg: dict, source: str) -> None:
    """Check `cfg` against its study's schema and the study's own consistency rules."""
    from medbench.studies import get_study  # the registry only: a study module loads on demand

    name = cfg.get("study")
    if not isinstance(name, str):
        raise ConfigError(f"{source}: no `study:` naming the study this config belongs to")
    study = get_study(name, cfg.get("module"))
    validator = jsonschema.Draft202012Validator(study_schema(study.schema))
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'.'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}" for e in errors]
        raise ConfigError(f"{source}: invalid study config\n  - " + "\n  - ".join(lines))
    study.check_config(cfg, source)


def load_study_config(path: str | Path, override: dict | str | None = None) -> dict:
    """Load a study YAML, merge `override` (dict or JSON text) and validate the result."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: study config not found")
    try:
        base = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if isinstance(override, str):
        try:
            override = json.loads(override) if override.strip() else None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--override: not valid JSON: {exc}") from exc
    unknown = set((override or {}).get("models", {}) or {}) - set(base.get("models", {}))
    if unknown:
        raise ConfigError(
            f"{path}: overrides name models the study does not define: {sorted(unknown)}; "
            f"defined: {sorted(base.get('models', {}))}"
        )
    cfg = deep_merge(base, override)
    validate_study_config(cfg, str(path))
    return cfg


def row_models(row: dict) -> list[str]:
    """Every model whose runs fill a table row: its `model`, or one per column (`models`)."""
    return list(row.get("models", {}).values()) or ([row["model"]] if row.get("model") else [])


def study_tables(cfg: dict) -> list[dict]:
    """The study's result tables: `tables:` (each with its own `claims`), or the one `table:`
    with the study's `claims:`."""
    if "tables" in cfg:
        return cfg["tables"]
    return [{"claims": cfg.get("claims", []), **cfg["table"]}]


def table_config(cfg: dict, name: str | None = None) -> dict:
    """One result table of the study by its `name` (default: the first)."""
    tables = study_tables(cfg)
    if name is None:
        return tables[0]
    for table in tables:
        if table["name"] == name:
            return table
    raise ConfigError(f"study {cfg['study']} has no table {name!r}; tables: {[t['name'] for t in tables]}")


def check_run_models(cfg: dict, models, where: str) -> None:
    """Every model a run asks for must fill a row of one of the study's tables (fail before training)."""
    rows = {model for table in study_tables(cfg) for row in table["rows"] for model in row_models(row)}
    unknown = [m for m in models if m not in rows]
    if unknown:
        names = " / ".join(table["name"] for table in study_tables(cfg))
        raise ConfigError(f"config: {where} lists {unknown}, which are no rows of {names}; "
                          f"rows: {sorted(rows)}")


def load_run_study(name: str, run: dict) -> dict:
    """The study config of run-config section `name` (`run`: its study_config, raw paths,
    overrides, protocols and models), checked against the study: the YAML it names is that
    study's, and its protocols and models exist there."""
    study = load_study_config(run["study_config"])["study"]  # before its overrides meet it
    if study != name:
        raise ConfigError(f"config: section {name} loads {run['study_config']}, "
                          f"the config of study {study}")
    override = deep_merge(run.get("overrides") or {}, {"raw": run["raw"]} if run.get("raw") else {})
    cfg = load_study_config(run["study_config"], override)
    unknown = [p for p in run["protocols"] if p not in cfg["protocols"]]
    if unknown:
        raise ConfigError(f"config: {name}.protocols lists {unknown}; "
                          f"the study's protocols: {cfg['protocols']}")
    check_run_models(cfg, run["models"], f"{name}.models")
    return cfg


RECIPE_KEYS = ("arch", "batch_size", "lr", "epochs", "optimizer", "schedule", "loss", "monitor")


def required_models(cfg: dict, models) -> list[str]:
    """The runs `models` start from (their `requires` chains: swinfuse's pre-training runs,
    brain_ct's frozen segmenter), in the order met."""
    found: list[str] = []
    for model in models:
        required = model_config(cfg, model).get("requires")
        while required and required not in found:
            found.append(required)
            required = model_config(cfg, required).get("requires")
    return found


def model_config(cfg: dict, model: str) -> dict:
    """The training recipe of one model: study-wide `training` defaults + the model's entry."""
    models = cfg["models"]
    if model not in models:
        raise ConfigError(f"unknown model '{model}' for study {cfg['study']}; known: {sorted(models)}")
    recipe = deep_merge(cfg["training"], models[model])
    missing = [key for key in RECIPE_KEYS if key not in recipe]
    if missing:
        raise ConfigError(f"model '{model}' of study {cfg['study']}: no {missing} in its entry "
                          "or in `training`")
    return recipe
