"""Rollouts for RL from prover feedback: a group of whole-proof attempts per theorem.

:func:`rollout_task` runs on a worker of :class:`eval.pool.ProverPool` (a Ray actor that owns
its Coq processes and a copy of the policy, :class:`agents.llm.LLMPolicy`; the learner
broadcasts fresh weights to every worker with ``pool.broadcast("load_weights", ref)``). All
attempts of a group advance together, one batched sampling call per depth: each step samples
one tactic for each live attempt and runs it from that attempt's state. An attempt ends when
the prover rejects its tactic (reward 0), when the goals close (reward 1 only if the kernel
re-checks the whole proof, ``backend.verify``; verdicts are cached per theorem and proof
script, since the same script gets the same verdict), or at ``max_depth`` (reward 0).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from agents.base import Agent, propose_batch
from agents.llm import format_prompt
from prover_env.backend import Backend
from prover_env.error import TheoremError
from prover_env.types import ProofFinished, ProofState, TacticError, Theorem

__all__ = ["RolloutConfig", "rollout_task"]

_VERDICTS: OrderedDict[tuple[str, str, tuple[str, ...]], bool] = OrderedDict()
_MAX_CACHED = 20_000


@dataclass(frozen=True)
class RolloutConfig:
    """Settings of one theorem's group of attempts.

    Attributes:
        group_size: Attempts per theorem (the group of group-relative advantages).
        max_depth: Tactics per attempt, at most.
        tactic_timeout: Seconds per tactic.
    """

    group_size: int = 8
    max_depth: int = 4
    tactic_timeout: float = 2.0


def _verified(backend: Backend, theorem: Theorem, proof: tuple[str, ...]) -> bool:
    key = (theorem.header, theorem.statement, proof)
    if key not in _VERDICTS:
        _VERDICTS[key] = backend.verify(theorem, proof).ok
        if len(_VERDICTS) > _MAX_CACHED:
            _VERDICTS.popitem(last=False)
    return _VERDICTS[key]


def rollout_task(
    backend: Backend, theorem: Theorem, agent: Agent, config: RolloutConfig
) -> dict[str, Any]:
    """``config.group_size`` attempts at ``theorem``; JSON-ready trajectories and timings.

    Returns:
        ``{"theorem", "trajectories": [{"prompts", "tactics", "reward", "proved", "proof",
        "end"}], "steps", "policy_seconds", "prover_seconds", "unusable"}``. ``end`` is
        ``"proved"``, ``"rejected"`` (kernel refused), ``"error"``, ``"empty"`` or ``"depth"``.
    """
    out: dict[str, Any] = {"theorem": theorem.name, "trajectories": [], "steps": 0}
    out |= {"policy_seconds": 0.0, "prover_seconds": 0.0, "unusable": None}
    tick = time.perf_counter()
    try:
        root = backend.start(theorem)
    except TheoremError as e:
        out["unusable"] = e.message
        return out
    out["prover_seconds"] += time.perf_counter() - tick
    live: list[tuple[ProofState, list[str], list[str]]] = [
        (root, [], []) for _ in range(config.group_size)
    ]
    finished: list[dict[str, Any]] = []

    def end(prompts: list[str], tactics: list[str], how: str, proof: tuple[str, ...] = ()) -> None:
        reward = 1.0 if how == "proved" else 0.0
        finished.append({"prompts": prompts, "tactics": tactics, "reward": reward,
                         "proved": how == "proved", "proof": list(proof), "end": how})  # fmt: skip

    for _depth in range(config.max_depth):
        if not live:
            break
        tick = time.perf_counter()
        proposals = propose_batch(agent, [state for state, _, _ in live], 1)
        out["policy_seconds"] += time.perf_counter() - tick
        still: list[tuple[ProofState, list[str], list[str]]] = []
        for (state, prompts, tactics), cands in zip(live, proposals, strict=True):
            tactic = cands[0].tactic if cands else ""
            prompts, tactics = [*prompts, format_prompt(state.goals)], [*tactics, tactic]
            if not tactic:
                end(prompts, tactics, "empty")
                continue
            tick = time.perf_counter()
            result = backend.run_tactic(state, tactic, config.tactic_timeout)
            out["steps"] += 1
            if isinstance(result, ProofFinished):
                ok = _verified(backend, theorem, result.proof)
                end(prompts, tactics, "proved" if ok else "rejected", result.proof)
            elif isinstance(result, TacticError):
                end(prompts, tactics, "error")
            else:
                still.append((result, prompts, tactics))
            out["prover_seconds"] += time.perf_counter() - tick
        live = still
    for _state, prompts, tactics in live:
        end(prompts, tactics, "depth")
    out["trajectories"] = finished
    out["policy_seconds"] = round(out["policy_seconds"], 4)
    out["prover_seconds"] = round(out["prover_seconds"], 4)
    return out
