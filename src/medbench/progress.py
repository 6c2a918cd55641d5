"""Progress bars that stay readable in log files (Snakemake redirects each rule's output)."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress(iterable=None, **kwargs) -> tqdm:
    """tqdm, refreshing every 0.1 s on a terminal and at most every 30 s in a log file."""
    kwargs.setdefault("mininterval", 0.1 if sys.stderr.isatty() else 30.0)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)
