"""PPO through RLlib on the tokenized prover env: ``prover-gym train --algo ppo``.

The algorithm is RLlib's (new API stack, :func:`training.rllib_module.build_ppo_config`: the LLM
RLModule with a value head, exact sequence log-probs by teacher forcing, a compact action
distribution). This file runs it like the other trainers: theorems from a synthetic dataset's
train split, one ``algo.train()`` per iteration, a metrics row (CSV, TensorBoard) and a plot per
iteration, and an RLlib checkpoint per iteration (``algo.save_to_path``) that a rerun resumes
from (``Algorithm.from_checkpoint``). ``final/`` holds the policy in Hugging Face format.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["PPORunConfig", "train_ppo"]

_FIELDS = ("iteration", "episodes", "env_steps", "return_mean", "policy_loss", "vf_loss",
           "seconds")  # fmt: skip


@dataclass(frozen=True)
class PPORunConfig:
    """Settings of :func:`train_ppo`.

    Attributes:
        data: Synthetic dataset directory (its ``train`` split is sampled).
        init: Starting policy: ``"tiny"``, a Hugging Face id, or an SFT checkpoint folder.
        out: Output folder (resumes when it holds checkpoints).
        iterations: ``algo.train()`` calls in all.
        workers: RLlib env runners (each owns its Coq process).
        address: Ray cluster address (``None``: a local cluster on loopback).
        train_batch_size: Env steps per iteration.
        minibatch_size: Rows per SGD step.
        lr: Learning rate.
        max_steps: Tactics per episode.
        tactic_timeout: Seconds per tactic.
        seed: Seed of RLlib and the envs.
    """

    data: str
    init: str = "tiny"
    out: str = "runs/ppo"
    iterations: int = 10
    workers: int = 2
    address: str | None = None
    train_batch_size: int = 64
    minibatch_size: int = 16
    lr: float = 1e-5
    max_steps: int = 4
    tactic_timeout: float = 2.0
    seed: int = 0


def _metric(result: dict[str, Any], *path: str) -> Any:
    node: Any = result
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def train_ppo(config: PPORunConfig, progress: bool = True) -> dict[str, Any]:
    """Run PPO for ``config.iterations`` (resuming from ``config.out``); returns a summary."""
    import ray
    from ray.rllib.algorithms.algorithm import Algorithm
    from tqdm import tqdm

    from eval.report import plot_curves
    from training.rllib_env import register_rllib_env
    from training.rllib_module import build_ppo_config

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpts = sorted(
        (p for p in out.glob("checkpoint-*") if (p / "done.json").is_file()),
        key=lambda p: int(p.name.split("-")[1]),
    )
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if config.address is None:
            kwargs |= {"num_cpus": max(2, config.workers + 1), "_node_ip_address": "127.0.0.1"}
        ray.init(address=config.address, **kwargs)
    name = register_rllib_env()
    env_config = {
        "theorems": {"synth": config.data, "split": "train"},
        "max_steps": config.max_steps,
        "tactic_timeout": config.tactic_timeout,
        "seed": config.seed,
    }
    if ckpts:
        algo = Algorithm.from_checkpoint(str(ckpts[-1].resolve()))
        start = json.loads((ckpts[-1] / "done.json").read_text())["iteration"]
        print(f"train: resuming PPO from {ckpts[-1]} after iteration {start}", file=sys.stderr)
    else:
        ppo = build_ppo_config(
            env_config, config.init, env_name=name, num_env_runners=config.workers,
            train_batch_size=config.train_batch_size, minibatch_size=config.minibatch_size,
            lr=config.lr, seed=config.seed,
        )  # fmt: skip
        algo, start = ppo.build_algo(), 0
    path = out / "metrics.csv"
    rows = []
    if path.exists():
        with path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(float(r["iteration"])) <= start]
    try:
        todo = range(start + 1, config.iterations + 1)
        bar = tqdm(todo, desc="ppo", initial=start, total=config.iterations, disable=not progress)
        for iteration in bar:
            tick = time.perf_counter()
            result = algo.train()
            learner = _metric(result, "learners", "default_policy") or {}
            rows.append({
                "iteration": iteration,
                "episodes": _metric(result, "env_runners", "num_episodes"),
                "env_steps": _metric(result, "env_runners", "num_env_steps_sampled"),
                "return_mean": _metric(result, "env_runners", "episode_return_mean"),
                "policy_loss": learner.get("policy_loss"),
                "vf_loss": learner.get("vf_loss"),
                "seconds": round(time.perf_counter() - tick, 2),
            })  # fmt: skip
            with path.open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=_FIELDS)
                w.writeheader()
                w.writerows({k: _plain(v) for k, v in r.items()} for r in rows)
            plot_curves(rows, "iteration", ("return_mean", "policy_loss"), out / "training.png",
                        "ppo: episode return")  # fmt: skip
            ckpt = out / f"checkpoint-{iteration}"
            algo.save_to_path(str(ckpt.resolve()))
            (ckpt / "done.json").write_text(json.dumps({"iteration": iteration}))  # marks it whole
            done = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
            for old in done[:-2]:
                shutil.rmtree(old, ignore_errors=True)
        _learner_module(algo).save_pretrained(out / "final")
    finally:
        algo.stop()
    summary = {"algo": "ppo", "iterations": config.iterations, "last": rows[-1] if rows else None,
               "out": str(out), "final": str(out / "final"), "config": asdict(config)}  # fmt: skip
    (out / "rl_summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def _learner_module(algo: Any) -> Any:
    """The learner's copy of the policy (``algo.get_module()`` is an env runner's copy)."""
    learner = getattr(algo.learner_group, "_learner", None)
    if learner is not None:
        return learner.module["default_policy"]
    return algo.get_module()


def _plain(value: Any) -> Any:
    """A CSV cell: numbers as floats (RLlib may hand back numpy or torch scalars)."""
    if isinstance(value, int | str) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
