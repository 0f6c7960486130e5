"""Helpers for the Lean tests: where the real REPL transcripts are, and a replay-backed REPL."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from prover_env.lean.repl import LeanRepl, ReplResponse
from prover_env.lean.replay import Transcript, load_transcripts

REPO = Path(__file__).resolve().parents[1]
TRANSCRIPTS = Path(
    os.environ.get("PROVER_GYM_LEAN_TRANSCRIPTS", REPO.parent / "shared" / "fixtures" / "lean-repl")
)


def transcripts() -> list[Transcript]:
    """The real REPL transcripts (empty when the folder is missing)."""
    return load_transcripts(TRANSCRIPTS) if TRANSCRIPTS.is_dir() else []


needs_transcripts = pytest.mark.skipif(
    not transcripts(),
    reason=f"no Lean REPL transcripts in {TRANSCRIPTS}: set PROVER_GYM_LEAN_TRANSCRIPTS",
)
needs_lean = pytest.mark.skipif(
    shutil.which("lake") is None,
    reason="needs a Lean 4 toolchain: `lake` is not on PATH (see `prover-gym doctor`)",
)


def replay_command(*flags: str) -> list[str]:
    """The command line of the replay REPL over the transcripts."""
    return [sys.executable, "-m", "prover_env.lean.replay", str(TRANSCRIPTS), *flags]


def replay_repl(*flags: str, timeout: float = 30.0) -> LeanRepl:
    """A LeanRepl client talking to the replay process."""
    return LeanRepl(replay_command(*flags), timeout=timeout)


def send_recorded(repl: LeanRepl, request: dict[str, Any]) -> ReplResponse:
    """Send a recorded request through the client's typed method for its kind."""
    keys = set(request)
    if "cmd" in keys:
        return repl.command(
            request["cmd"],
            request.get("env"),
            all_tactics=request.get("allTactics", False),
            infotree=request.get("infotree"),
            root_goals=request.get("rootGoals", False),
        )
    if "tactic" in keys:
        return repl.tactic(request["tactic"], request["proofState"])
    if "pickleTo" in keys:
        return repl.pickle(
            request["pickleTo"], env=request.get("env"), proof_state=request.get("proofState")
        )
    if "unpickleEnvFrom" in keys:
        return repl.unpickle_env(request["unpickleEnvFrom"])
    if "unpickleProofStateFrom" in keys:
        return repl.unpickle_proof_state(request["unpickleProofStateFrom"], request.get("env"))
    if "path" in keys:
        return repl.file(
            request["path"], request.get("env"), all_tactics=request.get("allTactics", False)
        )
    raise AssertionError(f"no client method sends a request shaped like {sorted(keys)}")
