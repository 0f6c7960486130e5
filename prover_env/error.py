"""The exception tree of prover-gym.

The prover *rejecting* a tactic is not an exception: it is a :class:`~prover_env.types.TacticError`
value. Exceptions are for broken infrastructure (a prover that is missing, crashes, or does not
answer) and for bad input that cannot be turned into a step (an unknown theorem, a statement that
does not elaborate). Every message says how to fix the problem.
"""

from __future__ import annotations

__all__ = [
    "BackendNotAvailableError",
    "DataNotFoundError",
    "ProverCrashedError",
    "ProverError",
    "ProverGymError",
    "ProverTimeoutError",
    "TheoremError",
    "UnknownTheoremError",
]


class ProverGymError(Exception):
    """Base class of every error raised by prover-gym."""


class ProverError(ProverGymError):
    """The prover process misbehaved (infrastructure failure, not a rejected tactic)."""


class BackendNotAvailableError(ProverError):
    """The prover executable is not installed or cannot start."""


class ProverCrashedError(ProverError):
    """The prover process died and could not be brought back."""


class ProverTimeoutError(ProverError):
    """The prover did not answer, even to an interrupt, and had to be killed."""


class TheoremError(ProverGymError):
    """A theorem statement (or its header) does not elaborate on the installed prover.

    Attributes:
        theorem: Name of the theorem.
        message: The prover's own error message.
    """

    def __init__(self, theorem: str, message: str) -> None:
        self.theorem = theorem
        self.message = message
        super().__init__(
            f"theorem {theorem!r} is unusable on the installed prover: {message.strip()} "
            "(fix the statement or its imports, or skip it: suites report such theorems "
            "with `prover-gym suite check`)"
        )


class UnknownTheoremError(ProverGymError, KeyError):
    """A theorem name that is not in the environment's suite."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown theorem"


class DataNotFoundError(ProverGymError, FileNotFoundError):
    """A theorem suite's files could not be found."""
