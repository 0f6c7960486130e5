"""Lean 4 backends: the Lean REPL (``lake exe repl``) and LeanDojo.

Nothing here imports Lean tooling at import time; ``lean-dojo`` is imported only when the
LeanDojo backend is used.
"""

from __future__ import annotations

from prover_env.lean.backend import LEAN_AXIOMS, LeanConfig, LeanReplBackend
from prover_env.lean.dojo import LeanDojoBackend, LeanDojoConfig
from prover_env.lean.guard import LeanGuardError, check_lean_tactic
from prover_env.lean.suites import (
    builtin_lean_theorems,
    load_lean_file,
    load_minif2f_lean,
    parse_lean_source,
)

__all__ = [
    "LEAN_AXIOMS",
    "LeanConfig",
    "LeanDojoBackend",
    "LeanDojoConfig",
    "LeanGuardError",
    "LeanReplBackend",
    "builtin_lean_theorems",
    "check_lean_tactic",
    "load_lean_file",
    "load_minif2f_lean",
    "parse_lean_source",
]
