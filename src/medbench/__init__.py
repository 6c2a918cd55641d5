"""medbench: reproducible benchmark pipeline for transformer / multi-task medical-imaging studies."""

__version__ = "0.1.0"
