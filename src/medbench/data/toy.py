"""Toy data generators, one per study, writing the real on-disk formats."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from scipy import ndimage

from medbench.errors import ConfigError


def toy_root(study: str, raw: dict, layout: dict[str, str]) -> str:
    """The one folder under which a study's toy generator writes its datasets, each at its
    `layout` path (raw key -> path under the root), from the run config's `raw` paths; a
    ConfigError unless every configured path is the generator's, under one root."""
    roots, wrong = set(), []
    for key, folder in layout.items():
        if not raw.get(key):
            continue
        path, tail = os.path.normpath(raw[key]), os.path.normpath(folder)
        if path == tail or path.endswith(os.sep + tail):
            roots.add(path[: len(path) - len(tail)].rstrip(os.sep) or ".")
        else:
            wrong.append(key)
    if wrong or len(roots) != 1:
        raise ConfigError(f"config: with toy data, {study}.raw must name the generator's paths {layout} "
                          f"under one root; got {raw}")
    return roots.pop()


def checked_params(config_cls, params: dict | None, study: str, tuples: tuple[str, ...] = ()) -> dict:
    """Generator parameters for `config_cls` (a dataclass): unknown keys are a ConfigError
    naming them; `tuples` keys (lists in YAML/JSON) become tuples so the config stays frozen."""
    params = dict(params or {})
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"toy {study}: unknown parameter(s) {unknown}; known: {sorted(known)}")
    return {k: tuple(v) if k in tuples else v for k, v in params.items()}


def smooth_noise(shape, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth Gaussian random field: white noise blurred to a correlation length of ~sigma
    pixels, scaled to sd 1 (texture, uneven staining, tissue layout)."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return field / (field.std() + 1e-8)
