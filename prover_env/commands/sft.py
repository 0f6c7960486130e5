"""``prover-gym sft``: supervised fine-tuning of a tactic model on proof-step datasets."""

from __future__ import annotations

import argparse
import json

__all__ = ["add_sft_parser", "run_sft"]


def add_sft_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The ``sft`` subcommand's options."""
    p = sub.add_parser(
        "sft",
        help="fine-tune a tactic model on proof-step datasets (SFT warm start); resumable",
        description="Train a causal LM to predict the next tactic from the goals (and, for "
        "correction records, the failed tactic and its error), with checkpoints in Hugging "
        "Face format under OUT/checkpoint-STEP; a rerun on the same OUT resumes from the "
        "latest one. The trained model is OUT/final (`prover-gym eval --agent llm --model "
        "OUT/final`); metrics in OUT/metrics.csv and OUT/tb.",
    )
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="dataset dirs or files")
    p.add_argument("--model", default="tiny", help="tiny (default), a Hugging Face id, or a path")
    p.add_argument("--out", default="runs/sft", help="output folder (resumed from if it has one)")
    p.add_argument("--epochs", type=int, default=1, help="passes over the data (default 1)")
    p.add_argument("--max-steps", type=int, default=None, help="optimizer steps (overrides epochs)")
    p.add_argument("--batch-size", type=int, default=16, help="examples per step (default 16)")
    p.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (default 3e-4)")
    p.add_argument("--max-length", type=int, default=1024, help="longest example in tokens")
    p.add_argument(
        "--prompt-format",
        default="both",
        choices=["both", "plain", "correction"],
        help="both: plain prompts for steps, correction prompts for corrections (default); "
        "plain: step records only; correction: correction records only",
    )
    p.add_argument("--eval-fraction", type=float, default=0.05, help="theorems held out for eval")
    p.add_argument("--save-every", type=int, default=200, help="steps between checkpoints")
    p.add_argument("--eval-every", type=int, default=200, help="steps between eval losses")
    p.add_argument("--log-every", type=int, default=10, help="steps between metrics rows")
    p.add_argument("--threads", type=int, default=None, help="torch threads (1 beside provers)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda...")
    p.add_argument("--seed", type=int, default=0, help="model init, eval split and data order")
    p.add_argument("--no-tensorboard", action="store_true", help="metrics.csv only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--no-group-by-length", action="store_true", help="batches of any lengths (more padding)"
    )


def run_sft(args: argparse.Namespace) -> int:
    """Train; print the summary as JSON."""
    from training.sft import SFTConfig, train_sft

    config = SFTConfig(
        data=list(args.data),
        model=args.model,
        out=args.out,
        prompt_format=args.prompt_format,
        eval_fraction=args.eval_fraction,
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        group_by_length=not args.no_group_by_length,
        lr=args.lr,
        max_length=args.max_length,
        save_every=args.save_every,
        eval_every=args.eval_every,
        log_every=args.log_every,
        seed=args.seed,
        num_threads=args.threads,
        device=args.device,
        tensorboard=not args.no_tensorboard,
    )
    print(f"prover-gym sft: {args.model} on {' '.join(args.data)} -> {args.out}", flush=True)
    summary = train_sft(config, progress=not args.no_progress)
    print(json.dumps(summary, indent=2))
    return 0
