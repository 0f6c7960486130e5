"""RL from prover feedback on Ray: group-relative policy optimization and expert iteration.

One file, top to bottom (CleanRL style). Each iteration:

1. the learner (this process) puts its weights in Ray's object store and broadcasts them to the
   rollout workers (:class:`eval.pool.ProverPool` actors, each owning Coq processes and a copy
   of the policy);
2. it draws ``theorems_per_iteration`` theorems from the curriculum and the workers run
   ``group_size`` whole-proof attempts at each (:func:`training.rollout.rollout_task`); reward
   1 only for proofs the kernel re-checked; a worker that dies is replaced (with the current
   weights) and its theorem retried, so the iteration completes;
3. the curriculum is told each attempt's outcome (it promotes to harder bands);
4. ``grpo``: advantages ``(r - mean(group)) / (std(group) + eps)``; every step of an attempt
   is a (prompt, tactic) pair carrying its attempt's advantage; a few epochs of the clipped
   surrogate ``min(ratio * A, clip(ratio) * A)`` with ``ratio = exp(logp - logp_old)``, the
   log-probs being sums over the tactic's tokens (and EOS) by teacher forcing; groups where
   every attempt got the same reward carry no signal and are skipped.
   ``expert-iteration``: verified proofs join a buffer (deduplicated), and the policy is
   fine-tuned on the buffer with the SFT loss (tactic tokens only);
5. metrics go to ``metrics.csv`` (and TensorBoard), ``training.png`` plots reward and pass rate,
   and a checkpoint (Hugging Face model + optimizer + curriculum + RNG + iteration) is written
   atomically: a run killed at any point resumes after its last finished iteration.
"""

from __future__ import annotations

import csv
import json
import math
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from training.curriculum import CurriculumConfig, curriculum_from_dataset
from training.rollout import RolloutConfig, rollout_task
from training.sft import (
    Example,
    collate,
    encode,
    latest_checkpoint,
    list_checkpoints,
    load_model,
    rng_state,
    save_checkpoint,
    set_rng_state,
)

__all__ = [
    "ALGOS",
    "RLConfig",
    "expert_iteration_update",
    "grpo_update",
    "sequence_logprobs",
    "train_rl",
]

ALGOS = ("grpo", "expert-iteration")
METRICS = (
    "iteration", "algo", "band", "theorems", "attempts", "reward_mean", "theorem_pass_rate",
    "loss", "kl", "signal_groups", "buffer", "rollout_seconds", "learn_seconds", "policy_seconds",
    "prover_seconds", "steps", "replaced_workers",
)  # fmt: skip


@dataclass(frozen=True)
class RLConfig:
    """Settings of :func:`train_rl` (``prover-gym train --algo grpo|expert-iteration``).

    Attributes:
        data: A synthetic dataset directory (``prover-gym synth``); its train split is used.
        algo: ``"grpo"`` or ``"expert-iteration"``.
        init: Starting policy: ``"tiny"``, a Hugging Face id, or a checkpoint folder (SFT).
        out: Output folder (checkpoints, metrics, plot); an existing run there resumes.
        iterations: Iterations in all (a resumed run continues up to this).
        theorems_per_iteration: Theorems drawn from the curriculum per iteration.
        rollout: Group size, attempt depth and per-tactic time limit.
        temperature: Sampling temperature of the rollouts.
        max_new_tokens: Longest tactic sampled, in tokens.
        lr: Learning rate (AdamW).
        clip: GRPO's ratio clip.
        kl_beta: GRPO: weight of a KL penalty that keeps the policy near the starting one
            (``init``), as TRL's ``beta``: the k3 estimator ``exp(d) - d - 1`` with
            ``d = log p_ref - log p`` of each sampled tactic. ``0`` (default) keeps no reference
            model.
        epochs: Passes over each iteration's batch (GRPO) or over the buffer (expert iteration).
        minibatch_size: (prompt, tactic) pairs per gradient step.
        max_length: Longest prompt + tactic, in tokens (prompts are cut from the left).
        workers: Rollout workers (Ray actors, one CPU each).
        address: Ray cluster address (``None``: a local cluster on loopback).
        curriculum: Bands, threshold and window of the theorem curriculum.
        seed: Seed of everything.
        num_threads: Torch threads of the learner (``None``: torch's default).
        tensorboard: Also log to ``OUT/tb`` when tensorboard is installed.
    """

    data: str
    algo: str = "grpo"
    init: str = "tiny"
    out: str = "runs/rl"
    iterations: int = 10
    theorems_per_iteration: int = 16
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    temperature: float = 1.0
    max_new_tokens: int = 32
    lr: float = 2e-5
    clip: float = 0.2
    kl_beta: float = 0.0
    epochs: int = 2
    minibatch_size: int = 32
    max_length: int = 512
    workers: int = 2
    address: str | None = None
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    seed: int = 0
    num_threads: int | None = None
    tensorboard: bool = True

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(
                f"algo must be one of {ALGOS} (ppo runs through RLlib), not {self.algo!r}"
            )
        if self.iterations < 1 or self.theorems_per_iteration < 1 or self.workers < 1:
            raise ValueError("iterations, theorems_per_iteration and workers must be at least 1")
        if self.kl_beta < 0:
            raise ValueError(f"kl_beta must be at least 0, not {self.kl_beta}")


