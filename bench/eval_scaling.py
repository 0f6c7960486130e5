"""Evaluation throughput on Ray with 1 and 2 workers, measured in one run, and memory per worker.

Runs the automation baseline (one expansion, every decision procedure, 3 s each) on the first
N MiniF2F-Coq valid statements (or the built-in theorems, repeated, when MiniF2F is not found),
once with 1 Ray worker and once with 2, and prints theorems/second, the speed-up (goal on this
2-core machine: at least 1.6x) and the resident memory of each worker with its provers.

Usage: python bench/eval_scaling.py [--theorems 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace

import psutil

from agents import SearchConfig
from eval.ray_runner import RayEvaluator
from eval.runner import EvalConfig
from prover_env import DataNotFoundError, builtin_coq_theorems, load_minif2f_coq


def _theorems(n: int) -> tuple[list, str]:  # type: ignore[type-arg]
    try:
        return load_minif2f_coq("valid")[:n], "MiniF2F-Coq valid"
    except DataNotFoundError:
        base = builtin_coq_theorems()
        out = [
            replace(base[i % len(base)], name=f"{base[i % len(base)].name}_{i}") for i in range(n)
        ]
        return out, "built-in theorems"


def _rss_mib(pid: int) -> float:
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--theorems", type=int, default=40)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    theorems, source = _theorems(args.theorems)
    config = EvalConfig(budget=SearchConfig(max_expansions=1, candidates=17, tactic_timeout=3.0))
    results = {}
    for workers in (1, 2):
        with (
            RayEvaluator("automation", config, workers=workers) as ev,
            tempfile.TemporaryDirectory() as out,
        ):
            ev.worker_pids()  # actors are up before the clock starts
            started = time.perf_counter()
            summary = ev.run(theorems, out, progress=False)
            elapsed = time.perf_counter() - started
            memory = [_rss_mib(pid) for pid in ev.worker_pids()]
        results[workers] = {
            "seconds": elapsed,
            "theorems_per_s": len(theorems) / elapsed,
            "proved": summary["proved"],
            "worker_rss_mib": memory,
        }
    speedup = results[2]["theorems_per_s"] / results[1]["theorems_per_s"]
    print(f"eval scaling on {len(theorems)} {source} (automation, 1 expansion, 3 s per tactic)")
    for workers, r in results.items():
        mem = ", ".join(f"{m:.0f}" for m in r["worker_rss_mib"])
        print(
            f"  {workers} worker(s): {r['theorems_per_s']:.2f} theorems/s ({r['seconds']:.1f} s, "
            f"{r['proved']} proved), RSS per worker with its provers: {mem} MiB"
        )
    print(f"  speed-up 2 vs 1 workers: {speedup:.2f}x   (goal >= 1.6x on 2 cores)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"workers": results, "speedup": speedup, "source": source}, f, indent=2)


if __name__ == "__main__":
    main()
