"""``prover-gym synth``: generate synthetic theorems and trace their proofs on Coq."""

from __future__ import annotations

import argparse
import json

__all__ = ["add_synth_parser", "run_synth"]


def add_synth_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The ``synth`` subcommand's options."""
    from training.synth import FAMILIES

    p = sub.add_parser(
        "synth",
        help="generate synthetic theorems and trace their proofs on Coq (JSONL dataset)",
        description="Draw theorems from parameterized families (Coq and Lean 4 renderings), "
        "prove each on Coq with best-first search, and record every step, every failed attempt "
        "with the prover's error and the tactic that then worked, and difficulty labels. "
        "Writes OUT/theorems.jsonl, OUT/steps.jsonl, OUT/manifest.json; resumes from them.",
    )
    p.add_argument("--out", default="runs/synth", help="output folder (default runs/synth)")
    p.add_argument("--n", type=int, default=2000, help="theorems to generate (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument(
        "--families", nargs="*", default=None, choices=sorted(FAMILIES), help="default: all"
    )
    p.add_argument("--levels", type=int, nargs="*", default=None, help="default: all (1-3)")
    p.add_argument("--heldout", type=float, default=0.1, help="held-out share (default 0.1)")
    p.add_argument(
        "--agent", default="steps", choices=["steps", "automation", "llm"], help="tracing agent"
    )
    p.add_argument("--model", default=None, help="for --agent llm: tiny, a HF id or a path")
    p.add_argument("--workers", type=int, default=2, help="Ray workers (1: no Ray)")
    p.add_argument("--address", default=None, help="Ray cluster address (default: local)")
    p.add_argument("--max-expansions", type=int, default=24, help="search budget per theorem")
    p.add_argument("--tactic-timeout", type=float, default=2.0, help="seconds per tactic")
    p.add_argument("--time-limit", type=float, default=30.0, help="seconds per theorem")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_synth(args: argparse.Namespace) -> int:
    """Build the dataset; print its manifest's counts as JSON."""
    from agents.search import SearchConfig
    from training.build import SynthConfig, build_dataset
    from training.trace import TraceConfig

    if args.n < 1 or args.workers < 1:
        raise SystemExit("prover-gym synth: --n and --workers must be at least 1")
    agent_kwargs = {"model": args.model} if args.agent == "llm" and args.model else {}
    config = SynthConfig(
        out=args.out,
        n=args.n,
        seed=args.seed,
        families=tuple(args.families) if args.families else None,
        levels=tuple(args.levels) if args.levels else None,
        heldout_fraction=args.heldout,
        agent=args.agent,
        agent_kwargs=agent_kwargs,
        workers=args.workers,
        address=args.address,
        trace=TraceConfig(
            search=SearchConfig(
                max_expansions=args.max_expansions,
                time_limit=args.time_limit,
                candidates=24,
                max_depth=16,
                tactic_timeout=args.tactic_timeout,
            )
        ),
        tactic_timeout=args.tactic_timeout,
    )
    try:
        manifest = build_dataset(config, progress=not args.no_progress)
    except ValueError as e:
        print(f"prover-gym synth: {e}")
        return 2
    shown = {k: v for k, v in manifest.items() if k not in ("config", "coq_header", "lean_header")}
    print(json.dumps(shown, indent=2))
    return 0
