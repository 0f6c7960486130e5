"""The agent interface: a proof state in, ranked tactic candidates with scores out.

Anything with a ``propose`` method is an agent; searches (:mod:`agents.search`) call it on the
states they expand. A whole agent can be ten lines::

    from agents import Candidate

    class MyAgent:
        def propose(self, state, k):
            if "=" in state.goals:
                return [Candidate("intros. lia.", -0.1), Candidate("intros. lra.", -0.2)][:k]
            return [Candidate("intros. tauto.", 0.0)]

``score`` is a log-probability (or any number where higher is better): best-first search
orders states by the sum of the scores along their path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from prover_env.types import ProofState

__all__ = ["Agent", "Candidate", "propose_batch"]


@dataclass(frozen=True)
class Candidate:
    """A tactic an agent proposes, with its score (higher is better; a log-prob for LLMs)."""

    tactic: str
    score: float = 0.0


@runtime_checkable
class Agent(Protocol):
    """Proposes tactics for a proof state."""

    def propose(self, state: ProofState, k: int) -> Sequence[Candidate]:
        """Up to ``k`` candidates for ``state``, best first."""
        ...


def propose_batch(agent: Agent, states: Sequence[ProofState], k: int) -> list[list[Candidate]]:
    """Candidates for several states: the agent's own ``propose_batch`` when it has one
    (an LLM batches its forward passes), else one ``propose`` call per state."""
    batch = getattr(agent, "propose_batch", None)
    if callable(batch):
        return [list(c) for c in batch(states, k)]
    return [list(agent.propose(s, k)) for s in states]
