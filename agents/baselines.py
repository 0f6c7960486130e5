"""Non-learned agents: Coq's decision procedures, and random tactics from a vocabulary."""

from __future__ import annotations

import random
from collections.abc import Sequence

from agents.base import Candidate
from prover_env.types import ProofState

__all__ = ["DEFAULT_AUTOMATION", "AutomationAgent", "RandomAgent"]

#: Decision procedures tried by :class:`AutomationAgent`, most often useful first.
DEFAULT_AUTOMATION: tuple[str, ...] = (
    "lia",
    "lra",
    "nia",
    "nra",
    "field",
    "ring",
    "simpl; reflexivity",
    "reflexivity",
    "intuition",
    "firstorder",
    "auto",
    "compute; reflexivity",
    "split; lra",
    "subst; lra",
    "subst; nra",
    "subst; lia",
    "psatz R 2",
)


class AutomationAgent:
    """Proposes each decision procedure as its own action, after ``intros``.

    Args:
        tactics: The procedures, in the order to try them.
        intros_first: Prefix each with ``intros;`` (it never fails in Coq).
        per_tactic_timeout: Wrap each in Coq's ``timeout N`` tactical (seconds). Default
            ``None``: rely on the backend's per-tactic limit (``SearchConfig.tactic_timeout``)
            instead, which keeps proofs free of machine-speed-dependent ``timeout`` calls (a
            proof found with ``timeout 3 (simpl; reflexivity)`` in 2.9 s fails on a slower run).
    """

    def __init__(
        self,
        tactics: Sequence[str] = DEFAULT_AUTOMATION,
        *,
        intros_first: bool = True,
        per_tactic_timeout: int | None = None,
    ) -> None:
        self.tactics = tuple(tactics)
        self.intros_first = intros_first
        self.per_tactic_timeout = per_tactic_timeout

    def _action(self, tactic: str) -> str:
        body = (
            f"timeout {self.per_tactic_timeout} ({tactic})" if self.per_tactic_timeout else tactic
        )
        return f"intros; {body}." if self.intros_first else f"{body}."

    def propose(self, state: ProofState, k: int) -> list[Candidate]:
        """The procedures in order, scored by rank (first is best)."""
        return [Candidate(self._action(t), -0.01 * i) for i, t in enumerate(self.tactics[:k])]


class RandomAgent:
    """Proposes tactics drawn uniformly from a vocabulary (a floor for learned agents).

    Args:
        vocabulary: Tactics to draw from.
        seed: Seed of the draws (reproducible runs).
    """

    def __init__(self, vocabulary: Sequence[str] | None = None, seed: int = 0) -> None:
        self.vocabulary = tuple(vocabulary or [f"{t}." for t in DEFAULT_AUTOMATION] + ["intros."])
        self._rng = random.Random(seed)

    def propose(self, state: ProofState, k: int) -> list[Candidate]:
        """``k`` distinct tactics (fewer if the vocabulary is smaller), each scored log(1/V)."""
        import math

        picks = self._rng.sample(self.vocabulary, min(k, len(self.vocabulary)))
        return [Candidate(t, -math.log(len(self.vocabulary))) for t in picks]
