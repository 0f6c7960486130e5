"""The hostile-action batteries: an RL agent is an adversary of its reward.

Every escape known for each prover is a line of data, with the verdict it must get:

* ``tests/data/hostile_coq.jsonl``, on the real Coq env;
* ``tests/data/hostile_lean.jsonl``, on the Lean guard, and where real REPL transcripts recorded
  Lean's answer, on the Lean REPL backend driven by their replay.

One JSON object per line. Fields of both batteries:

* ``action`` (str) and ``repeat`` (int, default 1): the action sent is ``action * repeat``;
* ``expect``: the verdict (below);
* ``category``: which kind of escape it tries (``admit``, ``axiom``, ``option``...);
* ``note`` (optional): why the case is there.

Coq verdicts (the step never earns reward, returns within the time limit, and the env stays
usable):

* ``rejected``: the guard refuses it before Coq sees it; the state is unchanged;
* ``error``: Coq refuses it (a plain tactic error); the state is unchanged;
* ``timeout``: the time limit interrupts it; the state is unchanged;
* ``no_reward``: the action closes every goal, but ``verify`` refuses the proof (``verdict``:
  a piece of its message), so the episode ends without reward;
* ``any``: the action may change the state, but never earns reward.

A Coq case runs on ``Theorem lin`` (tests/conftest.py) after ``intros x y h1 h2.``, unless it
names its own ``statement``, with an optional ``header`` (Coq source loaded before it) and
``setup`` (tactics run first, default none): those run on a backend without prelude (a process
starts in 0.1 s instead of 1 s), so their header loads what they need.

Lean verdicts: ``rejected`` (the guard refuses it) or ``accepted`` (the guard lets it through:
Lean itself must refuse it, or it is harmless). ``native: true`` marks what the guard accepts
under ``allow_native_decide=True``. ``replay`` (optional) runs the case on the REPL backend over
the replay of real transcripts: ``{"theorem": STATEMENT, "chain": [tactics leading to the
state], "siblings": [tactics run from that state first, as the transcript did]}``;
``unguarded`` then says what the backend answers when the guard is switched off (``"error"``:
a tactic error, never a finished proof).

Profiles (tests/conftest.py): ``ci`` runs every case once, with a cheap usability check after
each (a full proof after the time limits and state-changing cases), and passes the scripts of
the guard-refused cases to ``verify``; ``pytest --long`` (nightly) also finishes the proof
after every case and passes every case's script to ``verify``.

The resource limits of the prover processes (``max_memory_mb``, ``max_cpu_seconds``) are tested
at the end: a memory hog fails cleanly, a spinning prover is killed, the env carries on.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FUZZ, LINEAR, coqidetop_pids
from lean_support import needs_transcripts, replay_command

import prover_env.coq.backend as coq_backend
import prover_env.lean.backend as lean_backend
from prover_env import CoqBackend, ProofFinished, ProverEnv, TacticError, Theorem
from prover_env._process import PipeProcess, ResourceLimits, spawn_limits
from prover_env.coq.idetop import CoqIdeTop
from prover_env.coq.sentences import GuardError, check_tactic
from prover_env.lean.backend import LeanReplBackend
from prover_env.lean.guard import LeanGuardError, check_lean_tactic

DATA = Path(__file__).parent / "data"
TIMEOUT = 2.0
SLACK = 5.0  # seconds a step may take past its time limit (interrupt, restart, a loaded machine)
SETUP = "intros x y h1 h2."
COQ_VERDICTS = {"rejected", "error", "timeout", "no_reward", "any"}
LEAN_VERDICTS = {"rejected", "accepted"}


def load_battery(name: str) -> list[dict[str, Any]]:
    """The cases of ``tests/data/NAME``; a malformed line fails with its line number."""
    cases = []
    for number, line in enumerate((DATA / name).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{name}:{number}: not JSON ({e})") from e
        case["line"] = number
        cases.append(case)
    return cases


COQ = load_battery("hostile_coq.jsonl")
LEAN = load_battery("hostile_lean.jsonl")


def action(case: dict[str, Any]) -> str:
    """The text a case sends."""
    return case["action"] * case.get("repeat", 1)


def case_id(case: dict[str, Any]) -> str:
    return f"{case['line']}-{case.get('category', '')}-{action(case)[:30]!r}"


# -- the batteries themselves -------------------------------------------------------------------


def test_batteries_are_well_formed_and_cover_every_known_escape() -> None:
    for cases, verdicts in ((COQ, COQ_VERDICTS), (LEAN, LEAN_VERDICTS)):
        for case in cases:
            assert isinstance(case.get("action"), str), case
            assert case.get("expect") in verdicts, case
            assert isinstance(case.get("category"), str), case
    keys = [(action(c), c.get("header"), c.get("statement")) for c in COQ]
    assert len(keys) == len(set(keys)), "duplicate Coq cases"
    assert len({action(c) for c in LEAN}) == len(LEAN), "duplicate Lean cases"
    coq = Counter(c["category"] for c in COQ)
    for category in (
        "admit", "no_check", "end_proof", "axiom", "redefinition", "opacity", "option",
        "attribute", "control", "load", "smuggle", "syntax", "unicode", "huge", "resource",
        "false_proof", "fixpoint", "header",
    ):  # fmt: skip
        assert coq[category] >= 2, f"Coq battery: too few {category!r} cases"
    assert len(COQ) >= 200 and Counter(c["expect"] for c in COQ)["no_reward"] >= 10
    lean = Counter(c["category"] for c in LEAN)
    for category in (
        "sorry", "native", "option", "exit", "axiom", "declaration", "unsafe", "metaprogram",
        "redefinition", "attribute", "compiler_axiom", "smuggle", "unicode", "benign",
    ):  # fmt: skip
        assert lean[category] >= 2, f"Lean battery: too few {category!r} cases"
    assert len(LEAN) >= 100 and sum("replay" in c for c in LEAN) >= 4


@pytest.mark.parametrize("case", COQ, ids=case_id)
def test_coq_guard_verdict(case: dict[str, Any]) -> None:
    """``rejected`` cases are refused by the guard alone; every other case reaches Coq (so that
    it tests Coq, and the guard does not refuse legitimate-looking text)."""
    text = action(case)
    if case["expect"] == "rejected":
        with pytest.raises(GuardError):
            check_tactic(text, max_chars=4096)
    else:
        sentences = check_tactic(text, max_chars=4096)
        # What is sent is stable: verify re-splits the recorded proof the same way.
        assert check_tactic("\n".join(sentences), max_chars=1 << 24) == sentences


# -- Coq: the real env ------------------------------------------------------------------------


def coq_theorem(case: dict[str, Any]) -> Theorem:
    """The theorem a case runs on (named after its line: env names must be unique)."""
    if "statement" not in case:
        return LINEAR
    return Theorem(f"line{case['line']}", case["statement"], header=case.get("header", ""))


def coq_setup(case: dict[str, Any]) -> list[str]:
    return case.get("setup", [] if "statement" in case else [SETUP])


OWN = [c for c in COQ if "statement" in c]
LIGHT = {"prelude": "", "max_processes": 2, "verify_timeout": 30.0}  # for cases with a statement


@pytest.fixture(scope="module")
def coq_envs() -> Iterator[tuple[ProverEnv, ProverEnv]]:
    """The env of the cases on ``lin``, and the one (without prelude) of the other cases."""
    main = ProverEnv(
        [LINEAR],
        tactic_timeout=TIMEOUT,
        max_steps=10_000,
        backend_kwargs={"verify_timeout": 30.0},
    )
    own = ProverEnv(
        [coq_theorem(c) for c in OWN],
        tactic_timeout=TIMEOUT,
        max_steps=10_000,
        backend_kwargs=LIGHT,
    )
    yield main, own
    main.close()
    own.close()


def finish_lin(env: ProverEnv) -> None:
    """Prove ``lin`` from where the env stands: the env must still earn its reward."""
    info: dict[str, Any] = {}
    for finish in ("lra.", "}", "lra.", "}"):
        _, reward, terminated, _, info = env.step(finish)
        if terminated:
            assert reward == 1.0 and info["verdict"]["ok"], info
            return
    raise AssertionError(f"the proof could not be finished after the case: {info}")


@pytest.mark.parametrize("case", COQ, ids=case_id)
def test_coq_hostile_action(coq_envs: tuple[ProverEnv, ProverEnv], case: dict[str, Any]) -> None:
    theorem = coq_theorem(case)
    coq_env = coq_envs[theorem is not LINEAR]
    # Time limits are what a "timeout" case tests: a shorter one keeps the battery quick.
    coq_env.tactic_timeout = TIMEOUT / 2 if case["expect"] == "timeout" else TIMEOUT
    obs, info = coq_env.reset(options={"theorem": theorem.name})
    for tactic in coq_setup(case):
        obs, _, _, _, info = coq_env.step(tactic)
        assert info["error"] is None, info
    state_id = info["state_id"]
    started = time.monotonic()
    obs2, reward, terminated, _, info = coq_env.step(action(case))
    elapsed = time.monotonic() - started
    assert reward <= 0.0, f"a hostile action earned reward: {info}"
    assert not info.get("verdict", {}).get("ok"), f"a hostile action was accepted: {info}"
    assert elapsed < TIMEOUT + SLACK + (30.0 if terminated else 0.0), elapsed
    expect = case["expect"]
    if expect == "no_reward":
        assert terminated and "verdict" in info, f"the goals did not close: {info}"
        assert case["verdict"] in info["verdict"]["message"], info["verdict"]
        return
    assert not terminated, info
    if expect == "rejected":
        assert info["rejected_by_guard"] and info["error"], info
    elif expect == "timeout":
        assert info["timeout"], info
    elif expect == "error":
        assert info["error"] and not info["rejected_by_guard"] and not info["timeout"], info
    if expect != "any":
        assert info["state_id"] == state_id and obs2 == obs, "the state changed"
    if theorem is not LINEAR:
        return
    # The env is still usable: a step runs (cheap), or in the long profile the proof finishes
    # and earns its reward (also after a time limit, and from the kept state before an "any").
    coq_env.tactic_timeout = TIMEOUT
    if FUZZ.long or expect in ("timeout", "any"):
        if info["state_id"] != state_id:
            assert coq_env.undo() == obs
        finish_lin(coq_env)
    else:
        _, _, _, _, info = coq_env.step("idtac.")
        assert info["error"] is None, info


def test_coq_env_usable_and_no_leak_after_battery(
    coq_envs: tuple[ProverEnv, ProverEnv],
) -> None:
    main, own = coq_envs
    main.reset(options={"theorem": LINEAR.name})
    main.step(SETUP)
    finish_lin(main)
    assert len(coqidetop_pids()) <= 1 + LIGHT["max_processes"]
    main.close()
    own.close()
    assert coqidetop_pids() == []


def test_verify_refuses_every_coq_case() -> None:
    """``verify`` is the reward gate: no case's script passes it, whatever ``run_tactic`` did.
    (Guard-refused cases in every profile; the ones Coq must run only in the long one.)"""
    main = CoqBackend(timeout=TIMEOUT, verify_timeout=TIMEOUT + 3.0)
    own = CoqBackend(**{**LIGHT, "verify_timeout": TIMEOUT + 3.0})
    with main, own:
        for case in COQ:
            if case["expect"] != "rejected" and not FUZZ.long:
                continue
            theorem = coq_theorem(case)
            coq = own if theorem is not LINEAR else main
            verdict = coq.verify(theorem, [*coq_setup(case), action(case)])
            assert not verdict.ok, (case, verdict)
            if case["expect"] == "rejected" and action(case).strip() and len(action(case)) <= 4096:
                # (blank actions add nothing to the script; longer ones are refused by the
                # env's length limit, which verify has not: Coq refuses those scripts itself)
                assert verdict.message.startswith("not a tactic script"), (case, verdict)
            if case["expect"] == "no_reward":
                assert case["verdict"] in verdict.message, (case, verdict)


# -- Lean: the guard, and the REPL backend on real transcripts ---------------------------------


@pytest.mark.parametrize("case", LEAN, ids=case_id)
def test_lean_guard_verdict(case: dict[str, Any]) -> None:
    text = action(case)
    if case["expect"] == "rejected":
        with pytest.raises(LeanGuardError):
            check_lean_tactic(text)
    else:
        assert check_lean_tactic(text) == check_lean_tactic(text, allow_native_decide=True)
    if case.get("native"):
        assert case["expect"] == "rejected", case
        check_lean_tactic(text, allow_native_decide=True)  # allowed when asked for


def lean_backend_on_replay(timeout: float = 20.0) -> LeanReplBackend:
    return LeanReplBackend(command=tuple(replay_command()), timeout=timeout, project=".")


REPLAYED = [c for c in LEAN if "replay" in c]


def run_replayed(lean: LeanReplBackend, case: dict[str, Any]) -> Any:
    """Run a case's recorded path, then its action, on the replay backend."""
    spec = case["replay"]
    name = spec["theorem"].split()[1]
    state: Any = lean.start(Theorem(name, spec["theorem"], language="lean4"))
    for tactic in spec.get("chain", []):
        state = lean.run_tactic(state, tactic)
        assert not isinstance(state, TacticError), state
    for tactic in spec.get("siblings", []):
        assert not isinstance(lean.run_tactic(state, tactic), TacticError)
    return lean.run_tactic(state, action(case))


