"""Trace proofs on a real prover: every step, every failed attempt and the step that then worked.

:func:`trace_theorem` runs best-first search (any agent: the step-level automation
:class:`agents.baselines.StepAgent` by default, or an LLM policy) through a recording proxy of
the backend. When the search finds a proof the kernel accepts, the recording gives, for each
state on the proof's path:

* a ``step`` record: state before, the tactic, state after;
* ``correction`` records: tactics the prover rejected at that same state, its error, and the
  tactic that then worked there (the corrective feedback of the issue's recipe).

Difficulty labels come from the search itself: proof ``steps``, ``expansions``,
``tactic_calls``, rejected tactics (``errors``), ``seconds`` and the head ``tactics`` the proof
needed. ``difficulty = steps + log2(1 + tactic_calls)`` (machine-independent: wall time is a
label but not part of it); theorems the tracer did not prove get ``difficulty = None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.base import Agent
from agents.search import SearchConfig, best_first_search
from prover_env.backend import Backend
from prover_env.types import ProofFinished, ProofState, TacticError, TacticResult, Theorem, Verdict

__all__ = ["RecordingBackend", "TraceConfig", "difficulty_of", "trace_theorem"]


@dataclass(frozen=True)
class TraceConfig:
    """Settings of tracing one theorem.

    Attributes:
        search: Budgets of the best-first search.
        max_corrections_per_state: Failed attempts kept per state on the proof path.
        keep_timeouts: Keep attempts that ran past the time limit as corrections (their error
            says so), not only the prover's rejections.
    """

    search: SearchConfig = field(
        default_factory=lambda: SearchConfig(
            max_expansions=24, time_limit=30.0, candidates=24, max_depth=16, tactic_timeout=2.0
        )
    )
    max_corrections_per_state: int = 4
    keep_timeouts: bool = False


@dataclass(frozen=True)
class _Call:
    before: ProofState
    tactic: str
    outcome: TacticResult


class RecordingBackend(Backend):
    """Passes every call to ``inner`` and remembers each ``run_tactic`` and its outcome."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.calls: list[_Call] = []

    def start(self, theorem: Theorem) -> ProofState:
        self.calls = []
        return self.inner.start(theorem)

    def run_tactic(
        self, state: ProofState, tactic: str, timeout: float | None = None
    ) -> TacticResult:
        outcome = self.inner.run_tactic(state, tactic, timeout)
        self.calls.append(_Call(state, tactic, outcome))
        return outcome

    def verify(self, theorem: Theorem, proof: str | Sequence[str]) -> Verdict:
        return self.inner.verify(theorem, proof)

    def close(self) -> None:
        """The inner backend belongs to the caller: it is not closed here."""


def difficulty_of(steps: int, tactic_calls: int) -> float:
    """``steps + log2(1 + tactic_calls)``, rounded to 3 decimals."""
    return round(steps + math.log2(1 + tactic_calls), 3)


def _head(tactic: str) -> str:
    return tactic.strip().rstrip(".").split(None, 1)[0].split(";")[0] if tactic.strip() else ""


def _path(calls: Sequence[_Call], proof: tuple[str, ...]) -> list[_Call]:
    """The calls that built ``proof``, first to last (matched by their states' proofs)."""
    by_after: dict[tuple[str, ...], _Call] = {}
    for call in calls:
        if not isinstance(call.outcome, TacticError):
            by_after.setdefault(call.outcome.proof, call)
    path: list[_Call] = []
    current = proof
    while current:
        call = by_after.get(current)
        if call is None:
            raise RuntimeError(f"no recorded call led to {current!r}: the recording is incomplete")
        path.append(call)
        current = call.before.proof
    return path[::-1]


def trace_theorem(
    backend: Backend, theorem: Theorem, agent: Agent, config: TraceConfig | None = None
) -> dict[str, Any]:
    """Search for a proof of ``theorem`` and return what happened as JSON-ready data.

    Returns:
        ``{"name", "proved", "proof", "reason", "labels", "difficulty", "steps"}`` where
        ``steps`` is a list of :class:`training.dataset.StepRecord` fields (without the
        dataset-level ``split``/``family``/``difficulty``, which the caller adds).
    """
    cfg = config or TraceConfig()
    recorder = RecordingBackend(backend)
    result = best_first_search(recorder, theorem, agent, cfg.search)
    labels: dict[str, Any] = {
        "steps": len(result.proof),
        "expansions": result.expansions,
        "tactic_calls": result.tactic_calls,
        "errors": result.errors,
        "seconds": round(result.elapsed, 3),
        "tactics": [],
    }
    out: dict[str, Any] = {
        "name": theorem.name,
        "proved": result.proved,
        "proof": list(result.proof),
        "reason": result.reason,
        "labels": labels,
        "difficulty": None,
        "steps": [],
    }
    if not result.proved:
        if result.messages:
            out["message"] = result.messages[0]
        return out
    path = _path(recorder.calls, result.proof)
    labels["steps"] = len(path)
    labels["tactics"] = [_head(c.tactic) for c in path]
    out["difficulty"] = difficulty_of(len(path), result.tactic_calls)
    records: list[dict[str, Any]] = []
    for i, call in enumerate(path):
        after = "" if isinstance(call.outcome, ProofFinished) else call.outcome.goals
        base = {
            "theorem": theorem.name,
            "state_before": call.before.goals,
            "tactic": call.tactic,
            "state_after": after,
            "step": i,
            "language": theorem.language,
        }
        records.append({**base, "kind": "step"})
        kept = 0
        for other in recorder.calls:
            if kept >= cfg.max_corrections_per_state:
                break
            err = other.outcome
            if other.before.id != call.before.id or not isinstance(err, TacticError):
                continue
            if err.rejected_by_guard or (err.timeout and not cfg.keep_timeouts):
                continue
            message = err.message.strip() or ("timeout" if err.timeout else "error")
            records.append(
                {**base, "kind": "correction", "failed_tactic": other.tactic, "error": message}
            )
            kept += 1
    out["steps"] = records
    return out