# -- log-probs by teacher forcing ---------------------------------------------------------------


def sequence_logprobs(model: Any, batch: dict[str, Any]) -> Any:
    """Sum of the log-probs of each row's labelled tokens (the tactic and its EOS)."""
    import torch

    logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[:, :-1].float()
    labels = batch["labels"][:, 1:]
    keep = labels != -100
    picked = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0).unsqueeze(-1))
    return (picked.squeeze(-1) * keep).sum(-1)


def _pairs(trajectories: list[dict[str, Any]]) -> list[Example]:
    return [
        Example(p, t, "", "step")
        for traj in trajectories
        for p, t in zip(traj["prompts"], traj["tactics"], strict=True)
        if t
    ]


# -- the two updates ----------------------------------------------------------------------------


def grpo_update(
    model: Any,
    tokenizer: Any,
    optimizer: Any,
    groups: list[list[dict[str, Any]]],
    cfg: RLConfig,
    reference: Any = None,
) -> tuple[float | None, int, float | None]:
    """Clipped group-relative policy-gradient steps.

    Args:
        model: The policy (trained in place).
        tokenizer: Its tokenizer.
        optimizer: Its optimizer.
        groups: Per theorem, the rollout records of its attempts (``reward``, prompts, tactics).
        cfg: ``clip``, ``epochs``, ``minibatch_size``, ``max_length`` and ``kl_beta``.
        reference: The frozen starting policy, for the KL penalty (``cfg.kl_beta > 0``).

    Returns:
        (mean loss, groups with reward variance, mean KL to ``reference`` or ``None``).
    """
    import torch

    examples: list[Example] = []
    advantages: list[float] = []
    signal = 0
    for group in groups:
        rewards = [t["reward"] for t in group]
        mean = sum(rewards) / len(rewards)
        std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / len(rewards))
        if std < 1e-6:
            continue  # every attempt scored the same: no direction to move in
        signal += 1
        for traj in group:
            pairs = _pairs([traj])
            examples += pairs
            advantages += [(traj["reward"] - mean) / (std + 1e-4)] * len(pairs)
    if not examples:
        return None, 0, None
    encoded = encode(tokenizer, examples, cfg.max_length)
    kept = [(e, a) for e, a in zip(encoded, advantages, strict=True) if e is not None]
    pad = tokenizer.pad_token_id
    penalize = reference is not None and cfg.kl_beta > 0

    def logprobs_of(policy: Any) -> Any:
        step = cfg.minibatch_size
        with torch.no_grad():
            return torch.cat([
                sequence_logprobs(policy, collate([e for e, _ in kept[i : i + step]], pad))
                for i in range(0, len(kept), step)
            ])  # fmt: skip

    old = logprobs_of(model)  # the policy that sampled (same weights as the workers)
    ref = logprobs_of(reference) if penalize else None
    losses, kls = [], []
    order = list(range(len(kept)))
    for _ in range(cfg.epochs):
        random.shuffle(order)
        for i in range(0, len(order), cfg.minibatch_size):
            idx = order[i : i + cfg.minibatch_size]
            batch = collate([kept[j][0] for j in idx], pad)
            adv = torch.tensor([kept[j][1] for j in idx])
            new = sequence_logprobs(model, batch)
            ratio = torch.exp(new - old[idx])
            clipped = torch.clamp(ratio, 1 - cfg.clip, 1 + cfg.clip)
            loss = -torch.min(ratio * adv, clipped * adv).mean()
            if ref is not None:
                d = ref[idx] - new
                kl = (torch.exp(d) - d - 1).mean()
                loss = loss + cfg.kl_beta * kl
                kls.append(kl.item())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
    return sum(losses) / len(losses), signal, (sum(kls) / len(kls) if kls else None)


