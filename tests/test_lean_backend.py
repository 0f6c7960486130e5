"""LeanReplBackend driven against the replay of real REPL transcripts, and a live-Lean test."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from lean_support import needs_lean, needs_transcripts, replay_command

from prover_env import (
    ProofFinished,
    ProofState,
    ProverEnv,
    ProverError,
    TacticError,
    Theorem,
    TheoremError,
)
from prover_env.lean.backend import LeanReplBackend
from prover_env.lean.guard import LeanGuardError, check_lean_tactic, parse_print_axioms

# The statements of real transcripts: the backend must send exactly what real Lean saw.
COMPLEX_AND = Theorem(
    "complex_and",
    "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r",
    language="lean4",
)
MY_THEOREM = Theorem("my_theorem", "theorem my_theorem (x : Nat) : x = x", language="lean4")
DEF_F = Theorem("f", "def f : Nat", language="lean4")
BRANCHING = ["apply And.intro", "exact h1.left", "apply h2", "exact h1.right"]


def backend(*flags: str, timeout: float = 20.0) -> LeanReplBackend:
    return LeanReplBackend(command=tuple(replay_command(*flags)), timeout=timeout, project=".")


@needs_transcripts
def test_proof_through_tactic_mode_multi_goal_states() -> None:
    with backend() as lean:
        s = lean.start(COMPLEX_AND)
        assert isinstance(s, ProofState)
        assert s.goals == "p q r : Prop\nh1 : p ∧ q\nh2 : q → r\n⊢ p ∧ r" and s.num_goals == 1
        s1 = lean.run_tactic(s, BRANCHING[0])
        assert isinstance(s1, ProofState) and s1.num_goals == 2
        assert s1.goals.split("\n\n")[0].startswith("case left") and "case right" in s1.goals
        for tactic in BRANCHING[1:]:
            s1 = lean.run_tactic(s1, tactic)
        assert isinstance(s1, ProofFinished) and s1.proof == tuple(BRANCHING)


@needs_transcripts
def test_lean_errors_are_tactic_errors() -> None:
    with backend() as lean:
        err = lean.run_tactic(lean.start(MY_THEOREM), "exact my_fake_premise")
        assert isinstance(err, TacticError) and "Unknown identifier" in err.message
    with backend() as lean:
        err = lean.run_tactic(lean.start(DEF_F), "exat 42")
        assert isinstance(err, TacticError) and "unknown tactic" in err.message


@needs_transcripts
def test_verify_never_passes_without_real_lean() -> None:
    # The replay has no recording of the checking commands: no verdict can be invented.
    with backend() as lean:
        s = lean.start(COMPLEX_AND)
        for tactic in BRANCHING:
            s = lean.run_tactic(s, tactic)  # type: ignore[assignment]
        assert isinstance(s, ProofFinished)
        verdict = lean.verify(COMPLEX_AND, s.proof)
        assert not verdict.ok and "failed while checking" in verdict.message


@needs_transcripts
def test_env_gives_no_reward_for_an_unverified_finish() -> None:
    env = ProverEnv([COMPLEX_AND], backend=backend())
    try:
        obs, info = env.reset()
        assert obs.endswith("⊢ p ∧ r")
        for tactic in BRANCHING:
            obs, reward, terminated, _, info = env.step(tactic)
        assert terminated and reward == 0.0 and not info["verdict"]["ok"]
    finally:
        env.close()
        env.backend.close()  # the env does not own a backend it was given


@needs_transcripts
def test_process_killed_mid_episode_restarts_and_replays() -> None:
    with backend() as lean:
        s1 = lean.run_tactic(lean.start(COMPLEX_AND), BRANCHING[0])
        (pid,) = lean.pids()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        s2 = lean.run_tactic(s1, BRANCHING[1])  # replays the statement and the first tactic
        assert isinstance(s2, ProofState) and lean.pids() != [pid] and lean.restarts == 1


@needs_transcripts
@pytest.mark.parametrize("flag", ["--exit-after", "--hang-after", "--garbage-after"])
def test_broken_process_during_a_tactic(flag: str, tmp_path: Path) -> None:
    marker = tmp_path / "fault"
    with backend(flag, "2", "--fault-once", str(marker), timeout=2.0) as lean:
        s1 = lean.run_tactic(lean.start(COMPLEX_AND), BRANCHING[0])
        started = time.monotonic()
        err = lean.run_tactic(s1, BRANCHING[1])  # request #2 breaks the process
        assert time.monotonic() - started < 2.0 + 5.0
        assert isinstance(err, TacticError) and "restarted" in err.message
        assert err.timeout == (flag == "--hang-after")
        s2 = lean.run_tactic(s1, BRANCHING[1])  # a fresh process: replay, then the tactic
        assert isinstance(s2, ProofState) and marker.exists()


@needs_transcripts
def test_a_process_that_breaks_twice_is_raised_and_reaped() -> None:
    """A REPL that never answers: after one restart the time-out is raised (infrastructure),
    and neither process is left behind as a zombie waiting for the next call."""
    import psutil

    command = tuple(replay_command("--hang-after", "0"))
    with LeanReplBackend(command=command, project=".", timeout=1.0, startup_timeout=1.0) as lean:
        with pytest.raises(ProverError):
            lean.start(COMPLEX_AND)
        assert lean.pids() == []
        children = psutil.Process().children(recursive=True)
        assert not [c for c in children if c.status() == psutil.STATUS_ZOMBIE]


@needs_transcripts
def test_recycling_restores_kept_states_by_replay() -> None:
    # the REPL cannot free proof states: past 3 requests the process is replaced
    lean = LeanReplBackend(
        command=tuple(replay_command()), timeout=20.0, project=".", recycle_requests=3
    )
    with lean:
        s = lean.start(COMPLEX_AND)
        states = [s]
        for tactic in BRANCHING[:2]:
            states.append(lean.run_tactic(states[-1], tactic))  # type: ignore[arg-type]
        first = lean.pids()
        nxt = lean.run_tactic(states[-1], BRANCHING[2])  # type: ignore[arg-type]
        assert isinstance(nxt, ProofState) and lean.pids() != first
        assert lean.restarts == 0  # a recycle, not a failure


@needs_transcripts
def test_have_steps_and_kept_states() -> None:
    thm = Theorem("ex", "example (p q : Prop) : p ∧ q → q ∧ p", language="lean4")
    steps = ["intro h", "have hp : p := h.left", "have hq : q := h.right", "apply And.intro"]
    with backend() as lean:
        states = [lean.start(thm)]
        for tactic in steps:
            states.append(lean.run_tactic(states[-1], tactic))  # type: ignore[arg-type]
        assert [s.num_goals for s in states] == [1, 1, 1, 1, 2]
        assert "hp : p" in states[3].goals and "hq : q" in states[3].goals
        done = lean.run_tactic(lean.run_tactic(states[-1], "exact hq"), "exact hp")  # type: ignore[arg-type]
        assert isinstance(done, ProofFinished) and done.proof == (*steps, "exact hq", "exact hp")


def test_guard() -> None:
    for ok in ("nlinarith [sq_nonneg (a - b)]", "intro x\nsimp at h ⊢", "exact?", "norm_num [h₀]"):
        assert check_lean_tactic(ok) == ok
    for bad in (
        "sorry", "exact sorryAx _", "admit", "native_decide", "simp; stop",
        "exact Lean.ofReduceBool", "set_option maxRecDepth 100000 in simp", "#exit", "  #eval 1",
        "run_tac pure ()", "intro x\ntheorem evil : False := sorry", "exact «sorryAx» _ false",
        "@[implemented_by f] def g", "axiom evil : False", "unsafe def x := 1", "", "  \n",
        "simp\x00", "/- open comment",
    ):  # fmt: skip
        with pytest.raises(LeanGuardError):
            check_lean_tactic(bad)
    # comments and strings do not hide escapes, nor trigger false alarms
    assert check_lean_tactic("simp -- sorry is not used here") == "simp -- sorry is not used here"
    with pytest.raises(LeanGuardError):  # with a string, the whole text is checked
        check_lean_tactic('trace "sorry"')
    for bypass in ("have h := ('\"', 0).2\nnative_decide", 'exact s!"{"--"}" ; sorry'):
        with pytest.raises(LeanGuardError):
            check_lean_tactic(bypass)
    with pytest.raises(LeanGuardError, match="new declaration"):
        check_lean_tactic("simp\n  theorem evil : False := by simp")
    assert check_lean_tactic("native_decide", allow_native_decide=True) == "native_decide"


def test_parse_print_axioms() -> None:
    out = "'foo' depends on axioms: [propext, Classical.choice, Quot.sound]"
    assert parse_print_axioms(out, "foo") == ("propext", "Classical.choice", "Quot.sound")
    assert parse_print_axioms("'bar' does not depend on any axioms", "bar") == ()
    assert parse_print_axioms(out, "bar") is None


@needs_lean
@pytest.mark.lean
def test_live_lean_proof_and_verify() -> None:
    project = os.environ.get("PROVER_GYM_LEAN_PROJECT")
    if not project:
        pytest.skip("set PROVER_GYM_LEAN_PROJECT to a Lean project with the REPL")
    thm = Theorem("t", "theorem t (a b : Nat) : a + b = b + a", language="lean4")
    with LeanReplBackend(project=project) as lean:
        s = lean.start(thm)
        done = lean.run_tactic(s, "omega")
        assert isinstance(done, ProofFinished)
        verdict = lean.verify(thm, done.proof)
        assert verdict.ok, verdict.message
        cheat = lean.verify(thm, ["sorry"])
        assert not cheat.ok
        with pytest.raises(TheoremError):
            lean.start(Theorem("bad", "theorem bad : no_such_constant = 1", language="lean4"))
