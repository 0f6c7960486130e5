"""Fault injection: long runs lose nothing.

* a prover process killed with SIGKILL between steps, during a long tactic, or during every
  verification: the env reports or recovers, never grants a reward falsely, stays usable, and
  leaks no process (nor zombie);
* Ray workers killed during ``synth``: every theorem traced once, no duplicated line;
* ``prover-gym synth`` killed with SIGKILL, then rerun: every theorem exactly once, steps only of
  recorded theorems;
* a full disk while writing results (simulated ENOSPC at the system-call level, and a real
  full tmpfs where mounting is allowed): the run stops with a clear error, no torn line is left,
  and after freeing space the rerun completes with every earlier result intact.

(A worker killed during ``eval``, and ``sft``/``train`` killed then resumed, are tested in
test_eval_ray.py, test_sft.py and test_rl.py.)
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import LINEAR, coqidetop_pids
from lean_support import needs_transcripts, replay_command

from prover_env import CoqBackend, ProverEnv, Theorem
from prover_env.cli import main
from prover_env.coq.idetop import CoqIdeTop
from prover_env.error import ResultsWriteError
from training.dataset import THEOREMS, append_jsonl, write_jsonl

REPO = Path(__file__).resolve().parents[1]
SYNTH = [sys.executable, "-m", "prover_env.cli", "synth"]


# -- helpers --------------------------------------------------------------------------------


def zombie_children() -> list[int]:
    """Children of this process that died and were never reaped."""
    return [
        p.pid
        for p in psutil.Process().children(recursive=True)
        if p.status() == psutil.STATUS_ZOMBIE
    ]


def orphan_coqidetops() -> list[int]:
    """Live ``coqidetop`` processes adopted by init (whose parent died without killing them)."""
    out = []
    for p in psutil.process_iter(["name"]):
        try:
            if (
                "coqidetop" in (p.info["name"] or "")
                and p.ppid() == 1
                and p.status() != psutil.STATUS_ZOMBIE
            ):
                out.append(p.pid)
        except psutil.NoSuchProcess:
            continue
    return out


def kill_all(pids: list[int]) -> None:
    """SIGKILL ``pids`` and wait until they have exited (a zombie or gone)."""
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    for pid in pids:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.005)


class DiskFull:
    """Makes the kernel refuse writes to files named ``name`` as a full disk does.

    Wraps ``os.write`` / ``os.fsync`` for the file descriptors open on ``name`` only (every
    other write, e.g. to the provers' pipes, goes through). With ``on="write"`` the first
    ``after`` writes succeed, the next one is cut short (half the bytes reach the file, as when
    the disk fills mid-line), and every later one fails with ENOSPC; with ``on="fsync"`` the
    data reaches the page cache but the ``after``-th and later fsyncs fail (delayed ENOSPC).
    :meth:`free` lifts the fault (space was freed).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, after: int, on: str) -> None:
        self.name, self.after, self.on = name, after, on
        self.calls = 0
        self.failed = 0
        self.full = True
        self._write, self._fsync = os.write, os.fsync
        monkeypatch.setattr(os, "write", self.write)
        monkeypatch.setattr(os, "fsync", self.fsync)

    def _ours(self, fd: int) -> bool:
        try:
            return self.full and os.path.basename(os.readlink(f"/proc/self/fd/{fd}")) == self.name
        except OSError:
            return False

    def write(self, fd: int, data: Any) -> int:
        if self.on == "write" and self._ours(fd):
            self.calls += 1
            if self.calls == self.after + 1 and len(data) > 1:
                self.failed += 1
                return self._write(fd, bytes(data[: len(data) // 2]))  # a short write
            if self.calls > self.after:
                self.failed += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._write(fd, data)

    def fsync(self, fd: int) -> None:
        if self.on == "fsync" and self._ours(fd):
            self.calls += 1
            if self.calls > self.after:
                self.failed += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._fsync(fd)

    def free(self) -> None:
        self.full = False


def assert_whole_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of ``path`` is a whole JSON record and the file ends with a newline."""
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), f"{path} ends with a torn line: {data[-80:]!r}"
    return [json.loads(line) for line in data.decode().splitlines()]


# -- (a) the prover killed mid-episode ------------------------------------------------------


@pytest.fixture
def lin_env() -> Iterator[ProverEnv]:
    """An env on ``LINEAR``; after the test, closing it must leave no prover and no zombie."""
    before = set(coqidetop_pids())
    env = ProverEnv([LINEAR], tactic_timeout=20.0)
    yield env
    env.close()
    assert set(coqidetop_pids()) - before == set()
    assert not zombie_children()


def _pids(env: ProverEnv) -> list[int]:
    backend = env.backend
    assert isinstance(backend, CoqBackend)
    return backend.pids()


def test_prover_killed_between_steps_recovers_without_false_reward(lin_env: ProverEnv) -> None:
    env = lin_env
    obs0, _ = env.reset()
    kill_all(_pids(env))
    obs, reward, terminated, _, info = env.step("intros x y h1 h2.")  # restart + replay
    assert info["error"] is None and reward == 0.0 and not terminated and "h1 :" in obs
    kill_all(_pids(env))
    obs2, reward, terminated, _, info = env.step("lia.")  # wrong over R: still an error
    assert info["error"] and reward == 0.0 and not terminated and obs2 == obs
    kill_all(_pids(env))
    _, reward, terminated, _, info = env.step("lra.")
    assert terminated and reward == 1.0 and info["verdict"]["ok"], info
    backend = env.backend
    assert isinstance(backend, CoqBackend) and backend.stats.restarts_after_failure == 3
    kill_all(_pids(env))  # between episodes
    assert env.reset()[0] == obs0
    assert len(_pids(env)) == 1 and not zombie_children()
    assert not orphan_coqidetops()


def test_prover_killed_right_before_a_step_never_rewards_falsely(lin_env: ProverEnv) -> None:
    """Killed just before a step, its death may not be visible yet (the kernel is still freeing
    its memory): the step then fails with a clear error and the state unchanged, and a retry
    works. Either way no step is rewarded without a verified proof."""
    env = lin_env
    env.reset()
    obs, *_ = env.step("intros x y h1 h2.")
    for _ in range(3):
        for pid in _pids(env):
            os.kill(pid, signal.SIGKILL)  # no waiting
        obs2, reward, terminated, _, info = env.step("lia.")  # wrong over R
        assert info["error"] and reward == 0.0 and not terminated and obs2 == obs
    for pid in _pids(env):
        os.kill(pid, signal.SIGKILL)
    _, reward, terminated, _, info = env.step("lra.")
    if info["error"] is not None:
        assert "died or hung" in info["error"] and "restarted" in info["error"], info
        assert reward == 0.0 and not terminated
        _, reward, terminated, _, info = env.step("lra.")
    assert terminated and reward == 1.0 and info["verdict"]["ok"]
    assert len(_pids(env)) == 1 and not zombie_children()


def test_prover_killed_during_a_long_tactic_is_an_error_and_the_episode_goes_on(
    lin_env: ProverEnv,
) -> None:
    env = lin_env
    env.reset()
    obs, *_, info = env.step("intros x y h1 h2.")
    (pid,) = _pids(env)
    killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
    killer.start()
    started = time.monotonic()
    obs2, reward, terminated, truncated, info2 = env.step("repeat (assert True by trivial).")
    killer.join()
    assert time.monotonic() - started < 10.0  # noticed at once, not at the 20 s time limit
    assert "died or hung" in info2["error"] and "restarted" in info2["error"], info2
    assert reward == 0.0 and not terminated and not truncated
    assert obs2 == obs and info2["state_id"] == info["state_id"]  # the state is unchanged
    assert pid not in _pids(env) and not zombie_children()
    _, reward, terminated, _, info3 = env.step("lra.")  # the same episode finishes
    assert terminated and reward == 1.0 and info3["verdict"]["ok"]


def test_prover_killed_during_every_verification_grants_no_reward(
    lin_env: ProverEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = lin_env
    query = CoqIdeTop.query

    def dying_query(self: CoqIdeTop, *args: Any, **kwargs: Any) -> Any:
        os.kill(self.pid, signal.SIGKILL)  # Print Assumptions never answers
        return query(self, *args, **kwargs)

    env.reset()
    env.step("intros x y h1 h2.")
    monkeypatch.setattr(CoqIdeTop, "query", dying_query)
    _, reward, terminated, _, info = env.step("lra.")
    assert terminated and reward == 0.0, info  # a proof that could not be checked earns nothing
    assert not info["verdict"]["ok"] and "failed while checking" in info["verdict"]["message"]
    monkeypatch.setattr(CoqIdeTop, "query", query)
    env.reset()  # the env is usable: the next episode is checked and rewarded
    env.step("intros x y h1 h2.")
    _, reward, terminated, _, info = env.step("lra.")
    assert terminated and reward == 1.0 and info["verdict"]["ok"]
    assert len(_pids(env)) == 1 and not zombie_children()


@needs_transcripts
def test_lean_repl_killed_during_a_tactic_is_an_error_and_the_episode_goes_on(
    tmp_path: Path,
) -> None:
    """The replay REPL hangs on the first tactic (once) and is killed -9 while it hangs."""
    from prover_env.lean.backend import LeanReplBackend

    theorem = Theorem(
        "complex_and",
        "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r",
        language="lean4",
    )
    command = replay_command("--hang-after", "1", "--fault-once", str(tmp_path / "fault"))
    backend = LeanReplBackend(command=tuple(command), timeout=20.0, project=".")
    env = ProverEnv([theorem], backend=backend)
    try:
        obs, info = env.reset()
        (pid,) = backend.pids()
        killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
        killer.start()
        started = time.monotonic()
        obs2, reward, terminated, _, info2 = env.step("apply And.intro")
        killer.join()
        assert time.monotonic() - started < 10.0
        assert "restarted" in info2["error"] and reward == 0.0 and not terminated, info2
        assert obs2 == obs and info2["state_id"] == info["state_id"]
        for tactic in ["apply And.intro", "exact h1.left", "apply h2", "exact h1.right"]:
            _, reward, terminated, _, info3 = env.step(tactic)
            assert info3["error"] is None, info3
        # the replay cannot check proofs: finishing earns nothing rather than a false reward
        assert terminated and reward == 0.0 and not info3["verdict"]["ok"]
        assert pid not in backend.pids() and len(backend.pids()) <= 1
    finally:
        env.close()
        backend.close()
    assert not backend.pids() and not zombie_children()


# -- (b) Ray workers killed during synth ----------------------------------------------------


def _check_dataset(out: Path, names: list[str]) -> None:
    """Every theorem exactly once; steps only of recorded theorems, each theorem's steps one
    contiguous block that replays its proof (no duplicated or orphan step line)."""
    theorems = assert_whole_lines(out / THEOREMS)
    counts = Counter(t["name"] for t in theorems)
    assert sorted(counts) == sorted(names) and set(counts.values()) == {1}, counts.most_common(3)
    steps = assert_whole_lines(out / "steps.jsonl")
    by_name = {t["name"]: t for t in theorems}
    starts = [i for i, s in enumerate(steps) if i == 0 or s["theorem"] != steps[i - 1]["theorem"]]
    blocks = [steps[i]["theorem"] for i in starts]
    assert len(blocks) == len(set(blocks)), "a theorem's steps were written twice"
    assert set(blocks) <= {n for n, t in by_name.items() if t["proved"]}
    for name in blocks:
        tactics = [s["tactic"] for s in steps if s["theorem"] == name and s["kind"] == "step"]
        assert tactics == by_name[name]["proof"], name


def test_synth_on_ray_survives_killed_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ray")
    from eval.pool import ProverPool
    from training.build import SynthConfig, build_dataset
    from training.synth import generate

    pools: list[tuple[ProverPool, list[int]]] = []
    real_map = ProverPool.map

    def map_and_kill(
        self: ProverPool, theorems: Any, on_result: Any, *args: Any, **kw: Any
    ) -> None:
        killed: list[int] = []
        pools.append((self, killed))

        def keep(theorem: Any, record: Any) -> None:
            on_result(theorem, record)
            if not killed:  # after the first result: every worker dies at once
                killed.extend(self.worker_pids())
                kill_all(killed)

        real_map(self, theorems, keep, *args, **kw)

    monkeypatch.setattr(ProverPool, "map", map_and_kill)
    out = tmp_path / "ray"
    config = SynthConfig(out=str(out), n=12, seed=4, workers=2)
    manifest = build_dataset(config, progress=False)
    ((pool, killed),) = pools
    assert len(killed) == 2 and pool.replaced >= 2
    assert manifest["theorems"] == 12 and manifest["traced_this_run"] == 12
    _check_dataset(out, [t.name for t in generate(12, seed=4)])
    time.sleep(1)
    assert not orphan_coqidetops()  # the killed workers' provers died with them


# -- (c) prover-gym synth killed with SIGKILL, then rerun ------------------------------------


def test_synth_killed_with_sigkill_then_rerun_traces_every_theorem_once(tmp_path: Path) -> None:
    from training.synth import generate

    out = tmp_path / "ds"
    cmd = [*SYNTH, "--n", "14", "--seed", "6", "--workers", "1", "--out", str(out),
           "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out / THEOREMS).exists() or (out / THEOREMS).read_bytes().count(b"\n") < 4:
            assert proc.poll() is None, "synth ended before it could be killed"
            assert time.monotonic() < deadline, "no theorem was traced in 120 s"
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    time.sleep(0.5)
    assert not orphan_coqidetops()  # the prover died with its parent
    before = [json.loads(line) for line in (out / THEOREMS).read_text().splitlines()[:4]]
    assert len(before) == 4 and len(before) < 14
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    _check_dataset(out, [t.name for t in generate(14, seed=6)])
    after = assert_whole_lines(out / THEOREMS)
    assert after[:4] == before  # what was finished before the kill is kept as it was
    manifest = json.loads(rerun.stdout[rerun.stdout.index("{") :])
    assert manifest["theorems"] == 14 and manifest["traced_this_run"] <= 10


# -- (d) a full disk while writing results --------------------------------------------------


EVAL = ["eval", "--limit", "5", "--max-expansions", "2", "--report", "none"]


@pytest.mark.parametrize("on", ["write", "fsync"])
def test_full_disk_during_eval_stops_clearly_and_the_rerun_resumes(
    on: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "eval"
    disk = DiskFull(monkeypatch, "results.jsonl", after=2, on=on)
    assert main([*EVAL, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert disk.failed
    assert "could not write a result to" in err and str(out / "results.jsonl") in err
    assert "No space left on device" in err and "Free disk space" in err and "rerun" in err
    kept = assert_whole_lines(out / "results.jsonl")  # no torn line for a resume to misread
    assert len(kept) == 2, [r["theorem"] for r in kept]
    saved = (out / "results.jsonl").read_bytes()
    assert not (out / "summary.json").exists()
    disk.free()
    assert main([*EVAL, "--out", str(out)]) == 0
    records = assert_whole_lines(out / "results.jsonl")
    assert (out / "results.jsonl").read_bytes().startswith(saved)  # earlier results intact
    assert len(records) == 5 and len({r["theorem"] for r in records}) == 5
    assert json.loads((out / "summary.json").read_text())["theorems"] == 5
    assert not zombie_children()


@pytest.mark.parametrize("target", [THEOREMS, "steps.jsonl"])
def test_full_disk_during_synth_stops_clearly_and_the_rerun_resumes(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training.build import SynthConfig, build_dataset
    from training.synth import generate

    out = tmp_path / "ds"
    config = SynthConfig(out=str(out), n=6, seed=9, workers=1)
    disk = DiskFull(monkeypatch, target, after=3, on="write")
    with pytest.raises(ResultsWriteError, match="No space left") as caught:
        build_dataset(config, progress=False)
    assert caught.value.path == str(out / target) and caught.value.restored
    assert caught.value.errno == errno.ENOSPC and "rerun" in str(caught.value)
    kept = assert_whole_lines(out / THEOREMS)
    assert_whole_lines(out / "steps.jsonl")
    assert len(kept) == 3 if target == THEOREMS else len(kept) <= 3
    disk.free()
    manifest = build_dataset(config, progress=False)
    assert manifest["theorems"] == 6
    assert assert_whole_lines(out / THEOREMS)[: len(kept)] == kept
    _check_dataset(out, [t.name for t in generate(6, seed=9)])


def test_full_disk_while_rewriting_a_dataset_file_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / THEOREMS
    write_jsonl(path, [{"name": f"t{i}"} for i in range(3)])
    old = path.read_bytes()
    DiskFull(monkeypatch, THEOREMS + ".tmp", after=0, on="write")
    with pytest.raises(ResultsWriteError, match="could not write the dataset file"):
        write_jsonl(path, [{"name": f"t{i}", "pad": "x" * 100} for i in range(50)])
    assert path.read_bytes() == old and not (tmp_path / (THEOREMS + ".tmp")).exists()
    # a reading error is not reported as a write error
    monkeypatch.undo()

    def broken() -> Iterator[dict[str, Any]]:
        yield {"name": "a"}
        raise OSError(errno.EIO, "the source went away")

    with pytest.raises(OSError, match="source went away") as caught:
        write_jsonl(path, broken())
    assert not isinstance(caught.value, ResultsWriteError) and path.read_bytes() == old


def test_full_disk_on_a_real_small_file_system(tmp_path: Path) -> None:
    """A 64 KiB tmpfs filled up: the writers stop with no torn line, and continue after space
    is freed (skipped where mounting is not permitted)."""
    from eval.runner import _append

    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"cannot mount a tmpfs here: {e}")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        filler = disk / "filler"
        with filler.open("wb") as f:  # leave two pages free
            f.write(b"\0" * (64 - 8) * 1024)
        for name, write in (
            ("results.jsonl", lambda p, r: _append(p, r)),
            (THEOREMS, lambda p, r: append_jsonl(p, [r])),
        ):
            path = disk / name
            written = 0
            with pytest.raises(ResultsWriteError, match="No space left") as caught:
                for i in range(100):
                    write(path, {"theorem": f"t{i}", "pad": "x" * 900})
                    written += 1
            assert caught.value.restored and 0 < written < 100
            assert len(assert_whole_lines(path)) == written  # the refused line left no trace
            path.unlink()  # make room for the other writer
        path = disk / "results.jsonl"
        for i in range(5):
            _append(path, {"theorem": f"t{i}", "pad": "x" * 900})
        with pytest.raises(ResultsWriteError):
            for i in range(5, 100):
                _append(path, {"theorem": f"t{i}", "pad": "x" * 900})
        kept = assert_whole_lines(path)
        filler.unlink()  # free space, then carry on where it stopped
        for i in range(len(kept), 20):
            _append(path, {"theorem": f"t{i}", "pad": "x" * 900})
        records = assert_whole_lines(path)
        assert [r["theorem"] for r in records] == [f"t{i}" for i in range(20)]
        assert records[: len(kept)] == kept
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True, timeout=30)


def test_the_error_survives_pickling_and_is_an_os_error() -> None:
    import pickle

    error = ResultsWriteError.from_os_error(
        Path("/runs/x/results.jsonl"), "a result", OSError(errno.ENOSPC, "No space left on device")
    )
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, OSError) and again.errno == errno.ENOSPC
    assert str(again) == str(error) and again.filename == "/runs/x/results.jsonl"
