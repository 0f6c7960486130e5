"""The whole recipe on a small budget: synth -> SFT -> RL -> eval (``prover-gym demo`` and
``bench/rl_gain.py``).

Every stage is the real one (Coq processes, Ray workers, the transformers model) with a small
budget; each writes into its own folder under ``out`` and resumes from it when rerun.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.search import SearchConfig
from eval.runner import EvalConfig

__all__ = ["PipelineConfig", "evaluate_policy", "run_pipeline"]


@dataclass(frozen=True)
class PipelineConfig:
    """Budgets of each stage.

    Attributes:
        out: Output folder (``data/``, ``sft/``, ``rl/``, ``eval-*/``, ``summary.json``).
        n: Synthetic theorems to generate and trace.
        sft_steps: SFT steps (batch 16) of the tiny model.
        rl_algo: ``"grpo"`` or ``"expert-iteration"``.
        rl_iterations: RL iterations.
        rl_theorems: Theorems per RL iteration.
        rl_group: Attempts per theorem per RL iteration.
        heldout: Held-out theorems evaluated (never trained on).
        eval_attempts: Whole-proof samples per held-out theorem (pass@k's n).
        workers: Ray workers for tracing, rollouts and evaluation.
        seed: Seed of every stage.
    """

    out: str = "runs/demo"
    n: int = 300
    sft_steps: int = 150
    rl_algo: str = "grpo"
    rl_iterations: int = 4
    rl_theorems: int = 16
    rl_group: int = 8
    heldout: int = 32
    eval_attempts: int = 8
    workers: int = 2
    seed: int = 0
    eval_budget: SearchConfig = field(
        default_factory=lambda: SearchConfig(
            max_expansions=64, time_limit=60.0, candidates=1, max_depth=4, tactic_timeout=2.0
        )
    )


def evaluate_policy(
    model: str, theorems: list[Any], out: Path, config: PipelineConfig
) -> dict[str, Any]:
    """Held-out pass@1 and pass@k of a policy by whole-proof sampling on Ray, with a report."""
    from eval.ray_runner import RayEvaluator
    from eval.report import write_report

    k = config.eval_attempts
    ev_cfg = EvalConfig(search="sample", attempts=k, ks=(1, k), budget=config.eval_budget)
    kwargs = {"model": model, "max_new_tokens": 32, "seed": config.seed, "device": "cpu"}
    tick = time.perf_counter()
    with RayEvaluator("llm", ev_cfg, agent_kwargs=kwargs, workers=config.workers) as ev:
        summary = ev.run(theorems, out, progress=True)
    summary["wall_seconds"] = round(time.perf_counter() - tick, 1)
    summary["report"] = str(write_report(out))
    return summary


def run_pipeline(
    config: PipelineConfig, say: Callable[[str], None] = print, evaluate_sft: bool = True
) -> dict[str, Any]:
    """Run every stage; returns (and writes ``OUT/summary.json``) what each measured."""
    from eval.report import plot_curves
    from training.build import SynthConfig, build_dataset
    from training.dataset import coq_theorems
    from training.grpo import RLConfig, train_rl
    from training.rollout import RolloutConfig
    from training.sft import SFTConfig, train_sft

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"config": asdict(config)}

    say(f"[1/4] synth: {config.n} theorems, traced on Coq by {config.workers} Ray workers")
    tick = time.perf_counter()
    manifest = build_dataset(
        SynthConfig(out=str(out / "data"), n=config.n, seed=config.seed, workers=config.workers)
    )
    report["synth"] = {k: manifest[k] for k in ("theorems", "proved", "steps", "corrections")}
    report["synth"]["seconds"] = round(time.perf_counter() - tick, 1)
    say(f"      {json.dumps(report['synth'])}")

    say(f"[2/4] sft: tiny model, {config.sft_steps} steps on the train split")
    tick = time.perf_counter()
    sft = train_sft(
        SFTConfig(
            data=[str(out / "data")],
            model="tiny",
            out=str(out / "sft"),
            max_steps=config.sft_steps,
            save_every=50,
            eval_every=50,
            seed=config.seed,
            tensorboard=False,
        )
    )
    plot_curves(
        _csv_rows(out / "sft" / "metrics.csv"),
        "step",
        ("loss", "eval_loss"),
        out / "sft" / "loss.png",
        "SFT loss (tactic tokens)",
    )
    report["sft"] = {
        "steps": sft["steps"],
        "train_loss": round(sft["train_loss"], 4),
        "eval_loss": round(sft["eval_loss"] or 0, 4),
        "seconds": round(time.perf_counter() - tick, 1),
    }
    say(f"      {json.dumps(report['sft'])}")

    say(
        f"[3/4] rl: {config.rl_algo}, {config.rl_iterations} iterations x {config.rl_theorems} "
        f"theorems x {config.rl_group} attempts, from the SFT checkpoint"
    )
    tick = time.perf_counter()
    rl = train_rl(
        RLConfig(
            data=str(out / "data"),
            algo=config.rl_algo,
            init=str(out / "sft" / "final"),
            out=str(out / "rl"),
            iterations=config.rl_iterations,
            theorems_per_iteration=config.rl_theorems,
            rollout=RolloutConfig(config.rl_group, 4, 2.0),
            workers=config.workers,
            seed=config.seed,
            tensorboard=False,
        )
    )
    rows = _csv_rows(out / "rl" / "metrics.csv")
    report["rl"] = {
        "reward_by_iteration": [float(r["reward_mean"]) for r in rows],
        "seconds": round(time.perf_counter() - tick, 1),
        "final": rl["final"],
    }
    say(f"      {json.dumps(report['rl'])}")

    held = [t for _, t in coq_theorems(out / "data", "heldout")][: config.heldout]
    say(f"[4/4] eval: {len(held)} held-out theorems, {config.eval_attempts} sampled proofs each")
    if evaluate_sft:
        report["eval_sft"] = evaluate_policy(
            str(out / "sft" / "final"), held, out / "eval-sft", config
        )
    report["eval_rl"] = evaluate_policy(rl["final"], held, out / "eval-rl", config)
    for key in ("eval_sft", "eval_rl"):
        if key in report:
            r = report[key]
            k = config.eval_attempts
            say(
                f"      {key}: pass@1 {r['pass@1']:.3f}  pass@{k} {r[f'pass@{k}']:.3f}  "
                f"({r['proved']}/{r['usable']} proved)  report: {r['report']}"
            )
    (out / "summary.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    return report


def _csv_rows(path: Path) -> list[dict[str, Any]]:
    import csv

    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))
