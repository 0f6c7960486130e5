"""Lean 4 with your own Mathlib project, through the Lean REPL backend.

Runs where a Lean toolchain exists (no Lean toolchain can be installed on the machines this
package is developed on; `prover-gym doctor` prints the setup steps). Setup:

1. A Lean project with Mathlib and the REPL (https://github.com/leanprover-community/repl)
   as a dependency, built: `lake exe cache get && lake build`.
2. `export PROVER_GYM_LEAN_PROJECT=/path/to/project`.

Usage: python examples/lean_mathlib.py
"""

import os
import shutil
import sys

from prover_env import ProofFinished, Theorem
from prover_env.lean.backend import LeanReplBackend

project = os.environ.get("PROVER_GYM_LEAN_PROJECT")
if shutil.which("lake") is None or not project:
    print(
        "needs `lake` on PATH and PROVER_GYM_LEAN_PROJECT set: see this file's docstring "
        "and `prover-gym doctor`"
    )
    sys.exit(0)

theorem = Theorem(
    "add_comm_example",
    "theorem add_comm_example (a b : ℕ) : a + b = b + a",
    header="import Mathlib",
    language="lean4",
)
with LeanReplBackend(project=project, timeout=60) as lean:
    state = lean.start(theorem)
    print(state.goals)
    done = lean.run_tactic(state, "omega")
    print(type(done).__name__)
    if not isinstance(done, ProofFinished):
        sys.exit(f"the tactic did not close the goal: {done}")
    verdict = lean.verify(theorem, done.proof)
    print(f"kernel verdict: ok={verdict.ok}, axioms={verdict.axioms}")
