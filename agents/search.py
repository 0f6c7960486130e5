"""Proof search over any backend with any agent: best-first search and whole-proof sampling.

Both use the backend's branching (a tactic runs from any kept state) and count a proof only
after ``backend.verify`` accepted it.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from dataclasses import dataclass, field

from agents.base import Agent, Candidate, propose_batch
from prover_env.backend import Backend
from prover_env.error import TheoremError
from prover_env.types import ProofFinished, ProofState, TacticError, Theorem, Verdict

__all__ = ["SearchConfig", "SearchResult", "best_first_search", "sample_proofs"]


@dataclass(frozen=True)
class SearchConfig:
    """Budgets of a search.

    Attributes:
        max_expansions: States expanded (best-first) or steps taken (sampling), at most.
        time_limit: Wall-clock seconds for the whole search.
        candidates: Tactics asked of the agent per state.
        max_depth: Longest proof considered (tactics).
        tactic_timeout: Seconds per tactic (``None``: the backend's default).
    """

    max_expansions: int = 64
    time_limit: float = 120.0
    candidates: int = 8
    max_depth: int = 32
    tactic_timeout: float | None = None


@dataclass(frozen=True)
class SearchResult:
    """What a search found.

    Attributes:
        proved: A proof was found and ``verify`` accepted it.
        proof: The proof's tactic sentences (empty when not proved).
        expansions: States expanded (best-first) or steps taken (sampling).
        tactic_calls: Tactics sent to the prover.
        errors: Tactics the prover (or the guard) rejected.
        elapsed: Seconds.
        reason: ``"proved"``, ``"budget"``, ``"time"``, ``"exhausted"`` or ``"unusable"``.
        verdict: The accepted verdict, if proved.
        rejected_finishes: Proofs whose goals closed but that ``verify`` refused.
    """

    proved: bool
    proof: tuple[str, ...] = ()
    expansions: int = 0
    tactic_calls: int = 0
    errors: int = 0
    elapsed: float = 0.0
    reason: str = "exhausted"
    verdict: Verdict | None = None
    rejected_finishes: int = 0
    messages: tuple[str, ...] = field(default=(), repr=False)


@dataclass
class _Counters:
    started: float = field(default_factory=time.monotonic)
    expansions: int = 0
    calls: int = 0
    errors: int = 0
    rejected: int = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def result(
        self,
        proved: bool,
        reason: str,
        proof: tuple[str, ...] = (),
        verdict: Verdict | None = None,
    ) -> SearchResult:
        return SearchResult(
            proved, proof, self.expansions, self.calls, self.errors, self.elapsed(), reason,
            verdict, self.rejected,
        )  # fmt: skip


def _step(
    backend: Backend, theorem: Theorem, state: ProofState, tactic: str, cfg: SearchConfig,
    n: _Counters,
) -> ProofState | tuple[ProofFinished, Verdict] | None:  # fmt: skip
    """Run one tactic and count it: the new state, a verified proof, or None (the tactic was
    rejected, or the goals closed but ``verify`` refused the proof)."""
    outcome = backend.run_tactic(state, tactic, cfg.tactic_timeout)
    n.calls += 1
    if isinstance(outcome, TacticError):
        n.errors += 1
        return None
    if isinstance(outcome, ProofFinished):
        verdict = backend.verify(theorem, outcome.proof)
        if not verdict.ok:
            n.rejected += 1
            return None
        return outcome, verdict
    return outcome


def best_first_search(
    backend: Backend, theorem: Theorem, agent: Agent, config: SearchConfig | None = None
) -> SearchResult:
    """Expand the state with the highest cumulative score first.

    Each expansion asks the agent for ``config.candidates`` tactics and runs all of them from
    that state; states whose goals were seen before are dropped. Stops at the first verified
    proof, or when the expansion or time budget is spent, or when no state is left.
    """
    cfg = config or SearchConfig()
    n = _Counters()
    try:
        root = backend.start(theorem)
    except TheoremError as e:
        return SearchResult(False, reason="unusable", messages=(e.message,))
    tie = itertools.count()
    frontier: list[tuple[float, int, int, ProofState]] = [(0.0, next(tie), 0, root)]
    seen = {root.goals}
    while frontier:
        if n.expansions >= cfg.max_expansions:
            return n.result(False, "budget")
        if n.elapsed() > cfg.time_limit:
            return n.result(False, "time")
        neg_score, _, depth, state = heapq.heappop(frontier)
        n.expansions += 1
        candidates: list[Candidate] = propose_batch(agent, [state], cfg.candidates)[0]
        for cand in candidates:
            if n.elapsed() > cfg.time_limit:
                return n.result(False, "time")
            outcome = _step(backend, theorem, state, cand.tactic, cfg, n)
            if isinstance(outcome, tuple):
                return n.result(True, "proved", outcome[0].proof, outcome[1])
            if outcome is None or outcome.goals in seen or depth + 1 >= cfg.max_depth:
                continue
            seen.add(outcome.goals)
            heapq.heappush(frontier, (neg_score - cand.score, next(tie), depth + 1, outcome))
    return n.result(False, "exhausted")


def sample_proofs(
    backend: Backend,
    theorem: Theorem,
    agent: Agent,
    attempts: int = 8,
    config: SearchConfig | None = None,
    seed: int = 0,
    temperature: float = 1.0,
) -> tuple[SearchResult, int]:
    """Whole-proof sampling: ``attempts`` independent rollouts from the start.

    Each step samples one of the agent's candidates with probability proportional to
    ``exp(score / temperature)``; a rejected tactic ends the attempt. Returns the first verified
    proof (or the last failure) and how many attempts succeeded (for pass@k).
    """
    cfg = config or SearchConfig()
    rng = random.Random(seed)
    n = _Counters()
    successes = 0
    found: SearchResult | None = None
    try:
        root = backend.start(theorem)
    except TheoremError as e:
        return SearchResult(False, reason="unusable", messages=(e.message,)), 0
    for _ in range(attempts):
        state: ProofState = root
        for _depth in range(cfg.max_depth):
            if n.elapsed() > cfg.time_limit or n.expansions >= cfg.max_expansions:
                break
            candidates = propose_batch(agent, [state], cfg.candidates)[0]
            if not candidates:
                break
            top = max(c.score for c in candidates)
            weights = [math.exp((c.score - top) / max(temperature, 1e-6)) for c in candidates]
            cand = rng.choices(candidates, weights)[0]
            n.expansions += 1
            outcome = _step(backend, theorem, state, cand.tactic, cfg, n)
            if outcome is None:
                break
            if isinstance(outcome, tuple):
                successes += 1
                found = found or n.result(True, "proved", outcome[0].proof, outcome[1])
                break
            state = outcome
    if found is not None:
        return found, successes
    return n.result(False, "time" if n.elapsed() > cfg.time_limit else "budget"), 0
