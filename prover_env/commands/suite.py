"""``prover-gym suite``: list a suite, or check which of its statements elaborate."""

from __future__ import annotations

import argparse
import json

__all__ = ["run_suite"]


def run_suite(args: argparse.Namespace) -> int:
    """List theorem names, or (``--check``) start each one in Coq and report unusable ones."""
    from prover_env.commands.common import load_suite

    theorems = load_suite(args.name, args.data_dir)
    if not args.check:
        for theorem in theorems:
            print(theorem.name)
        print(f"{len(theorems)} theorems")
        return 0
    from tqdm import tqdm

    from prover_env.coq.backend import CoqBackend
    from prover_env.suites import check_suite

    with CoqBackend() as coq:
        report = check_suite(
            theorems, coq, progress=lambda it: tqdm(it, desc="elaborating", unit="thm")
        )
    for name, message in report.unusable.items():
        print(f"unusable {name}: {' '.join(message.split())[:200]}")
    print(
        json.dumps(
            {
                "theorems": len(theorems),
                "usable": len(report.usable),
                "unusable": len(report.unusable),
            }
        )
    )
    return 0
