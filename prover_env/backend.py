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
from typing import TypeVar

from prover_env.types import ProofFinished, ProofState, TacticResult, Theorem, Verdict

__all__ = ["Backend", "StateNode", "node_of"]


class StateNode:
    """Base of a backend's proof-tree node: the state a ``ProofState`` handle points to.

    A node knows the backend that made it, its theorem and its parent; a backend adds what it
    needs to rebuild the state (sentences, prover ids). The caller's ``ProofState`` owns its
    node, so a state nobody holds is garbage.
    """

    __slots__ = ("__weakref__", "backend", "parent", "theorem", "uid")

    def __init__(self, uid: int, backend: int, theorem: Theorem, parent: StateNode | None) -> None:
        self.uid, self.backend, self.theorem, self.parent = uid, backend, theorem, parent

    def chain(self) -> list[StateNode]:
        """Nodes from the episode's root down to this one."""
        out: list[StateNode] = []
        node: StateNode | None = self
        while node is not None:
            out.append(node)
            node = node.parent
        out.reverse()
        return out


_N = TypeVar("_N", bound=StateNode)


def node_of(state: ProofState | ProofFinished, backend_id: int, kind: type[_N]) -> _N:
    """The node behind ``state``, checking that backend ``backend_id`` made it.

    Raises:
        ValueError: ``state`` comes from another backend (or is not a backend's state).
    """
    node = getattr(state, "_handle", None)
    if not isinstance(node, kind) or node.backend != backend_id:
        raise ValueError(
            "this state was not made by this backend: pass a ProofState returned by its "
            "start() or run_tactic()"
        )
    return node


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
