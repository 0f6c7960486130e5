"""The Coq/Rocq backend (``coqidetop``, XML protocol 20220205)."""

from __future__ import annotations

from prover_env.coq.backend import DEFAULT_PRELUDE, REALS_AXIOMS, CoqBackend, CoqConfig
from prover_env.coq.sentences import FORBIDDEN_TACTICS, GuardError, check_tactic, split_sentences

__all__ = [
    "DEFAULT_PRELUDE",
    "FORBIDDEN_TACTICS",
    "REALS_AXIOMS",
    "CoqBackend",
    "CoqConfig",
    "GuardError",
    "check_tactic",
    "split_sentences",
]