def expert_iteration_update(
    model: Any, tokenizer: Any, optimizer: Any, buffer: list[Example], cfg: RLConfig
) -> float | None:
    """Fine-tune on the buffer of verified proof steps (SFT loss on the tactic tokens)."""
    import torch

    encoded = [e for e in encode(tokenizer, buffer, cfg.max_length) if e is not None]
    if not encoded:
        return None
    losses = []
    for _ in range(cfg.epochs):
        random.shuffle(encoded)
        for i in range(0, len(encoded), cfg.minibatch_size):
            batch = collate(encoded[i : i + cfg.minibatch_size], tokenizer.pad_token_id)
            logp = sequence_logprobs(model, batch)
            tokens = (batch["labels"][:, 1:] != -100).sum()
            loss = -logp.sum() / tokens
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
    return sum(losses) / len(losses)


# -- the loop -----------------------------------------------------------------------------------


def _log(out: Path, row: dict[str, Any], writer: Any) -> None:
    path = out / "metrics.csv"
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=METRICS)
        if new:
            w.writeheader()
        w.writerow(row)
    if writer is not None:
        for key in ("reward_mean", "theorem_pass_rate", "loss", "band", "rollout_seconds"):
            if row.get(key) is not None:
                writer.add_scalar(f"rl/{key}", row[key], row["iteration"])


def _read_metrics(out: Path, upto: int) -> list[dict[str, Any]]:
    """Rows of iterations that finished (a killed run's later rows are dropped)."""
    path = out / "metrics.csv"
    if not path.exists():
        return []
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["iteration"]) <= upto]
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=METRICS)
        w.writeheader()
        w.writerows(rows)
    return rows


