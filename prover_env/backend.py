"""The backend contract every prover implements.

``start`` a theorem, ``run_tactic`` from ANY live state the caller kept (tree search branches),
``verify`` a whole proof in a fresh context. The prover rejecting a tactic is a
:class:`~prover_env.types.TacticError` value; broken infrastructure raises a
:class:`~prover_env.error.ProverError`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from types import TracebackType

from prover_env.types import ProofFinished, ProofState, TacticResult, Theorem, Verdict

__all__ = ["Backend"]


class Backend(abc.ABC):
    """An interactive theorem prover behind one small interface.

    Backends are context managers: leaving the ``with`` block (or ``close()``) kills every
    prover process they started.
    """

    #: Language of the theorems this backend accepts.
    language: str = ""

    @abc.abstractmethod
    def start(self, theorem: Theorem) -> ProofState:
        """Open ``theorem`` and return its initial proof state.

        Raises:
            TheoremError: The statement or its header does not elaborate.
            ProverError: The prover is missing or broken.
        """

    @abc.abstractmethod
    def run_tactic(
        self, state: ProofState | ProofFinished, tactic: str, timeout: float | None = None
    ) -> TacticResult:
        """Run ``tactic`` from ``state`` (any state this backend returned and the caller kept).

        Returns:
            The new state, :class:`ProofFinished` when no goals remain, or a
            :class:`TacticError` (the state is unchanged).
        """

    @abc.abstractmethod
    def verify(self, theorem: Theorem, proof: str | Sequence[str]) -> Verdict:
        """Re-check a whole proof of ``theorem`` in a fresh context with the kernel."""

    @abc.abstractmethod
    def close(self) -> None:
        """Kill every prover process this backend started. Idempotent."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
