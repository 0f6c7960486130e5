"""``prover-gym import-leandojo``: turn a LeanDojo Benchmark 4 split into a proof-step dataset."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_import_parser", "run_import"]


def add_import_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The ``import-leandojo`` subcommand's options."""
    p = sub.add_parser(
        "import-leandojo",
        help="convert a LeanDojo Benchmark 4 split file into steps.jsonl/theorems.jsonl",
        description="Read a LeanDojo Benchmark 4 split file (a JSON list of traced theorems, "
        "e.g. leandojo_benchmark_4/random/train.json) and write OUT/steps.jsonl, "
        "OUT/theorems.jsonl and OUT/manifest.json in prover-gym's dataset format. Prints the "
        "counts as JSON.",
    )
    p.add_argument("file", metavar="FILE", help="the benchmark's split file (JSON)")
    p.add_argument("--out", required=True, metavar="DIR", help="output dataset folder")
    p.add_argument(
        "--split", default=None, metavar="NAME", help="split name (default: FILE's stem)"
    )


def run_import(args: argparse.Namespace) -> int:
    """Import; print the counts as JSON. Returns 2 (with the reason on stderr) on bad input."""
    from training.leandojo import import_leandojo

    try:
        counts = import_leandojo(args.file, args.out, split=args.split)
    except (OSError, ValueError) as e:
        print(f"prover-gym import-leandojo: {e}", file=sys.stderr)
        return 2
    print(json.dumps(counts, indent=2))
    return 0
