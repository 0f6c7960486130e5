"""Frozen result types shared by every backend.

A backend turns a :class:`Theorem` into a :class:`ProofState`, and each tactic into one of
:class:`ProofState` (goals remain), :class:`ProofFinished` (no goals remain; not yet verified)
or :class:`TacticError` (the prover rejected the tactic; the state is unchanged).
:class:`Verdict` is the answer of ``verify``: the only thing that may grant reward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Language",
    "ProofFinished",
    "ProofState",
    "TacticError",
    "TacticResult",
    "Theorem",
    "Verdict",
]

Language = Literal["coq", "lean4"]


@dataclass(frozen=True)
class Theorem:
    """A statement to prove, with everything needed to elaborate it.

    Attributes:
        name: The theorem's name (as declared in ``statement``).
        statement: The declaration without its proof, e.g. ``"Theorem t : 1 + 1 = 2."`` (Coq) or
            ``"theorem t : 1 + 1 = 2"`` (Lean 4).
        header: Source that must run before the statement (imports, scopes, definitions).
        language: ``"coq"`` or ``"lean4"``.
        split: Suite split the theorem comes from (``"valid"``, ``"test"``, ...), if any.
        source: Path of the file the theorem was read from, if any.
    """

    name: str
    statement: str
    header: str = ""
    language: Language = "coq"
    split: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.statement.strip():
            raise ValueError("a Theorem needs a non-empty name and statement")


@dataclass(frozen=True)
class ProofState:
    """A live proof state: some goals remain.

    Attributes:
        id: Opaque, hashable id: equal for states reached by the same tactics from the same
            theorem, different otherwise. Keep the object (not only the id) to run tactics
            from it later: a backend forgets states nobody holds.
        goals: The goals as the prover prints them; each goal is its hypotheses, one per line,
            then ``⊢ conclusion``; goals are separated by a blank line.
        num_goals: Number of goals left (focused ones first, then unfocused/shelved ones).
        theorem: Name of the theorem this state belongs to.
        proof: The tactic sentences that led here from the theorem's start, in order.
    """

    id: int
    goals: str
    num_goals: int
    theorem: str
    proof: tuple[str, ...] = ()
    _handle: Any = field(default=None, repr=False, compare=False, hash=False)


@dataclass(frozen=True)
class ProofFinished:
    """No goals remain. Not a proof yet: reward needs ``backend.verify`` to accept ``proof``.

    Attributes:
        id: Opaque state id.
        theorem: Name of the theorem.
        proof: The tactic sentences from the theorem's start to here.
    """

    id: int
    theorem: str
    proof: tuple[str, ...] = ()
    goals: str = ""
    num_goals: int = 0
    _handle: Any = field(default=None, repr=False, compare=False, hash=False)


@dataclass(frozen=True)
class TacticError:
    """The prover (or the backend's guard) rejected a tactic; the state did not change.

    Attributes:
        message: Why, in the prover's words where it gave any.
        timeout: True when the tactic ran past its time limit.
        rejected_by_guard: True when the backend refused to send the tactic to the prover
            (a vernacular command, ``admit``, malformed text, ...).
    """

    message: str
    timeout: bool = False
    rejected_by_guard: bool = False


TacticResult = ProofState | ProofFinished | TacticError


@dataclass(frozen=True)
class Verdict:
    """The result of re-checking a whole proof in a fresh context.

    Attributes:
        ok: True only when the kernel accepted the whole proof and it uses no axiom outside the
            allowlist.
        message: Why not, when ``ok`` is false.
        axioms: Axioms the proof depends on, as the prover lists them.
        forbidden: The subset of ``axioms`` (or other assumptions) outside the allowlist.
        script: The exact proof script that was checked.
    """

    ok: bool
    message: str = ""
    axioms: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    script: str = ""
