"""MkDocs hooks: the command-line page is rendered from the real argument parser, so the docs
and ``prover-gym --help`` cannot disagree.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

MARKER = "<!-- prover-gym --help -->"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_reference() -> str:
    """Markdown with ``prover-gym --help`` and every subcommand's ``--help``."""
    from prover_env.cli import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; keep the page stable
    parser = build_parser()
    parts = ["## `prover-gym`", "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, sub in _subcommands(parser).items():
        parts += [f"## `prover-gym {name}`", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Replace the marker on the CLI page with the parser's help texts."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference())
