"""The ``prover-gym`` command line.

Subcommands import what they need when they run, so ``prover-gym --help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``prover-gym`` (all subcommands)."""
    parser = argparse.ArgumentParser(
        prog="prover-gym",
        description="Interactive theorem provers as reinforcement-learning environments.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="the whole recipe on a small budget: synth -> SFT -> RL -> eval, with a report "
        "(--env: a Coq session through the env, step by step)",
        description="Generate synthetic theorems and trace them on Coq, fine-tune a tiny "
        "language model on the traces, improve it with RL from prover feedback on Ray workers, "
        "and evaluate it on held-out theorems with a report and plots (about 5 minutes on 2 idle "
        "CPU cores). With --env: prove the built-in theorems (or a suite's) through the "
        "Gymnasium env with decision procedures as actions, printing every step, the kernel's "
        "verdict and timings.",
    )
    demo.add_argument("--env", action="store_true", help="the env walk-through instead")
    demo.add_argument("--out", default="runs/demo", help="pipeline output folder")
    demo.add_argument("--n", type=int, default=300, help="synthetic theorems (default 300)")
    demo.add_argument("--sft-steps", type=int, default=150, help="SFT steps (default 150)")
    demo.add_argument("--algo", default="grpo", choices=["grpo", "expert-iteration"])
    demo.add_argument("--rl-iterations", type=int, default=4, help="RL iterations (default 4)")
    demo.add_argument("--heldout", type=int, default=32, help="held-out theorems evaluated")
    demo.add_argument("--eval-attempts", type=int, default=8, help="samples per theorem")
    demo.add_argument("--workers", type=int, default=2, help="Ray workers (default 2)")
    demo.add_argument("--suite", default="builtin", help="--env: builtin or minif2f-coq:SPLIT")
    demo.add_argument("--data-dir", default=None, help="--env: suite root ($PROVER_GYM_DATA)")
    demo.add_argument("--limit", type=int, default=8, help="--env: theorems (default 8)")
    demo.add_argument("--timeout", type=float, default=5.0, help="--env: seconds per tactic")
    demo.add_argument("--quiet", action="store_true", help="--env: one line per theorem")

    doctor = sub.add_parser(
        "doctor", help="report which prover backends work here and how to fix the rest"
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument(
        "--lean-project",
        default=None,
        metavar="PATH",
        help="Lean project to check (default: $PROVER_GYM_LEAN_PROJECT, else the current "
        "directory if it has a lakefile)",
    )

    play = sub.add_parser("play", help="step through a theorem interactively, typing tactics")
    play.add_argument("theorem", nargs="?", default=None, help="theorem name (default: sampled)")
    play.add_argument("--suite", default="builtin", help="builtin (default) or minif2f-coq:SPLIT")
    play.add_argument("--data-dir", default=None, help="suite root (default: $PROVER_GYM_DATA)")
    play.add_argument("--file", default=None, help="a .v file to take theorems from")
    play.add_argument("--timeout", type=float, default=10.0, help="seconds per tactic")

    from prover_env.commands.evaluate import add_eval_parser

    add_eval_parser(sub)

    from prover_env.commands.sft import add_sft_parser
    from prover_env.commands.synth import add_synth_parser

    add_synth_parser(sub)
    add_sft_parser(sub)

    from prover_env.commands.data import add_import_parser
    from prover_env.commands.train import add_train_parser

    add_train_parser(sub)
    add_import_parser(sub)

    suite = sub.add_parser("suite", help="list a suite's theorems, or check which ones elaborate")
    suite.add_argument("name", help="builtin, minif2f-coq:SPLIT, or a directory/file of .v files")
    suite.add_argument("--data-dir", default=None, help="suite root (default: $PROVER_GYM_DATA)")
    suite.add_argument(
        "--check", action="store_true", help="start each theorem in Coq and report unusable ones"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``prover-gym``; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from prover_env.error import ProverGymError

    try:
        if args.command == "demo":
            from prover_env.commands.demo import run_demo

            return run_demo(args)
        if args.command == "doctor":
            from prover_env.commands.doctor import run_doctor

            return run_doctor(args)
        if args.command == "play":
            from prover_env.commands.play import run_play

            return run_play(args)
        if args.command == "eval":
            from prover_env.commands.evaluate import run_eval

            return run_eval(args)
        if args.command == "synth":
            from prover_env.commands.synth import run_synth

            return run_synth(args)
        if args.command == "sft":
            from prover_env.commands.sft import run_sft

            return run_sft(args)
        if args.command == "train":
            from prover_env.commands.train import run_train

            return run_train(args)
        if args.command == "import-leandojo":
            from prover_env.commands.data import run_import

            return run_import(args)
        if args.command == "suite":
            from prover_env.commands.suite import run_suite

            return run_suite(args)
    except ProverGymError as e:
        print(f"prover-gym {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
