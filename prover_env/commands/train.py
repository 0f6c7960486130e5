"""``prover-gym train``: RL from prover feedback (GRPO, expert iteration, or RLlib PPO) on Ray."""

from __future__ import annotations

import argparse
import json

__all__ = ["add_train_parser", "run_train"]


def add_train_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The ``train`` subcommand's options."""
    p = sub.add_parser(
        "train",
        help="RL from prover feedback on Ray (grpo, expert-iteration, ppo); resumable",
        description="Improve a tactic policy by proving theorems: rollout workers (Ray actors "
        "owning Coq processes) attempt theorems drawn from the curriculum, reward comes only "
        "from kernel-verified proofs, and the learner updates the policy and broadcasts fresh "
        "weights each iteration. Checkpoints (model, optimizer, curriculum, RNG) resume after a "
        "kill; metrics in OUT/metrics.csv and TensorBoard, a plot in OUT/training.png. On a "
        "multi-node cluster pass --address (e.g. auto) and more --workers.",
    )
    p.add_argument("--algo", default="grpo", choices=["grpo", "expert-iteration", "ppo"])
    p.add_argument("--suite", required=True, help="synth:DIR (a prover-gym synth dataset)")
    p.add_argument("--init", default="tiny", help="tiny, a HF id, or a checkpoint (SFT final/)")
    p.add_argument("--out", default="runs/rl", help="output folder (resumes if it holds a run)")
    p.add_argument("--workers", type=int, default=2, help="rollout workers (Ray actors)")
    p.add_argument("--address", default=None, help="Ray cluster address (default: local)")
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--theorems", type=int, default=16, help="theorems per iteration")
    p.add_argument("--group", type=int, default=8, help="attempts per theorem")
    p.add_argument("--max-depth", type=int, default=4, help="tactics per attempt")
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument(
        "--kl-beta",
        type=float,
        default=0.0,
        help="grpo: KL penalty to the --init policy (TRL's beta; default 0: none)",
    )
    p.add_argument("--tactic-timeout", type=float, default=2.0, help="seconds per tactic")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-tensorboard", action="store_true")
    p.add_argument("--no-progress", action="store_true")


def run_train(args: argparse.Namespace) -> int:
    """Train; print the summary as JSON."""
    if not args.suite.startswith("synth:"):
        print("prover-gym train: --suite must be synth:DIR (build one with `prover-gym synth`)")
        return 2
    data = args.suite[len("synth:") :].split(":", 1)[0]
    if args.algo == "ppo":
        from training.ppo import PPORunConfig, train_ppo

        summary = train_ppo(
            PPORunConfig(
                data=data, init=args.init, out=args.out, iterations=args.iterations,
                workers=args.workers, address=args.address, lr=args.lr, seed=args.seed,
                tactic_timeout=args.tactic_timeout, max_steps=args.max_depth,
            ),
            progress=not args.no_progress,
        )  # fmt: skip
    else:
        from training.grpo import RLConfig, train_rl
        from training.rollout import RolloutConfig

        summary = train_rl(
            RLConfig(
                data=data, algo=args.algo, init=args.init, out=args.out,
                iterations=args.iterations, theorems_per_iteration=args.theorems,
                rollout=RolloutConfig(args.group, args.max_depth, args.tactic_timeout),
                temperature=args.temperature, lr=args.lr, workers=args.workers,
                address=args.address, seed=args.seed, tensorboard=not args.no_tensorboard,
                kl_beta=args.kl_beta,
            ),
            progress=not args.no_progress,
        )  # fmt: skip
    print(json.dumps(summary, indent=2, default=str))
    return 0
