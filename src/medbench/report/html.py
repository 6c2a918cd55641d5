"""A result's Markdown as a standalone HTML page: the form the Snakemake report shows on its page
(a Markdown or CSV output is only a download link there)."""

from __future__ import annotations

import html

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.2em;color:#1b1b1b;line-height:1.4}"
    "table{border-collapse:collapse;margin:.8em 0;font-size:.88em}"
    "th,td{border:1px solid #c8c8c8;padding:.25em .5em;text-align:left;vertical-align:top}"
    "th{background:#eef1f4}tr:nth-child(even) td{background:#f8f9fa}"
    "code{background:#f1f1f1;padding:0 .2em;border-radius:2px}h1{font-size:1.35em}h2{font-size:1.1em}"
)


def markdown_page(text: str, title: str) -> str:
    """`text` (Markdown with pipe tables) rendered into a self-contained HTML page."""
    import markdown  # here: only the report verbs need it

    body = markdown.markdown(text, extensions=["tables"], output_format="html")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
            f"</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")
