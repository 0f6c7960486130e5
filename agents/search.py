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
    expansions: int = 0
    calls: int = 0
    errors: int = 0
    rejected: int = 0


def _finish(
    theorem: Theorem, backend: Backend, done: ProofFinished, n: _Counters
) -> Verdict | None:
    verdict = backend.verify(theorem, done.proof)
    if not verdict.ok:
        n.rejected += 1
        return None
    return verdict


def best_first_search(
    backend: Backend, theorem: Theorem, agent: Agent, config: SearchConfig | None = None
) -> SearchResult:
    """Expand the state with the highest cumulative score first.

    Each expansion asks the agent for ``config.candidates`` tactics and runs all of them from
    that state; states whose goals were seen before are dropped. Stops at the first verified
    proof, or when the expansion or time budget is spent, or when no state is left.
    """
    cfg = config or SearchConfig()
    started = time.monotonic()
    n = _Counters()
    try:
        root = backend.start(theorem)
    except TheoremError as e:
        return SearchResult(False, reason="unusable", messages=(e.message,))
    tie = itertools.count()
    frontier: list[tuple[float, int, int, ProofState]] = [(0.0, next(tie), 0, root)]
    seen = {root.goals}

    def result(proved: bool, reason: str, proof: tuple[str, ...] = (), verdict=None):  # type: ignore[no-untyped-def]
        return SearchResult(
            proved, proof, n.expansions, n.calls, n.errors, time.monotonic() - started,
            reason, verdict, n.rejected,
        )  # fmt: skip

    while frontier:
        if n.expansions >= cfg.max_expansions:
            return result(False, "budget")
        if time.monotonic() - started > cfg.time_limit:
            return result(False, "time")
        neg_score, _, depth, state = heapq.heappop(frontier)
        n.expansions += 1
        candidates: list[Candidate] = propose_batch(agent, [state], cfg.candidates)[0]
        for cand in candidates:
            if time.monotonic() - started > cfg.time_limit:
                return result(False, "time")
            outcome = backend.run_tactic(state, cand.tactic, cfg.tactic_timeout)
            n.calls += 1
            if isinstance(outcome, TacticError):
                n.errors += 1
                continue
            if isinstance(outcome, ProofFinished):
                verdict = _finish(theorem, backend, outcome, n)
                if verdict is not None:
                    return result(True, "proved", outcome.proof, verdict)
                continue
            if outcome.goals in seen or depth + 1 >= cfg.max_depth:
                continue
            seen.add(outcome.goals)
            heapq.heappush(frontier, (neg_score - cand.score, next(tie), depth + 1, outcome))
    return result(False, "exhausted")


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
    started = time.monotonic()
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
            if time.monotonic() - started > cfg.time_limit or n.expansions >= cfg.max_expansions:
                break
            candidates = propose_batch(agent, [state], cfg.candidates)[0]
            if not candidates:
                break
            top = max(c.score for c in candidates)
            weights = [math.exp((c.score - top) / max(temperature, 1e-6)) for c in candidates]
            cand = rng.choices(candidates, weights)[0]
            n.expansions += 1
            outcome = backend.run_tactic(state, cand.tactic, cfg.tactic_timeout)
            n.calls += 1
            if isinstance(outcome, TacticError):
                n.errors += 1
                break
            if isinstance(outcome, ProofFinished):
                verdict = _finish(theorem, backend, outcome, n)
                if verdict is not None:
                    successes += 1
                    if found is None:
                        found = SearchResult(
                            True, outcome.proof, n.expansions, n.calls, n.errors,
                            time.monotonic() - started, "proved", verdict, n.rejected,
                        )  # fmt: skip
                break
            state = outcome
    elapsed = time.monotonic() - started
    if found is not None:
        return found, successes
    reason = "time" if elapsed > cfg.time_limit else "budget"
    return SearchResult(False, (), n.expansions, n.calls, n.errors, elapsed, reason, None,
                        n.rejected), 0  # fmt: skip
