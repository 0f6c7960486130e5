"""SFT gain: the tiny model's held-out pass@8 before and after SFT on synthetic traces, in one run.

1. Builds (or reuses, ``--data``) a synthetic dataset traced on Coq (``prover-gym synth``).
2. Fine-tunes the tiny model (``"tiny"``: 3.2M-parameter Llama, byte tokenizer, seed 0) on the
   train split's steps and corrections (``prover-gym sft``).
3. Evaluates the same model untrained (the same seed-0 weights SFT starts from) and the SFT
   checkpoint on the same held-out sample, on Ray: best-first search, 8 attempts per theorem
   (pass@8 and unbiased pass@1), a fixed budget per attempt.

Usage: python bench/sft_gain.py [--data DIR] [--n 2000] [--steps 600] [--heldout 64]
       [--out runs/bench-sft] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from agents import SearchConfig
from eval.ray_runner import RayEvaluator
from eval.runner import EvalConfig
from training.build import SynthConfig, build_dataset
from training.dataset import read_theorems
from training.sft import SFTConfig, train_sft
from training.synth import COQ_HEADER

BUDGET = SearchConfig(
    max_expansions=8, time_limit=60.0, candidates=4, max_depth=8, tactic_timeout=2.0
)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", default=None, help="an existing synth dataset (default: build)")
    ap.add_argument("--n", type=int, default=2000, help="theorems to generate when building")
    ap.add_argument("--steps", type=int, default=600, help="SFT steps (batch 16)")
    ap.add_argument("--heldout", type=int, default=64, help="held-out theorems evaluated")
    ap.add_argument("--attempts", type=int, default=8, help="best-first searches per theorem")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="runs/bench-sft")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    out = Path(args.out)
    report: dict = {"budget": asdict(BUDGET), "attempts": args.attempts}

    data = Path(args.data) if args.data else out / "data"
    if not args.data:
        tick = time.perf_counter()
        manifest = build_dataset(SynthConfig(out=str(data), n=args.n, workers=args.workers))
        report["synth"] = {
            "theorems": manifest["theorems"],
            "proved": manifest["proved"],
            "steps": manifest["steps"],
            "corrections": manifest["corrections"],
            "seconds": round(time.perf_counter() - tick, 1),
        }

    tick = time.perf_counter()
    sft = train_sft(
        SFTConfig(data=[str(data)], model="tiny", out=str(out / "sft"), max_steps=args.steps,
                  save_every=200, eval_every=200, seed=0)
    )  # fmt: skip
    report["training"] = {**sft, "wall_seconds": round(time.perf_counter() - tick, 1)}

    heldout = [t for t in read_theorems(data) if t.split == "heldout" and t.coq is not None][
        : args.heldout
    ]
    from prover_env.types import Theorem

    theorems = [Theorem(t.name, t.coq or "", COQ_HEADER, "coq", "heldout") for t in heldout]
    config = EvalConfig(search="bfs", attempts=args.attempts, ks=(1, args.attempts), budget=BUDGET)
    for label, model in (("untrained", "tiny"), ("sft", str(out / "sft" / "final"))):
        tick = time.perf_counter()
        kwargs = {"model": model, "max_new_tokens": 32, "seed": 0}
        with RayEvaluator("llm", config, agent_kwargs=kwargs, workers=args.workers) as ev:
            summary = ev.run(theorems, out / f"eval-{label}", progress=True)
        summary["wall_seconds"] = round(time.perf_counter() - tick, 1)
        report[label] = summary

    k = args.attempts
    u, s = report["untrained"], report["sft"]
    print(f"\nSFT gain on {len(theorems)} held-out synthetic theorems "
          f"(best-first, {k} attempts x {BUDGET.max_expansions} expansions x "
          f"{BUDGET.candidates} samples)")  # fmt: skip
    print(f"  untrained tiny: pass@1 {u['pass@1']:.3f}  pass@{k} {u[f'pass@{k}']:.3f}  "
          f"({u['proved']} proved, {u['wall_seconds']} s)")  # fmt: skip
    print(f"  after SFT     : pass@1 {s['pass@1']:.3f}  pass@{k} {s[f'pass@{k}']:.3f}  "
          f"({s['proved']} proved, {s['wall_seconds']} s)")  # fmt: skip
    sft_info = report["training"]
    print(
        f"  SFT: {sft_info.get('steps')} steps in {sft_info['wall_seconds']} s, "
        f"train loss {sft_info.get('train_loss')}, eval loss {sft_info.get('eval_loss')}"
    )
    if "synth" in report:
        syn = report["synth"]
        print(f"  data: {syn['theorems']} theorems traced in {syn['seconds']} s "
              f"({syn['steps']} steps, {syn['corrections']} corrections)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
