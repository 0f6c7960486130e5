"""check_backend on the real Coq backend, and on backends broken one rule at a time."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from prover_env import BackendCheckError, CoqBackend, builtin_coq_theorems
from prover_env.checker import check_backend
from prover_env.types import ProofFinished, ProofState, TacticResult, Verdict

THM = {t.name: t for t in builtin_coq_theorems()}["r_linear_system"]
PROOF = ["intros x y h1 h2.", "lra."]


def test_coq_backend_keeps_the_contract() -> None:
    backend = CoqBackend(timeout=10.0)
    rules = check_backend(backend, THM, PROOF)
    assert rules == ["start", "ids", "steps", "rejection", "kept state", "branching",
                     "finished", "verify", "close"]  # fmt: skip
    assert backend.pids() == []


class TrustingVerify(CoqBackend):
    def verify(self, theorem, proof):  # type: ignore[no-untyped-def]
        return Verdict(True, script=" ".join(proof))


class RaisingOnRejection(CoqBackend):
    def run_tactic(self, state, tactic, timeout=None):  # type: ignore[no-untyped-def]
        result = super().run_tactic(state, tactic, timeout)
        if not isinstance(result, (ProofState, ProofFinished)):
            raise RuntimeError(result.message)
        return result


class Forgetful(CoqBackend):
    """Runs every tactic from the newest state instead of the one passed in."""

    last: ProofState | ProofFinished | None = None

    def run_tactic(self, state, tactic, timeout=None):  # type: ignore[no-untyped-def]
        result: TacticResult = super().run_tactic(self.last or state, tactic, timeout)
        if isinstance(result, (ProofState, ProofFinished)):
            self.last = result
        return result


class CountingIds(CoqBackend):
    n = 0

    def start(self, theorem):  # type: ignore[no-untyped-def]
        state = super().start(theorem)
        self.n += 1
        return ProofState(self.n, state.goals, state.num_goals, state.theorem, state.proof,
                          _handle=state._handle)  # fmt: skip


class LeakyClose(CoqBackend):
    def close(self) -> None:
        pass  # never kills coqidetop


@pytest.mark.parametrize(
    ("cls", "rule"),
    [
        (TrustingVerify, "verify"),
        (RaisingOnRejection, "rejection"),
        (Forgetful, "kept state"),
        (CountingIds, "ids"),
        (LeakyClose, "close"),
    ],
)
def test_each_broken_rule_is_caught(cls: type[CoqBackend], rule: str) -> None:
    backend = cls(timeout=10.0)
    try:
        with pytest.raises(BackendCheckError, match=rf"(?s)^\[{rule}\] .*Fix: "):
            check_backend(backend, THM, PROOF)
    finally:
        CoqBackend.close(backend)
    assert backend.pids() == []


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least one tactic"):
        check_backend(CoqBackend(), THM, [])


def test_a_wrong_proof_is_reported_as_such() -> None:
    backend = CoqBackend(timeout=10.0)
    proof: Sequence[str] = ["intros x y h1 h2.", "lia."]
    with pytest.raises(BackendCheckError, match=r"^\[steps\] the proof's tactic 'lia.'"):
        check_backend(backend, THM, proof)
    backend.close()
