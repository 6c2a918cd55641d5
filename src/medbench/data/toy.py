"""Toy data generators, one per study, writing the real on-disk formats."""

from __future__ import annotations

import dataclasses

from medbench.errors import ConfigError


def checked_params(config_cls, params: dict | None, study: str, tuples: tuple[str, ...] = ()) -> dict:
    """Generator parameters for `config_cls` (a dataclass): unknown keys are a ConfigError
    naming them; `tuples` keys (lists in YAML/JSON) become tuples so the config stays frozen."""
    params = dict(params or {})
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"toy {study}: unknown parameter(s) {unknown}; known: {sorted(known)}")
    return {k: tuple(v) if k in tuples else v for k, v in params.items()}