def train_rl(config: RLConfig, progress: bool = True, on_result: Any = None) -> dict[str, Any]:
    """Train with GRPO or expert iteration; resumes from ``config.out``. Returns the summary.

    Args:
        config: What to train and how.
        progress: Show progress bars.
        on_result: Called as ``on_result(record, pool)`` after each theorem's rollouts (tests
            use it to kill a worker mid-iteration).
    """
    import ray
    import torch
    from tqdm import tqdm

    from eval.pool import ProverPool
    from eval.report import plot_curves

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    curriculum = curriculum_from_dataset(config.data, "train", config.curriculum)
    resume = latest_checkpoint(out)
    model, tokenizer = load_model(str(resume) if resume else config.init, config.seed)
    model.train()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    reference = None
    if config.algo == "grpo" and config.kl_beta > 0:  # the starting policy, frozen
        from agents.llm import load_causal_lm

        reference = load_causal_lm(config.init, tokenizer, config.seed)
        reference.eval().requires_grad_(False)
    start, buffer_rows = 0, []
    if resume is not None:
        state = json.loads((resume / "trainer_state.json").read_text())
        if state.get("algo") != config.algo:
            raise ValueError(f"{resume} is a {state.get('algo')} run: use another --out")
        optimizer.load_state_dict(torch.load(resume / "optimizer.pt", map_location="cpu"))
        curriculum.load_state_dict(json.loads((resume / "curriculum.json").read_text()))
        set_rng_state(state["rng"])
        start, buffer_rows = state["iteration"], state.get("buffer", [])
        print(f"train: resuming from {resume} after iteration {start}", file=sys.stderr)
    else:
        random.seed(config.seed)
        torch.manual_seed(config.seed)
    buffer = [Example(p, t, "", "step") for p, t in buffer_rows]
    rows = _read_metrics(out, start)
    writer = None
    if config.tensorboard:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out / "tb"), purge_step=start + 1)
        except ImportError:
            writer = None
    agent_kwargs = {"model": config.init, "temperature": config.temperature,
                    "max_new_tokens": config.max_new_tokens, "device": "cpu",
                    "seed": config.seed}  # fmt: skip
    pool = ProverPool("llm", rollout_task, config.rollout, agent_kwargs=agent_kwargs,
                      backend_kwargs={"timeout": config.rollout.tactic_timeout},
                      workers=config.workers, address=config.address)  # fmt: skip
    bar = tqdm(total=config.iterations, initial=start, desc=config.algo, unit="it",
               disable=not progress)  # fmt: skip
    records: list[dict[str, Any]] = []  # this iteration's rollout records

    def keep(_theorem: Any, record: dict[str, Any]) -> None:
        records.append(record)
        if on_result is not None:
            on_result(record, pool)

    try:
        for iteration in range(start + 1, config.iterations + 1):
            # 1. fresh weights to every worker (replacements get them too)
            tick = time.perf_counter()
            weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            pool.broadcast("load_weights", ray.put(weights))
            # 2. a group of attempts per theorem drawn from the curriculum
            band = curriculum.band
            theorems = [curriculum.sample() for _ in range(config.theorems_per_iteration)]
            records.clear()
            replaced = pool.replaced
            pool.map(theorems, keep, progress=False)
            rollout_seconds = time.perf_counter() - tick
            # 3. outcomes to the curriculum
            groups = [r["trajectories"] for r in records if r["trajectories"]]
            for r in records:
                for traj in r["trajectories"]:
                    curriculum.update(r["theorem"], traj["proved"])
            # 4. learn
            tick = time.perf_counter()
            signal, kl = 0, None
            if config.algo == "grpo":
                loss, signal, kl = grpo_update(
                    model, tokenizer, optimizer, groups, config, reference
                )
            else:
                seen = {(e.prompt, e.target) for e in buffer}
                for traj in (t for g in groups for t in g if t["proved"]):
                    for e in _pairs([traj]):
                        if (e.prompt, e.target) not in seen:
                            seen.add((e.prompt, e.target))
                            buffer.append(e)
                loss = expert_iteration_update(model, tokenizer, optimizer, buffer, config)
            learn_seconds = time.perf_counter() - tick
            # 5. metrics, plot, checkpoint
            attempts = [t for g in groups for t in g]
            row = {
                "iteration": iteration, "algo": config.algo, "band": band,
                "theorems": len(records), "attempts": len(attempts),
                "reward_mean": round(sum(t["reward"] for t in attempts) / max(len(attempts), 1), 4),
                "theorem_pass_rate": round(
                    sum(any(t["proved"] for t in g) for g in groups) / max(len(groups), 1), 4),
                "loss": None if loss is None else round(loss, 5),
                "kl": None if kl is None else round(kl, 5), "signal_groups": signal,
                "buffer": len(buffer), "rollout_seconds": round(rollout_seconds, 2),
                "learn_seconds": round(learn_seconds, 2),
                "policy_seconds": round(sum(r["policy_seconds"] for r in records), 2),
                "prover_seconds": round(sum(r["prover_seconds"] for r in records), 2),
                "steps": sum(r["steps"] for r in records),
                "replaced_workers": pool.replaced - replaced,
            }  # fmt: skip
            _log(out, row, writer)
            rows.append(row)
            plot_curves(rows, "iteration", ("reward_mean", "theorem_pass_rate", "band"),
                        out / "training.png", f"{config.algo}: reward and pass rate")  # fmt: skip
            state = {
                "iteration": iteration,
                "algo": config.algo,
                "rng": rng_state(),
                "buffer": [[e.prompt, e.target] for e in buffer],
                "config": asdict(config),
            }
            extra = {
                "optimizer.pt": optimizer.state_dict(),
                "curriculum.json": curriculum.state_dict(),
                "trainer_state.json": state,  # last: it marks the checkpoint complete
            }
            save_checkpoint(out, f"checkpoint-{iteration}", model, tokenizer, extra)
            for old in list_checkpoints(out)[:-2]:
                shutil.rmtree(old, ignore_errors=True)
            bar.update(1)
            bar.set_postfix(reward=row["reward_mean"], band=band)
    finally:
        bar.close()
        pool.close()
        if writer is not None:
            writer.close()
    save_checkpoint(out, "final", model, tokenizer, {})
    summary = {"iterations": config.iterations, "algo": config.algo, "out": str(out),
               "final": str(out / "final"), "last": rows[-1] if rows else None,
               "curriculum": curriculum.stats()}  # fmt: skip
    (out / "rl_summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary
