"""MiniF2F-Coq evaluation with a report: the automation baseline on Ray workers.

Needs the MiniF2F-rocq statements: set PROVER_GYM_DATA to a folder holding minif2f-rocq/
(`git clone https://github.com/LLM4Rocq/miniF2F-rocq minif2f-rocq`). Evaluate on `valid`;
keep `test` for the final number.

Usage: python examples/minif2f_eval.py [--limit 8] [--split valid] [--out runs/example-minif2f]
"""

import argparse

from agents import SearchConfig
from eval.ray_runner import RayEvaluator
from eval.report import write_report
from eval.runner import EvalConfig
from prover_env import load_minif2f_coq

parser = argparse.ArgumentParser()
parser.add_argument("--limit", type=int, default=8)
parser.add_argument("--split", default="valid")
parser.add_argument("--out", default="runs/example-minif2f")
args = parser.parse_args()

theorems = load_minif2f_coq(args.split)[: args.limit]
config = EvalConfig(budget=SearchConfig(max_expansions=1, candidates=17, tactic_timeout=3.0))
with RayEvaluator("automation", config, workers=2) as evaluator:
    summary = evaluator.run(theorems, args.out)
print({k: summary[k] for k in ("theorems", "usable", "proved", "pass@1")})
print(f"report: {write_report(args.out)}")
