"""Studies as plug-ins: `register_study`, `get_study`, `list_studies` (timm-style registry).

The built-in studies are the packages of this folder (`medbench.studies.<name>`), imported on
first use. A study elsewhere is a module that registers a `Study` subclass; its study YAML names
it with `module:` (importable, e.g. through PYTHONPATH). See docs/adding-a-study.md.
"""

from __future__ import annotations

import importlib
import pkgutil

from medbench.errors import ConfigError
from medbench.studies.study import Study

_REGISTRY: dict[str, Study] = {}

__all__ = ["Study", "get_study", "list_studies", "register_study"]


def register_study(cls: type[Study]) -> type[Study]:
    """Class decorator: register one instance of a Study subclass under `cls.name`."""
    if cls.name in _REGISTRY:
        raise ValueError(f"study '{cls.name}' registered twice")
    _REGISTRY[cls.name] = cls()
    return cls


def _import(module: str, name: str) -> None:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module.startswith(exc.name):
            raise  # the study module exists, one of its own imports does not
        raise ConfigError(f"unknown study '{name}': no module {module} to import; "
                          f"built in: {list_studies()}") from exc


def get_study(name: str, module: str | None = None) -> Study:
    """The registered study `name`, importing `module` (default: medbench.studies.<name>)."""
    if name not in _REGISTRY:
        _import(module or f"{__name__}.{name}", name)
    if name not in _REGISTRY:
        raise ConfigError(f"module {module or f'{__name__}.{name}'} registers no study '{name}'")
    return _REGISTRY[name]


def list_studies() -> list[str]:
    """Names of the built-in studies and of every study registered so far."""
    for info in pkgutil.iter_modules(__path__):
        if info.ispkg and info.name not in _REGISTRY:
            importlib.import_module(f"{__name__}.{info.name}")
    return sorted(_REGISTRY)
