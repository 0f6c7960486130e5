"""Rollout throughput on Ray with 1 and 2 workers, measured in one run, and where the time goes.

Each worker (a :class:`eval.pool.ProverPool` actor owning a Coq process and a copy of the
policy) runs GRPO-style groups (8 whole-proof attempts per theorem, up to 4 tactics each,
:func:`training.rollout.rollout_task`) on the same synthetic theorems, once with 1 worker and
once with 2. Prints rollout steps (tactics run by the prover) per second, the speed-up (goal on
this 2-core machine: at least 1.6x) and the share of worker time spent in the prover (tactics
and kernel checks) versus the policy (sampling).

Usage: python bench/rollout_scaling.py [--model tiny|PATH] [--theorems 32] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

from eval.pool import ProverPool
from training.rollout import RolloutConfig, rollout_task
from training.synth import generate


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="tiny", help="policy: tiny (untrained) or an SFT folder")
    ap.add_argument("--theorems", type=int, default=32)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    theorems = [t.coq_theorem() for t in generate(args.theorems, seed=123)]
    config = RolloutConfig(group_size=8, max_depth=4, tactic_timeout=2.0)
    kwargs = {"model": args.model, "max_new_tokens": 32, "device": "cpu", "seed": 0}
    results = {}
    for workers in (1, 2):
        records: list[dict] = []  # type: ignore[type-arg]
        with ProverPool("llm", rollout_task, config, agent_kwargs=kwargs, workers=workers) as pool:
            pool.worker_pids()  # actors are up (model loaded) before the clock starts
            pool.map(theorems[:2], lambda _t, _r: None, progress=False)  # warm the provers
            started = time.perf_counter()
            pool.map(theorems, lambda _t, r, into=records: into.append(r), progress=False)
            elapsed = time.perf_counter() - started
        steps = sum(r["steps"] for r in records)
        policy = sum(r["policy_seconds"] for r in records)
        prover = sum(r["prover_seconds"] for r in records)
        proved = sum(t["proved"] for r in records for t in r["trajectories"])
        attempts = sum(len(r["trajectories"]) for r in records)
        results[workers] = {
            "seconds": elapsed,
            "steps": steps,
            "steps_per_s": steps / elapsed,
            "attempts_per_s": attempts / elapsed,
            "proved_attempts": proved,
            "prover_share": prover / max(prover + policy, 1e-9),
            "policy_share": policy / max(prover + policy, 1e-9),
        }
    speedup = results[2]["steps_per_s"] / results[1]["steps_per_s"]
    print(f"rollout scaling: {len(theorems)} synthetic theorems x 8 attempts, policy {args.model}")
    for workers, r in results.items():
        print(
            f"  {workers} worker(s): {r['steps_per_s']:.1f} steps/s, {r['attempts_per_s']:.1f} "
            f"attempts/s ({r['seconds']:.1f} s, {r['proved_attempts']} proved attempts); "
            f"time in prover {r['prover_share']:.0%}, in policy {r['policy_share']:.0%}"
        )
    print(f"  speed-up 2 vs 1 workers: {speedup:.2f}x   (goal >= 1.6x on 2 cores)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"workers": results, "speedup": speedup, "model": args.model}, f, indent=2)


if __name__ == "__main__":
    main()
