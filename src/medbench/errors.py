"""Exceptions that carry a user-facing message naming the file and the problem."""


class MedbenchError(Exception):
    """Base class: the CLI prints these without a traceback and exits non-zero."""


class DataError(MedbenchError):
    """One or more input files are missing, unreadable or inconsistent.

    `problems` holds one "<file>: <problem>" line per bad input so that every
    problem is reported at once rather than one per run.
    """

    def __init__(self, summary: str, problems: list[str] | None = None):
        self.problems = list(problems or [])
        lines = [summary] + [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class ConfigError(MedbenchError):
    """A configuration value is missing, misspelt or out of range."""
