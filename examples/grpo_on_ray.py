"""GRPO (or expert iteration) on Ray rollout workers, on a small synthetic curriculum.

Builds a small synthetic dataset traced on Coq, then trains from the tiny model (or an SFT
checkpoint) for a few iterations; metrics, a plot and resumable checkpoints go to --out.

Usage: python examples/grpo_on_ray.py [--algo grpo|expert-iteration] [--init tiny|PATH]
       [--iterations 2] [--out runs/example-grpo]
"""

import argparse
from pathlib import Path

from training.build import SynthConfig, build_dataset
from training.grpo import RLConfig, train_rl
from training.rollout import RolloutConfig

parser = argparse.ArgumentParser()
parser.add_argument("--algo", default="grpo", choices=["grpo", "expert-iteration"])
parser.add_argument("--init", default="tiny")
parser.add_argument("--iterations", type=int, default=2)
parser.add_argument("--out", default="runs/example-grpo")
args = parser.parse_args()

data = Path(args.out) / "data"
build_dataset(SynthConfig(out=str(data), n=40, workers=2))
summary = train_rl(
    RLConfig(
        data=str(data),
        algo=args.algo,
        init=args.init,
        out=str(Path(args.out) / "rl"),
        iterations=args.iterations,
        theorems_per_iteration=8,
        rollout=RolloutConfig(4, 3, 2.0),
        workers=2,
        tensorboard=False,
    )
)
print(summary["last"])
print(f"plot: {Path(args.out) / 'rl' / 'training.png'}")
