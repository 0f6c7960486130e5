"""Best-first search with an LLM tactic policy (any causal LM id or path; default: the tiny
offline model, optionally an SFT checkpoint from `prover-gym sft`).

Usage: python examples/llm_best_first.py [--model tiny|HF_ID|PATH] [--expansions 8]
"""

import argparse

from agents import SearchConfig, best_first_search
from agents.llm import LLMPolicy
from prover_env import CoqBackend, builtin_coq_theorems

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="tiny")
parser.add_argument("--expansions", type=int, default=8)
args = parser.parse_args()

policy = LLMPolicy(args.model, max_new_tokens=24)
budget = SearchConfig(max_expansions=args.expansions, candidates=4, tactic_timeout=2.0)
with CoqBackend() as coq:
    for theorem in builtin_coq_theorems()[:4]:
        result = best_first_search(coq, theorem, policy, budget)
        print(
            f"{theorem.name:<22} proved={result.proved} proof={list(result.proof)} "
            f"expansions={result.expansions} tactic calls={result.tactic_calls}"
        )
print("an untrained model proves nothing: train one with `prover-gym sft` and pass --model")