@needs_transcripts
@pytest.mark.parametrize("case", REPLAYED, ids=case_id)
def test_lean_backend_on_replayed_transcripts(
    case: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with lean_backend_on_replay() as lean:
        result = run_replayed(lean, case)
        assert isinstance(result, TacticError), result
        assert result.rejected_by_guard == (case["expect"] == "rejected"), result
        assert lean.restarts == 0, "the replay met a request no real Lean answered"
    if "unguarded" in case:
        # Defence in depth: with the guard switched off, real Lean's answer (a sorry, an error)
        # still never becomes a finished proof.
        unguarded = lambda state, tactic, **_: tactic.strip("\n")  # noqa: E731
        monkeypatch.setattr(lean_backend, "guard_action", unguarded)
        with lean_backend_on_replay() as lean:
            result = run_replayed(lean, case)
            assert isinstance(result, TacticError) and not isinstance(result, ProofFinished)
            assert lean.restarts == 0, "the replay met a request no real Lean answered"


@needs_transcripts
def test_lean_env_battery_no_reward_env_usable_no_leak() -> None:
    """Every Lean case through ProverEnv on the replay: refused or failed, never rewarded, the
    state unchanged, the step bounded; afterwards a recorded proof still runs to its end."""
    statement = "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r"
    theorem = Theorem("complex_and", statement, language="lean4")
    backend = lean_backend_on_replay(timeout=TIMEOUT)
    env = ProverEnv([theorem], backend=backend, max_steps=10_000)
    try:
        obs, info = env.reset()
        for case in LEAN:
            started = time.monotonic()
            obs2, reward, terminated, _, info2 = env.step(action(case))
            assert time.monotonic() - started < TIMEOUT + SLACK
            assert reward <= 0.0 and not terminated, (case, info2)
            assert info2["error"] and obs2 == obs and info2["state_id"] == info["state_id"]
            assert info2["rejected_by_guard"] == (case["expect"] == "rejected"), (case, info2)
        for tactic in ("apply And.intro", "exact h1.left", "apply h2", "exact h1.right"):
            _, reward, terminated, _, info = env.step(tactic)
            assert info["error"] is None, info
        assert terminated and reward == 0.0  # the replay cannot answer verify: no reward
        pids = backend.pids()
    finally:
        env.close()
        backend.close()
    assert backend.pids() == []
    assert_gone(pids)


def assert_gone(pids: list[int]) -> None:
    """None of ``pids`` is still running (gone, or a zombie about to be reaped)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            alive.append(pid)
    assert not alive, f"prover processes outlived close(): {alive}"


# -- resource limits of the prover processes -------------------------------------------------

BARE = Theorem("add0", "Theorem add0 : forall n : nat, n + 0 = n.")
BARE_PROOF = ["intros n.", "symmetry. apply plus_n_O."]


def limits_of(pid: int) -> dict[str, tuple[str, str]]:
    """``/proc/PID/limits``: name -> (soft, hard)."""
    out = {}
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]:
        parts = line[26:].split()
        out[line[:26].strip()] = (parts[0], parts[1])
    return out


def test_resource_limits_are_validated_with_a_clear_error() -> None:
    for bad in ({"max_memory_mb": 0}, {"max_memory_mb": 1.5}, {"max_memory_mb": True}):
        with pytest.raises(ValueError, match="max_memory_mb"):
            CoqBackend(**bad)
    for bad in ({"max_cpu_seconds": -1}, {"max_cpu_seconds": float("inf")}):
        with pytest.raises(ValueError, match="max_cpu_seconds"):
            CoqBackend(**bad)
    with pytest.raises(ValueError, match="max_cpu_seconds"):
        LeanReplBackend(command=("true",), max_cpu_seconds=0)


def test_default_limits_reach_coqidetop() -> None:
    with CoqBackend(prelude="") as coq:
        assert (coq.config.max_memory_mb, coq.config.max_cpu_seconds) == (6144, 3600.0)
        coq.start(BARE)
        (pid,) = coq.pids()
        limits = limits_of(pid)
        assert limits["Max address space"] == (str(6144 * 2**20),) * 2
        assert limits["Max cpu time"] == ("3600", "3605")
        assert limits["Max core file size"] == ("0", "0")
    with CoqBackend(prelude="", max_memory_mb=None, max_cpu_seconds=None) as coq:
        coq.start(BARE)
        limits = limits_of(coq.pids()[0])
        assert limits["Max address space"][0] == limits["Max cpu time"][0] == "unlimited"


@needs_transcripts
def test_lean_limits_reach_the_repl_process() -> None:
    lean = LeanReplBackend(
        command=tuple(replay_command()), project=".", memory_limit_mb=4096, max_cpu_seconds=50
    )
    with lean:
        lean.start(Theorem("f", "def f : Nat", language="lean4"))
        limits = limits_of(lean.pids()[0])
        assert limits["Max address space"] == (str(4096 * 2**20),) * 2
        assert limits["Max cpu time"] == ("50", "55")


def test_memory_limit_fails_a_memory_hungry_tactic_cleanly() -> None:
    # 2^26 in unary takes a gigabyte (and ~20 s here without a limit); coqidetop without a
    # prelude maps ~0.5 GiB, so under 1 GiB the allocation fails at once.
    env = ProverEnv(
        [BARE], tactic_timeout=15.0, backend_kwargs={"prelude": "", "max_memory_mb": 1024}
    )
    try:
        obs, info = env.reset()
        started = time.monotonic()
        hog = "let b := eval vm_compute in (Nat.eqb (Nat.pow 2 26) 0) in idtac b."
        obs2, reward, terminated, _, info2 = env.step(hog)
        assert time.monotonic() - started < 10.0, "the memory limit did not stop the tactic"
        assert reward == 0.0 and not terminated and obs2 == obs
        assert "Out of memory" in info2["error"] or "max_memory_mb" in info2["error"], info2
        assert not info2["timeout"], info2
        for tactic in BARE_PROOF:  # usable afterwards (restarted if the process died)
            _, reward, terminated, _, info = env.step(tactic)
        assert terminated and reward == 1.0, info
        pids = env.backend.pids()  # type: ignore[attr-defined]
    finally:
        env.close()
    assert_gone(pids)


def test_cpu_limit_kills_a_spinning_prover_and_the_env_restarts() -> None:
    env = ProverEnv(
        [BARE], tactic_timeout=30.0, backend_kwargs={"prelude": "", "max_cpu_seconds": 2}
    )
    try:
        obs, _ = env.reset()
        (pid,) = env.backend.pids()  # type: ignore[attr-defined]
        started = time.monotonic()
        obs2, reward, terminated, _, info = env.step("do 1000000000 idtac.")
        assert time.monotonic() - started < 20.0, "the CPU limit did not stop the tactic"
        assert reward == 0.0 and not terminated and obs2 == obs
        assert "restarted" in info["error"] and "CPU-time limit of 2 s" in info["error"], info
        for tactic in BARE_PROOF:  # a fresh process, with a fresh CPU budget
            _, reward, terminated, _, info = env.step(tactic)
        assert terminated and reward == 1.0, info
        pids = env.backend.pids()  # type: ignore[attr-defined]
        assert pids and pids != [pid]
    finally:
        env.close()
    assert_gone([pid, *pids])


def test_a_process_near_its_cpu_limit_is_recycled_between_episodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(coq_backend, "_RSS_EVERY", 1)  # look at every episode
    with CoqBackend(prelude="", max_cpu_seconds=100) as coq:
        coq.start(BARE)
        (pid,) = coq.pids()
        coq.start(BARE)
        assert coq.stats.recycles == 0 and coq.pids() == [pid]  # 0.1 s of CPU: kept
        monkeypatch.setattr(CoqIdeTop, "cpu_seconds", lambda self: 95.0)
        state = coq.start(BARE)  # past 90% of the limit: replaced before the kernel kills it
        assert coq.stats.recycles == 1 and coq.pids() != [pid]
        assert coq.stats.restarts_after_failure == 0
        assert state.num_goals == 1


def test_pipe_process_limit_note_names_the_limit() -> None:
    class Spinner(PipeProcess):
        label = "spinner"

        def __init__(self, code: str, limits: ResourceLimits) -> None:
            self._spawn([sys.executable, "-c", code], limits=limits)

    spin = Spinner("while True: pass", ResourceLimits(cpu_seconds=1))
    try:
        spin._proc.wait(timeout=30)
        assert spin._proc.returncode == -signal.SIGXCPU
        assert "CPU-time limit of 1 s (max_cpu_seconds)" in spin.stderr_tail()
    finally:
        spin.close()
    hog = Spinner("x = bytearray(2**31)", ResourceLimits(memory_mb=300))
    try:
        assert hog._proc.wait(timeout=30) != 0  # MemoryError: the allocation failed
        assert "MemoryError" in hog.stderr_tail()
        assert "address-space limit of 300 MiB (max_memory_mb)" in hog.stderr_tail()
    finally:
        hog.close()
    with spawn_limits(ResourceLimits(memory_mb=500)):
        inherited = Spinner("pass", None)  # type: ignore[arg-type]
    try:
        assert inherited.limits == ResourceLimits(memory_mb=500)
    finally:
        inherited.close()
    killed = Spinner("import time; time.sleep(60)", ResourceLimits(memory_mb=500))
    killed.kill()  # a death this wrapper caused is no limit's doing
    assert killed.limit_note() == ""
    killed.close()
