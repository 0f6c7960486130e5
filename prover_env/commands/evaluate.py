"""``prover-gym eval``: an agent with a search on a suite, sequential or on Ray workers."""

from __future__ import annotations

import argparse
import json

__all__ = ["add_eval_parser", "run_eval"]


def add_eval_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The ``eval`` subcommand's options."""
    p = sub.add_parser(
        "eval",
        help="evaluate an agent on a suite (pass@k), in parallel on Ray; resumable",
        description="Run an agent with best-first search or whole-proof sampling on every "
        "theorem of a suite; one JSON line per theorem in OUT/results.jsonl (resumes from it), "
        "OUT/summary.json with pass@k, and a report with a plot.",
    )
    p.add_argument(
        "--suite",
        default="builtin",
        help="builtin, minif2f-coq:SPLIT, minif2f-lean:SPLIT, a dir or a file",
    )
    p.add_argument("--data-dir", default=None, help="suite root (default: $PROVER_GYM_DATA)")
    p.add_argument("--agent", default="automation", choices=["automation", "random", "llm"])
    p.add_argument("--model", default="tiny", help="for --agent llm: tiny, a HF id or a path")
    p.add_argument("--search", default="bfs", choices=["bfs", "sample"])
    p.add_argument("--attempts", type=int, default=1, help="attempts per theorem (n of pass@k)")
    p.add_argument("--k", type=int, nargs="*", default=None, help="k values (default: 1 and n)")
    p.add_argument("--max-expansions", type=int, default=64, help="search budget per attempt")
    p.add_argument("--candidates", type=int, default=17, help="tactics asked per state")
    p.add_argument("--tactic-timeout", type=float, default=3.0, help="seconds per tactic")
    p.add_argument("--time-limit", type=float, default=120.0, help="seconds per search")
    p.add_argument("--limit", type=int, default=None, help="only the first N theorems")
    p.add_argument("--workers", type=int, default=1, help="Ray workers (1: no Ray)")
    p.add_argument("--address", default=None, help="Ray cluster address (default: local)")
    p.add_argument("--out", default="runs/eval", help="output folder")
    p.add_argument("--report", default="md", choices=["md", "html", "none"])


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate; print the summary as JSON."""
    from agents.search import SearchConfig
    from eval.runner import EvalConfig
    from prover_env.commands.common import load_suite

    theorems = load_suite(args.suite, args.data_dir)[: args.limit]
    language = theorems[0].language if theorems else "coq"
    backend = "lean" if language == "lean4" else "coq"
    ks = tuple(args.k) if args.k else tuple(sorted({1, args.attempts}))
    config = EvalConfig(
        search=args.search,
        attempts=args.attempts,
        ks=ks,
        budget=SearchConfig(
            max_expansions=args.max_expansions,
            time_limit=args.time_limit,
            candidates=args.candidates,
            tactic_timeout=args.tactic_timeout,
        ),
    )
    agent_kwargs = {"model": args.model} if args.agent == "llm" else {}
    print(
        f"prover-gym eval: {len(theorems)} theorems from {args.suite}, agent {args.agent}, "
        f"{args.search}, {args.attempts} attempt(s), {args.workers} worker(s) -> {args.out}"
    )
    if args.workers > 1 or args.address:
        from eval.ray_runner import RayEvaluator

        with RayEvaluator(
            args.agent,
            config,
            agent_kwargs=agent_kwargs,
            backend=backend,
            workers=args.workers,
            address=args.address,
        ) as evaluator:
            summary = evaluator.run(theorems, args.out)
    else:
        from tqdm import tqdm

        from agents.factory import make_agent
        from eval.runner import evaluate
        from prover_env.env import make_backend

        agent = make_agent(args.agent, **agent_kwargs)
        summary = evaluate(
            theorems,
            agent,
            lambda: make_backend(backend),
            config,
            args.out,
            progress=lambda it: tqdm(it, desc="theorems", unit="thm"),
        )
    if args.report != "none":
        from eval.report import write_report

        summary["report"] = str(write_report(args.out, args.report))
    print(json.dumps(summary, indent=2))
    return 0
