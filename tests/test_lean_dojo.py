"""The LeanDojo backend (prover_env/lean/dojo.py).

Without ``lean_dojo`` and a Lean toolchain (the usual case here) these tests cover the guard,
the version warning, the ``Theorem`` encoding, the missing-extra error, and the mapping from
LeanDojo's result objects to prover-gym's types, on the real proof states of a LeanDojo
Benchmark record (``../shared/fixtures/leandojo-benchmark/test.json``).

The ``Recorded*`` classes below are stand-ins with the attribute names of LeanDojo's own
classes (``TacticState.pp/.id/.message/.num_goals``, ``ProofFinished.tactic_state_id``,
``LeanError.error``, ``ProofGivenUp``); they carry states *recorded* from real Lean runs and
never show that a proof was found: no test here asserts an accepting ``Verdict`` from them.
The test marked ``lean`` runs LeanDojo's own example for real where ``lake`` and ``lean_dojo``
are installed.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from prover_env.error import BackendNotAvailableError, ProverCrashedError, TheoremError
from prover_env.lean.dojo import (
    AXIOMS_NOT_CHECKED,
    INSTALL_HINT,
    DojoTheoremRef,
    LeanDojoBackend,
    LeanGuardError,
    check_lean_tactic,
    count_dojo_goals,
    dojo_result_kind,
    dojo_source,
    dojo_theorem,
    dojo_version_warning,
    map_dojo_result,
    parse_dojo_theorem,
)
from prover_env.types import ProofFinished, ProofState, TacticError, Theorem

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(
    os.environ.get(
        "PROVER_GYM_LEANDOJO_FIXTURE",
        REPO.parent / "shared" / "fixtures" / "leandojo-benchmark" / "test.json",
    )
)


def _records() -> list[dict[str, Any]]:
    if not FIXTURE.is_file():
        return []
    return list(json.loads(FIXTURE.read_text(encoding="utf-8")))


RECORDS = _records()
needs_fixture = pytest.mark.skipif(
    not RECORDS,
    reason=f"LeanDojo Benchmark record not found at {FIXTURE}: set PROVER_GYM_LEANDOJO_FIXTURE",
)


# -- stand-ins carrying real recorded states --------------------------------------------------


@dataclass(frozen=True)
class RecordedTacticState:
    """A recorded state with the attributes of ``lean_dojo.TacticState`` (pp, id, message)."""

    pp: str
    id: int = field(compare=False)
    message: str | None = field(default=None, compare=False)

    @property
    def num_goals(self) -> int:
        # as lean_dojo.interaction.parse_goals counts them: blank-line blocks holding a ⊢
        return len([g for g in self.pp.split("\n\n") if "⊢" in g])


@dataclass(frozen=True)
class RecordedProofFinished:
    """A recorded "no goals" answer, with the attributes of ``lean_dojo.ProofFinished``."""

    tactic_state_id: int
    message: str | None = None


@dataclass(frozen=True)
class RecordedLeanError:
    """An error answer with the attribute of ``lean_dojo.LeanError``."""

    error: str


@dataclass(frozen=True)
class RecordedProofGivenUp:
    """``lean_dojo.ProofGivenUp`` has no attributes."""


@dataclass(frozen=True)
class TimeoutError:  # lean-dojo 1.x names its timeout result class exactly so
    """A lean-dojo 1.x ``TimeoutError`` result (an ``error`` attribute)."""

    error: str


def recorded_result(text: str, sid: int) -> RecordedTacticState | RecordedProofFinished:
    """What ``Dojo.run_tac`` returns for a recorded ``state_after``: LeanDojo answers
    ``ProofFinished`` when Lean prints ``no goals``, a ``TacticState`` otherwise."""
    return RecordedProofFinished(sid) if text == "no goals" else RecordedTacticState(text, sid)


# -- the guard --------------------------------------------------------------------------------

ESCAPES = [
    "sorry",
    "exact sorryAx _ false",
    "admit",
    "stop",
    "native_decide",
    "decide +native",
    "exact Lean.ofReduceBool _ _ rfl",
    "bv_decide",
    "#exit",
    "#eval 1",
    "set_option debug.skipKernelTC true in exact h",
    "set_option maxHeartbeats 0 in simp",
    "axiom",
    "unsafe",
    "implemented_by",
    "run_tac Lean.Elab.Tactic.evalTactic default",
    "@[simp] theorem x : True := trivial",
    "constructor\n  · simp\n  · sorry",
    "intro x; admit",
    "exact «sorryAx» _ false",
    # a string or a character literal must not hide an escape from the guard
    "have h := ('\"', 0).2\nnative_decide\nhave h2 := ('\"', 0).2",
    'exact s!"{"--"}" ; sorry',
    'trace "sorry"',
]
ORDINARY = [
    "nlinarith [sq_nonneg (a - b)]",
    "simp",
    "rw [h]",
    "intro x",
    "rw [add_assoc, add_comm b, ←add_assoc]",
    "induction' n with d hd",
    "constructor\n  · simp\n  · linarith [h₁, h₂]",
    "have key : a ≤ b := by\n  nlinarith [sq_nonneg a]\nlinarith",
    "simp [hsorry, stop', admit_lemma]",  # forbidden words only inside longer names
    "simp -- no sorry here, just a comment\nring",
    "/- a comment that says admit /- nested -/ -/ omega",
    "exact f '' s",
]


@pytest.mark.parametrize("action", ESCAPES)
def test_guard_refuses_escapes(action: str) -> None:
    with pytest.raises(LeanGuardError) as e:
        check_lean_tactic(action)
    assert str(e.value)  # says why


@pytest.mark.parametrize("action", ORDINARY)
def test_guard_accepts_ordinary_tactics(action: str) -> None:
    assert check_lean_tactic(action) == action


def test_guard_messages_say_why() -> None:
    with pytest.raises(LeanGuardError, match="closes goals without a proof"):
        check_lean_tactic("sorry")
    with pytest.raises(LeanGuardError, match="skipKernelTC"):
        check_lean_tactic("set_option debug.skipKernelTC true in rfl")
    with pytest.raises(LeanGuardError, match="allow_native_decide"):
        check_lean_tactic("native_decide")


def test_guard_allows_native_decide_only_when_asked() -> None:
    assert check_lean_tactic("native_decide", allow_native_decide=True) == "native_decide"
    with pytest.raises(LeanGuardError):
        check_lean_tactic("native_decide; sorry", allow_native_decide=True)


@pytest.mark.parametrize(
    ("action", "why"),
    [
        ("", "empty"),
        ("  \n\t ", "empty"),
        ("-- only a comment", "only comments"),
        ("simp\x00", "control"),
        ("simp\x1b[2J", "control"),
        ("simp\r\nring", "control"),
        ("si\u200bmp", "invisible"),
        ("x" * 16385, "over the limit"),
        ("/- never closed", "unterminated comment"),
    ],
)
def test_guard_refuses_malformed_actions(action: str, why: str) -> None:
    with pytest.raises(LeanGuardError, match=why):
        check_lean_tactic(action)


def test_guard_limits_and_normalises() -> None:
    assert check_lean_tactic("x" * 16384) == "x" * 16384
    with pytest.raises(LeanGuardError):
        check_lean_tactic("simp", max_chars=3)
    assert check_lean_tactic("\n  constructor\n    · simp\n") == "constructor\n  · simp"
    with pytest.raises(LeanGuardError, match="str"):
        check_lean_tactic(None)  # type: ignore[arg-type]


# -- the version warning ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dojo", "lean", "warns"),
    [
        ("1.8.4", "4.12.0", True),
        ("1.7.1", "v4.15.0-rc1", True),
        ("1.8.4", "leanprover/lean4:v4.12.0", True),
        ("1.9.0", "Lean (version 4.20.1, x86_64-unknown-linux-gnu, commit abc, Release)", True),
        ("2.1.3", "4.12.0", True),  # issue #211 is open for every release
        ("4.20.0", "v4.20.0", True),
        ("4.20.0", "v4.11.0", False),
        ("1.8.4", "4.9.0", False),
        ("1.8.4", "v4.11.0", False),
        (None, "4.12.0", False),
        ("1.8.4", None, False),
        ("1.8.4", "nightly", False),
    ],
)
def test_dojo_version_warning(dojo: str | None, lean: str | None, warns: bool) -> None:
    warning = dojo_version_warning(dojo, lean)
    assert (warning is not None) is warns
    if warning:
        assert "4.12" in warning and "issues/211" in warning


# -- encoding theorems ------------------------------------------------------------------------


@needs_fixture
def test_theorem_encoding_round_trips_the_benchmark_record() -> None:
    rec = RECORDS[0]
    thm = dojo_theorem(rec["url"], rec["commit"], rec["file_path"], rec["full_name"])
    assert thm.language == "lean4" and thm.name == rec["full_name"] and thm.header == ""
    assert thm.source == f"{rec['url']}@{rec['commit']}:{rec['file_path']}"
    assert thm.source == dojo_source(rec["url"], rec["commit"], rec["file_path"])
    ref = parse_dojo_theorem(thm)
    assert ref == DojoTheoremRef(rec["url"], rec["commit"], rec["file_path"], rec["full_name"])
    text = "theorem lim_im (f : CauSeq ℂ abs') : lim (cauSeqIm f) = (lim f).im"
    with_text = dojo_theorem(**{k: rec[k] for k in ("url", "commit", "file_path", "full_name")},
                             statement=text, split="test")  # fmt: skip
    assert with_text.statement == text and with_text.split == "test"
    assert parse_dojo_theorem(with_text) == ref


def test_theorem_encoding_edge_cases() -> None:
    ref = parse_dojo_theorem(dojo_theorem("/home/me/my-repo", "v4.9.0", "A/B C.lean", "A.b"))
    assert (ref.url, ref.commit, ref.file_path) == ("/home/me/my-repo", "v4.9.0", "A/B C.lean")
    with pytest.raises(ValueError, match="file_path"):
        dojo_theorem("https://github.com/a/b", "abc", "/abs/A.lean", "x")
    with pytest.raises(ValueError, match="commit"):
        dojo_theorem("https://github.com/a/b", "feature/x", "A.lean", "x")
    with pytest.raises(ValueError, match="full_name"):
        dojo_theorem("https://github.com/a/b", "abc", "A.lean", "two words")
    with pytest.raises(ValueError, match="lean4"):
        parse_dojo_theorem(Theorem("t", "Theorem t : True."))
    with pytest.raises(ValueError, match="URL@COMMIT"):
        parse_dojo_theorem(Theorem("t", "theorem t : True", language="lean4", source="x.lean"))
    with pytest.raises(ValueError, match="header"):
        parse_dojo_theorem(
            Theorem("t", "t", header="import Mathlib", language="lean4", source="u@c:A.lean")
        )


# -- mapping LeanDojo's results, on real recorded states --------------------------------------


@needs_fixture
def test_mapping_preserves_recorded_goals_exactly() -> None:
    steps = [t for rec in RECORDS for t in rec["traced_tactics"]]
    assert steps, "the record has traced tactics"
    sid = itertools.count(1)
    proof: tuple[str, ...] = ()
    for step in steps:
        before = RecordedTacticState(step["state_before"], next(sid))
        mapped = map_dojo_result(before, theorem="Complex.lim_im", proof=proof, state_id=7)
        assert isinstance(mapped, ProofState)
        assert mapped.goals == step["state_before"]  # byte for byte
        assert mapped.num_goals == before.num_goals == count_dojo_goals(step["state_before"])
        assert mapped.num_goals == 1 and mapped.id == 7 and mapped.proof == proof
        proof = (*proof, step["tactic"])
        after = recorded_result(step["state_after"], next(sid))
        mapped_after = map_dojo_result(after, theorem="Complex.lim_im", proof=proof, state_id=8)
        if step["state_after"] == "no goals":
            assert dojo_result_kind(after) == "finished"
            assert isinstance(mapped_after, ProofFinished)
            assert mapped_after.goals == "" and mapped_after.num_goals == 0
            assert mapped_after.proof == proof
        else:
            assert isinstance(mapped_after, ProofState)
            assert mapped_after.goals == step["state_after"]
    assert count_dojo_goals("no goals") == 0


@needs_fixture
def test_goal_counting_on_several_recorded_goals() -> None:
    # LeanDojo prints several goals separated by a blank line (ppTacticState in Lean4Repl.lean)
    states = [t["state_before"] for rec in RECORDS for t in rec["traced_tactics"]]
    states += [t["state_after"] for rec in RECORDS for t in rec["traced_tactics"]]
    states = [s for s in states if s != "no goals"]
    pp = "\n\n".join(states)
    mapped = map_dojo_result(RecordedTacticState(pp, 3), theorem="t", proof=(), state_id=1)
    assert isinstance(mapped, ProofState)
    assert mapped.goals == pp and mapped.num_goals == len(states) == count_dojo_goals(pp)
    tagged = "case h\n" + states[0] + "\n\ncase h'\n" + states[-1]
    assert count_dojo_goals(tagged) == 2


def test_mapping_errors_given_up_and_timeouts() -> None:
    err = map_dojo_result(
        RecordedLeanError("unknown identifier 'foo'\n"), theorem="t", proof=(), state_id=1
    )
    assert err == TacticError("unknown identifier 'foo'")
    gave_up = map_dojo_result(RecordedProofGivenUp(), theorem="t", proof=(), state_id=1)
    assert isinstance(gave_up, TacticError) and gave_up.rejected_by_guard
    assert "sorry" in gave_up.message and not gave_up.timeout
    late = map_dojo_result(TimeoutError("try_for_time tactic failed, timeout"), theorem="t",
                           proof=(), state_id=1)  # fmt: skip
    assert isinstance(late, TacticError) and late.timeout and not late.rejected_by_guard
    assert dojo_result_kind(RecordedProofFinished(4)) == "finished"
    with pytest.raises(Exception, match="unexpected LeanDojo result"):
        dojo_result_kind(object())


# -- importing --------------------------------------------------------------------------------


def test_import_stays_light() -> None:
    code = (
        "import sys, prover_env\n"
        "assert 'prover_env.lean.dojo' not in sys.modules\n"
        "import prover_env.lean.dojo\n"
        "assert 'lean_dojo' not in sys.modules, 'lean_dojo imported at module import'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lean_dojo", None)  # as if lean-dojo were not installed
    with pytest.raises(BackendNotAvailableError) as e:
        LeanDojoBackend()
    assert INSTALL_HINT == "pip install 'prover-gym[lean]'"
    assert INSTALL_HINT in str(e.value)


# -- the backend around a Dojo that replays the recorded record -------------------------------


def _recorded_lean_dojo(record: dict[str, Any], log: dict[str, Any]) -> types.ModuleType:
    """A module with lean_dojo's names, whose Dojo answers only the record's own transitions.

    ``crash_here`` makes it crash (its process dies), ``hang_here`` raises LeanDojo's timeout
    error; any other unrecorded tactic gets an error that says it is not in the recording.
    """
    module = types.ModuleType("lean_dojo")
    # the backend tells LeanDojo's exceptions apart by class name
    DojoCrashError = type("DojoCrashError", (Exception,), {})
    DojoInitError = type("DojoInitError", (Exception,), {})
    DojoTacticTimeoutError = type("DojoTacticTimeoutError", (Exception,), {})
    steps = record["traced_tactics"]
    transitions = {(s["state_before"], s["tactic"]): s["state_after"] for s in steps}

    @dataclass(frozen=True)
    class LeanGitRepo:
        url: str
        commit: str

    @dataclass(frozen=True)
    class Theorem:
        repo: LeanGitRepo
        file_path: str
        full_name: str

    class Dojo:
        def __init__(self, entry: Theorem, timeout: int = 600, build_deps: bool = True) -> None:
            self.entry, self.timeout, self.dead = entry, timeout, False
            self.ids = itertools.count(1)

        def __enter__(self) -> tuple[Dojo, RecordedTacticState]:
            if log.get("init_error"):
                raise DojoInitError(log["init_error"])
            if self.entry.full_name != record["full_name"]:
                raise DojoInitError(
                    f"Failed to locate the theorem with `{self.entry.full_name}` as its fully "
                    "qualified name."
                )
            log["entered"] += 1
            log["open"] += 1
            return self, RecordedTacticState(steps[0]["state_before"], 0)

        def __exit__(self, *exc: object) -> None:
            log["exited"] += 1
            log["open"] -= 1

        def run_tac(self, state: RecordedTacticState, tactic: str) -> object:
            log["calls"].append(tactic)
            if self.dead:
                raise DojoCrashError("Unexpected EOF")
            if tactic == "crash_here":
                self.dead = True
                raise DojoCrashError("Unexpected EOF")
            if tactic == "hang_here":
                raise DojoTacticTimeoutError()
            after = transitions.get((state.pp, tactic))
            if after is None:
                return RecordedLeanError(f"stand-in: {tactic!r} is not in the recording")
            return recorded_result(after, next(self.ids))

    module.__dict__.update(
        LeanGitRepo=LeanGitRepo,
        Theorem=Theorem,
        Dojo=Dojo,
        DojoCrashError=DojoCrashError,
        DojoInitError=DojoInitError,
        DojoTacticTimeoutError=DojoTacticTimeoutError,
        __version__="0.0.0-recorded",
    )
    return module


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LeanDojoBackend, dict[str, Any]]]:
    if not RECORDS:
        pytest.skip(f"LeanDojo Benchmark record not found at {FIXTURE}")
    log: dict[str, Any] = {"entered": 0, "exited": 0, "open": 0, "calls": []}
    monkeypatch.setitem(sys.modules, "lean_dojo", _recorded_lean_dojo(RECORDS[0], log))
    backend = LeanDojoBackend(check_lake=False, timeout=5.0, interrupt_grace=5.0)
    try:
        yield backend, log
    finally:
        backend.close()


def _record_theorem() -> Theorem:
    rec = RECORDS[0]
    return dojo_theorem(rec["url"], rec["commit"], rec["file_path"], rec["full_name"])


def test_backend_runs_from_any_kept_state(recorded: tuple[LeanDojoBackend, dict]) -> None:
    backend, log = recorded
    steps = RECORDS[0]["traced_tactics"]
    s0 = backend.start(_record_theorem())
    assert s0.goals == steps[0]["state_before"] and s0.num_goals == 1 and s0.proof == ()
    s1 = backend.run_tactic(s0, steps[0]["tactic"])
    assert isinstance(s1, ProofState) and s1.goals == steps[0]["state_after"]
    bad = backend.run_tactic(s0, "simp_all")  # a branch from the root
    assert isinstance(bad, TacticError) and "not in the recording" in bad.message
    again = backend.run_tactic(s0, steps[0]["tactic"])  # the root again: same content, same id
    assert isinstance(again, ProofState) and again.id == s1.id and again.goals == s1.goals
    done = backend.run_tactic(s1, steps[1]["tactic"])
    assert isinstance(done, ProofFinished)  # no goals left: not yet a proof
    assert done.proof == (steps[0]["tactic"], steps[1]["tactic"])
    refused = backend.run_tactic(done, "simp")
    assert isinstance(refused, TacticError) and refused.rejected_by_guard
    assert log["entered"] == 1  # one Dojo served every call


def test_backend_guard_and_foreign_states(recorded: tuple[LeanDojoBackend, dict]) -> None:
    backend, log = recorded
    s0 = backend.start(_record_theorem())
    calls = len(log["calls"])
    for action in ("sorry", "native_decide", "set_option debug.skipKernelTC true in simp"):
        result = backend.run_tactic(s0, action)
        assert isinstance(result, TacticError) and result.rejected_by_guard
    assert len(log["calls"]) == calls  # nothing reached the Dojo
    with pytest.raises(ValueError, match="not made by this backend"):
        backend.run_tactic(ProofState(1, "⊢ True", 1, "t"), "simp")
    other = LeanDojoBackend(check_lake=False)
    try:
        with pytest.raises(ValueError, match="not made by this backend"):
            other.run_tactic(s0, "simp")
    finally:
        other.close()


def test_backend_recovers_from_a_crash(recorded: tuple[LeanDojoBackend, dict]) -> None:
    backend, log = recorded
    steps = RECORDS[0]["traced_tactics"]
    s0 = backend.start(_record_theorem())
    s1 = backend.run_tactic(s0, steps[0]["tactic"])
    assert isinstance(s1, ProofState)
    crashed = backend.run_tactic(s1, "crash_here")
    assert isinstance(crashed, TacticError) and "restarted" in crashed.message
    assert not crashed.timeout and not crashed.rejected_by_guard
    assert log["entered"] == 2 and log["open"] == 1  # the dead Dojo was exited
    assert log["calls"][-1] == steps[0]["tactic"]  # s1 was replayed on the new Dojo
    done = backend.run_tactic(s1, steps[1]["tactic"])  # the kept state just works
    assert isinstance(done, ProofFinished)
    assert backend.stats.restarts_after_failure == 1 and backend.stats.replayed_tactics == 1


def test_backend_timeout_restarts_and_replays(recorded: tuple[LeanDojoBackend, dict]) -> None:
    backend, log = recorded
    steps = RECORDS[0]["traced_tactics"]
    s0 = backend.start(_record_theorem())
    s1 = backend.run_tactic(s0, steps[0]["tactic"])
    late = backend.run_tactic(s1, "hang_here")
    assert isinstance(late, TacticError) and late.timeout and "restarted" in late.message
    assert log["open"] == 0  # killed now, reopened on demand
    done = backend.run_tactic(s1, steps[1]["tactic"])
    assert isinstance(done, ProofFinished) and log["entered"] == 2


def test_backend_close_exits_every_dojo(recorded: tuple[LeanDojoBackend, dict]) -> None:
    backend, log = recorded
    backend.start(_record_theorem())
    assert backend.open_dojos == 1 and log["open"] == 1
    backend.close()
    backend.close()  # idempotent
    assert log["open"] == 0 and log["exited"] == log["entered"] == 1
    with pytest.raises(Exception, match="closed"):
        backend.start(_record_theorem())


def test_backend_init_errors_say_the_fix(recorded: tuple[LeanDojoBackend, dict]) -> None:
    backend, log = recorded
    rec = RECORDS[0]
    wrong = dojo_theorem(rec["url"], rec["commit"], rec["file_path"], "Complex.no_such_lemma")
    with pytest.raises(TheoremError, match="fully qualified name"):
        backend.start(wrong)
    log["init_error"] = "Unexpected EOF"
    with pytest.raises(BackendNotAvailableError, match="lake build"):
        backend.start(_record_theorem())
    with pytest.raises(ValueError, match="dojo_theorem"):
        backend.start(Theorem("t", "Theorem t : True."))


def test_backend_gives_up_after_repeated_crashes(recorded: tuple[LeanDojoBackend, dict]) -> None:
    backend, log = recorded
    s0 = backend.start(_record_theorem())
    s1 = backend.run_tactic(s0, RECORDS[0]["traced_tactics"][0]["tactic"])
    lean_dojo = sys.modules["lean_dojo"]

    def always_crash(self: object, state: object, tactic: str) -> object:
        raise lean_dojo.DojoCrashError("Unexpected EOF")  # type: ignore[attr-defined]

    lean_dojo.Dojo.run_tac = always_crash  # type: ignore[attr-defined]
    with pytest.raises(ProverCrashedError):
        backend.run_tactic(s1, "simp")
    assert log["open"] <= 1


def test_verify_rejects_what_is_not_a_whole_proof(recorded: tuple[LeanDojoBackend, dict]) -> None:
    backend, log = recorded
    thm = _record_theorem()
    steps = [s["tactic"] for s in RECORDS[0]["traced_tactics"]]
    assert not backend.verify(thm, []).ok
    refused = backend.verify(thm, [steps[0], "sorry"])
    assert not refused.ok and "sorry" in refused.message
    partial = backend.verify(thm, steps[:1])
    assert not partial.ok and "incomplete" in partial.message
    extra = backend.verify(thm, [*steps, "simp"])
    assert not extra.ok and "no goals remain" in extra.message
    wrong = backend.verify(thm, ["simp_all"])
    assert not wrong.ok and "rejected" in wrong.message
    # the whole-file check (lean_dojo.check_proof) can still refuse the recorded steps
    sys.modules["lean_dojo"].check_proof = lambda thm, proof: False  # type: ignore[attr-defined]
    compiled = backend.verify(thm, steps)
    assert not compiled.ok and "check_proof" in compiled.message
    assert "by\n  " in compiled.script
    assert log["open"] == backend.open_dojos == 0  # every fresh Dojo was exited
    assert log["entered"] == log["exited"] > 0


# -- a real Lean ------------------------------------------------------------------------------

LEAN4_EXAMPLE = os.environ.get(
    "PROVER_GYM_LEANDOJO_EXAMPLE_URL", "https://github.com/yangky11/lean4-example"
)
LEAN4_EXAMPLE_COMMIT = os.environ.get(
    "PROVER_GYM_LEANDOJO_EXAMPLE_COMMIT", "04e29174a45eefaccb49b835a372aa762321194e"
)


@pytest.mark.lean
@pytest.mark.skipif(
    shutil.which("lake") is None, reason="needs a Lean 4 toolchain: `lake` is not on PATH"
)
@pytest.mark.skipif(
    importlib.util.find_spec("lean_dojo") is None,
    reason=f"needs LeanDojo: {INSTALL_HINT} (and network access to GitHub to trace the repo)",
)
def test_real_leandojo_example() -> None:
    """LeanDojo's own example (its getting-started guide): trace, prove, verify, refuse."""
    thm = dojo_theorem(LEAN4_EXAMPLE, LEAN4_EXAMPLE_COMMIT, "Lean4Example.lean", "hello_world")
    with LeanDojoBackend(timeout=60.0, trust_unchecked_axioms=True) as backend:
        s0 = backend.start(thm)
        assert isinstance(s0, ProofState) and s0.num_goals == 1 and "⊢" in s0.goals
        wrong = backend.run_tactic(s0, "exact rfl")
        assert isinstance(wrong, TacticError) and not wrong.rejected_by_guard
        cheat = backend.run_tactic(s0, "sorry")
        assert isinstance(cheat, TacticError) and cheat.rejected_by_guard
        done = backend.run_tactic(s0, "rw [add_assoc, add_comm b, ←add_assoc]")
        assert isinstance(done, ProofFinished)
        verdict = backend.verify(thm, done.proof)
        assert verdict.ok, verdict.message
        assert verdict.message == AXIOMS_NOT_CHECKED and verdict.axioms == ()
        assert not backend.verify(thm, ["rw [add_assoc]"]).ok
    assert backend.open_dojos == 0
