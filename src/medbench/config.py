"""Study configuration: the paper's protocol (study YAML) plus run-specific overrides.

The study YAML (`config/studies/<study>.yaml`) is the paper. A run (toy data, CPU budget)
deep-merges `overrides` on top of it. The merged result is validated against
`schemas/study.schema.yaml`, so a misspelt key stops the run with its path named.
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


def _schema() -> dict:
    text = resources.files("medbench").joinpath("schemas/study.schema.yaml").read_text()
    return yaml.safe_load(text)


def validate_study_config(cfg: dict, source: str) -> None:
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'.'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}" for e in errors]
        raise ConfigError(f"{source}: invalid study config\n  - " + "\n  - ".join(lines))


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


RECIPE_KEYS = ("arch", "batch_size", "lr", "epochs", "optimizer", "schedule", "loss", "monitor")


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
