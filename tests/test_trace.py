"""Tracing proofs on real Coq: steps, corrections, difficulty labels; the synth dataset build
(sequential and on Ray) and its resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agents import Candidate, StepAgent
from prover_env import CoqBackend, ProofFinished, ProofState, Theorem
from training.build import SynthConfig, build_dataset
from training.dataset import MANIFEST, STEPS, THEOREMS, read_steps, read_theorems
from training.synth import COQ_HEADER, generate
from training.trace import difficulty_of, trace_theorem

LIN_R = Theorem("lin_r", "Theorem lin_r : (forall x : R, 3 * x + 2 = 11 -> x = 3)%R.", COQ_HEADER)


class Scripted:
    """Proposes a fixed list at every state."""

    def __init__(self, *tactics: str) -> None:
        self.tactics = tactics

    def propose(self, state: ProofState, k: int) -> list[Candidate]:
        return [Candidate(t, -i) for i, t in enumerate(self.tactics[:k])]


def replay(coq: CoqBackend, theorem: Theorem, tactics: list[str]) -> ProofState | ProofFinished:
    state: ProofState | ProofFinished = coq.start(theorem)
    for tac in tactics:
        assert isinstance(state, ProofState)
        state = coq.run_tactic(state, tac)  # type: ignore[assignment]
    return state


def test_steps_chain_and_corrections_are_real(coq: CoqBackend) -> None:
    agent = Scripted("intros.", "lia.", "nia.", "lra.")
    out = trace_theorem(coq, LIN_R, agent)
    assert out["proved"] and out["proof"] == ["intros.", "lra."]
    steps = [s for s in out["steps"] if s["kind"] == "step"]
    fixes = [s for s in out["steps"] if s["kind"] == "correction"]
    assert [s["tactic"] for s in steps] == out["proof"]
    assert steps[0]["state_before"].startswith("⊢ forall x : R")
    assert steps[0]["state_after"] == steps[1]["state_before"] and steps[1]["state_after"] == ""
    # at the start lia, nia and lra failed before intros worked; after it, lia and nia failed
    # before lra worked
    assert [(f["failed_tactic"], f["tactic"]) for f in fixes] == [
        ("lia.", "intros."),
        ("nia.", "intros."),
        ("lra.", "intros."),
        ("lia.", "lra."),
        ("nia.", "lra."),
    ]
    assert all(f["state_before"] == steps[0]["state_before"] and f["error"] for f in fixes[:3])
    assert all(f["state_before"] == steps[1]["state_before"] and f["error"] for f in fixes[3:])
    # the recorded errors are the prover's: running the failed tactic again says the same
    again = coq.run_tactic(replay(coq, LIN_R, ["intros."]), "lia.")  # type: ignore[arg-type]
    assert again.message.strip() == fixes[3]["error"]  # type: ignore[union-attr]
    # and the recorded proof replays to the end
    assert isinstance(replay(coq, LIN_R, out["proof"]), ProofFinished)
    labels = out["labels"]
    assert labels["steps"] == 2 and labels["tactics"] == ["intros", "lra"]
    assert labels["tactic_calls"] >= 4 and labels["errors"] >= 2
    assert out["difficulty"] == difficulty_of(2, labels["tactic_calls"])


def test_unproved_and_cheating_traces_record_nothing(coq: CoqBackend) -> None:
    false = Theorem("no", "Theorem no : (forall x : Z, x > 0)%Z.", COQ_HEADER)
    out = trace_theorem(coq, false, Scripted("intros.", "lia.", "admit.", "Admitted."))
    assert not out["proved"] and out["steps"] == [] and out["difficulty"] is None
    assert out["labels"]["errors"] >= 2


def test_step_agent_traces_every_family(coq: CoqBackend) -> None:
    """The step-level automation proves a sample of each family, and its corrections are real
    failures at states on the proof's path."""
    sample = {}
    for t in generate(400, seed=5):
        sample.setdefault(t.family, t)
    assert len(sample) == 9
    for t in sample.values():
        out = trace_theorem(coq, t.coq_theorem(), StepAgent())
        assert out["proved"], (t.coq, out["reason"])
        befores = {s["state_before"] for s in out["steps"] if s["kind"] == "step"}
        for rec in out["steps"]:
            if rec["kind"] == "correction":
                assert rec["state_before"] in befores and rec["failed_tactic"] != rec["tactic"]


def test_build_dataset_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    config = SynthConfig(out=str(out), n=24, seed=2, workers=1)
    manifest = build_dataset(config, progress=False)
    theorems = list(read_theorems(out))
    steps = list(read_steps(out))
    assert manifest["theorems"] == len(theorems) == 24 and manifest["unusable"] == 0
    assert manifest["proved"] == sum(t.proved for t in theorems) >= 20
    assert manifest["corrections"] == sum(s.kind == "correction" for s in steps) > 0
    assert {s.theorem for s in steps} <= {t.name for t in theorems if t.proved}
    assert all(s.split == next(t.split for t in theorems if t.name == s.theorem) for s in steps)
    # simulate a kill mid-write: drop the last 10 theorem lines, leave a torn line and the
    # orphan steps of the theorems that lost their lines
    lines = (out / THEOREMS).read_text().splitlines(keepends=True)
    (out / THEOREMS).write_text("".join(lines[:14]) + lines[14][:30])
    again = build_dataset(config, progress=False)
    assert again["traced_this_run"] == 10 and again["theorems"] == 24
    names = [t.name for t in read_theorems(out)]
    assert sorted(names) == sorted(t.name for t in theorems)
    steps_again = list(read_steps(out))
    assert len(steps_again) == len(steps)  # no duplicated steps of the re-traced theorems
    with pytest.raises(ValueError, match="seed"):
        build_dataset(SynthConfig(out=str(out), n=24, seed=3, workers=1), progress=False)


def test_cli_synth_on_ray(tmp_path: Path) -> None:
    out = tmp_path / "ray"
    cmd = [sys.executable, "-m", "prover_env.cli", "synth", "--n", "16", "--seed", "4",
           "--workers", "2", "--out", str(out), "--no-progress"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shown = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert shown["theorems"] == 16 and shown["steps"] > 16
    assert json.loads((out / MANIFEST).read_text())["config"]["workers"] == 2
    assert (out / STEPS).stat().st_size > 0
