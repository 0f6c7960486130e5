"""Non-learned agents: Coq's decision procedures, and random tactics from a vocabulary."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from agents.base import Candidate
from prover_env.types import ProofState

__all__ = [
    "DEFAULT_AUTOMATION",
    "STEP_CLOSERS",
    "STEP_HEAVY",
    "AutomationAgent",
    "RandomAgent",
    "StepAgent",
]

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


#: Closing procedures :class:`StepAgent` tries, cheap ones first.
STEP_CLOSERS: tuple[str, ...] = ("lia", "lra", "ring", "reflexivity", "tauto", "assumption")
#: Costlier procedures tried after :data:`STEP_CLOSERS`.
STEP_HEAVY: tuple[str, ...] = ("nia", "nra", "field", "auto")

_DIVIDE_LEMMAS = (
    "apply Z.divide_add_r",
    "apply Z.divide_mul_r",
    "apply Z.divide_mul_l",
    "apply Z.divide_factor_l",
    "apply Z.divide_factor_r",
)
_NAT_VAR = re.compile(r"^([a-z][A-Za-z0-9_']*(?:, [a-z][A-Za-z0-9_']*)*) : nat$", re.M)


def _first_goal(goals: str) -> tuple[str, str]:
    """Hypotheses and conclusion of the first goal."""
    first = goals.split("\n\n", 1)[0]
    hyps, _, concl = first.rpartition("⊢")
    return hyps, concl.strip()


def _top_level_implication(concl: str) -> bool:
    """Whether ``->`` (not ``<->``) occurs outside parentheses: the goal is an implication."""
    depth = 0
    for i, ch in enumerate(concl):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and concl.startswith("->", i) and (i == 0 or concl[i - 1] != "<"):
            return True
    return False


class StepAgent:
    """One proof step at a time, chosen by the shape of the first goal (for tracing).

    A goal whose conclusion still binds variables or hypotheses gets ``intros.`` only; otherwise
    the agent proposes structural steps that fit (``split.`` for conjunctions, ``induction n.``
    for a natural ``n`` in a goal about sums, ``split_Rabs.`` for absolute values, divisibility
    lemmas, ``Z.div_mod_to_equations.`` for remainders) and then the decision procedures. The
    cheap procedures are tried in an order shuffled per theorem (seeded), so traces record a
    variety of failed attempts and the step that then worked.

    Args:
        seed: Seed of the per-theorem order of the cheap procedures (``None``: fixed order).
    """

    def __init__(self, seed: int | None = 0) -> None:
        self.seed = seed

    def propose(self, state: ProofState, k: int) -> list[Candidate]:
        """Up to ``k`` single-step tactics for the first goal, best first."""
        hyps, concl = _first_goal(state.goals)
        if concl.startswith("forall") or _top_level_implication(concl):
            steps = ["intros"]
        else:
            steps = ["intro"] if concl.startswith("~") else []
            steps += self._structural(hyps, concl)
            closers = list(STEP_CLOSERS)
            if self.seed is not None:
                random.Random(f"{self.seed}:{state.theorem}").shuffle(closers)
            steps += closers + list(STEP_HEAVY)
        return [Candidate(f"{t}.", -0.01 * i) for i, t in enumerate(steps[:k])]

    @staticmethod
    def _structural(hyps: str, concl: str) -> list[str]:
        steps: list[str] = []
        if "sum_upto" in concl:
            names = [n for m in _NAT_VAR.findall(hyps) for n in m.split(", ")]
            if not re.search(r"^IH", hyps, re.M):
                steps += [f"induction {n}" for n in names]
            steps.append("simpl")
        if "/\\" in concl or "<->" in concl:
            steps.append("split")
        if "Rabs" in hyps or "Rabs" in concl:
            steps.append("split_Rabs")
        if " mod " in concl:
            steps.append("Z.div_mod_to_equations")
        if "|" in concl and "\\/" not in concl:
            steps += list(_DIVIDE_LEMMAS)
        return steps
