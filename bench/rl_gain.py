"""RL gain: held-out pass rate of the SFT warm start and of the same model after RL, in one run.

Runs the whole recipe (:func:`training.pipeline.run_pipeline`): synthetic theorems traced on
Coq, SFT of the tiny model (a short warm start), RL from prover feedback on Ray rollout workers
(GRPO by default) on the train split's curriculum, then both checkpoints on the same held-out
theorems (whole-proof sampling, 8 attempts each: pass@1 and pass@8).

Usage: python bench/rl_gain.py [--n 600] [--sft-steps 150] [--iterations 10]
       [--algo grpo|expert-iteration] [--out runs/bench-rl] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from training.pipeline import PipelineConfig, run_pipeline


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--sft-steps", type=int, default=150)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--algo", default="grpo", choices=["grpo", "expert-iteration"])
    ap.add_argument("--heldout", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="runs/bench-rl")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    config = PipelineConfig(
        out=args.out,
        n=args.n,
        sft_steps=args.sft_steps,
        rl_algo=args.algo,
        rl_iterations=args.iterations,
        heldout=args.heldout,
        workers=args.workers,
    )
    started = time.perf_counter()
    report = run_pipeline(config)
    sft, rl, k = report["eval_sft"], report["eval_rl"], config.eval_attempts
    print(f"\nRL gain on {sft['usable']} held-out synthetic theorems ({k} sampled proofs each)")
    print(
        f"  SFT warm start ({report['sft']['steps']} steps): pass@1 {sft['pass@1']:.3f}  "
        f"pass@{k} {sft[f'pass@{k}']:.3f}  ({sft['proved']} proved)"
    )
    print(
        f"  after {args.algo} ({args.iterations} iterations): pass@1 {rl['pass@1']:.3f}  "
        f"pass@{k} {rl[f'pass@{k}']:.3f}  ({rl['proved']} proved)"
    )
    rewards = report["rl"]["reward_by_iteration"]
    print(f"  train reward by iteration: {', '.join(f'{r:.3f}' for r in rewards)}")
    print(
        f"  times: synth {report['synth']['seconds']} s, sft {report['sft']['seconds']} s, "
        f"rl {report['rl']['seconds']} s, total {time.perf_counter() - started:.0f} s"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
