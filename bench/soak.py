"""Soak benchmark: many episodes per backend through ``ProverEnv``, with this process's and its
children's memory, the number of prover processes, zombies and open file descriptors sampled.
Long runs must not grow without bound, and nothing may be left behind.

Each episode is one of (drawn with a seeded RNG):

* ``prove``: a correct proof, step by step (Coq: rewarded only after the kernel check);
* ``fail``: a correct first step, then tactics the prover rejects until the episode is
  truncated (no reward);
* ``guard``: an action the guard refuses (``admit.``, ``sorry``...), then the proof;
* ``timeout``: a tactic that runs past a short time limit (Coq: interrupted; Lean: the REPL is
  killed and restarted), then the rest of the proof;
* ``crash``: the prover is killed with SIGKILL mid-episode, then the proof goes on (restart +
  replay).

Coq runs the real ``coqidetop`` on the built-in theorems. Lean runs ``LeanReplBackend`` on the
replay REPL (``prover_env/lean/replay.py``), which answers from real Lean REPL transcripts
(``../shared/fixtures/lean-repl`` or ``$PROVER_GYM_LEAN_TRANSCRIPTS``). A replay process serves
one recorded session, so every Lean episode starts with a restart, and finished proofs cannot be
kernel-checked there (no reward, by design): the Lean soak exercises the restart path on every
episode. The script is started directly (``python .../replay.py``), which is the same program
as ``python -m prover_env.lean.replay`` without importing the package (4x faster to start).

Every step's outcome is checked against what its episode kind must give (an error, a guard
rejection, a timeout, a reward only for a verified proof); a mismatch is counted as ``wrong``.

Sampled every ``--every`` episodes: resident memory (RSS) of this process and of its children,
live child processes, zombie children, this process's open file descriptors. Reported: the
memory slope (least squares, MiB per 1000 episodes, over the second half of the run to skip
warm-up), min/max process counts, zombies during the run and after ``close()``, fd growth.

Usage: python bench/soak.py [--episodes 1000] [--backend coq|lean|both] [--every 25]
                            [--seed 0] [--json soak.json] [--plot soak.png] [--max-slope MIB]
                            [--mix prove=0.45 fail=0.25 guard=0.12 timeout=0.1 crash=0.08]

Exit status 1 when a check fails: a wrong outcome, a zombie or a live prover after close, more
prover processes than the backend may keep, fd growth over 8, or (with --max-slope) a memory
slope over MIB per 1000 episodes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from prover_env import ProverEnv, Theorem
from prover_env.backend import Backend

REPO = Path(__file__).resolve().parents[1]
TRANSCRIPTS = Path(
    os.environ.get("PROVER_GYM_LEAN_TRANSCRIPTS", REPO.parent / "shared" / "fixtures" / "lean-repl")
)
MIX = {"prove": 0.45, "fail": 0.25, "guard": 0.12, "timeout": 0.1, "crash": 0.08}
MAX_FD_GROWTH = 8
KILL = "<SIGKILL the prover>"

# Expected outcome of one step: "ok" (the state moves on), "error" (rejected by the prover),
# "guard" (refused before reaching it), "timeout", "proved" (finished and verified: reward 1),
# "finished" (no goals left but not verifiable: no reward), "truncated" (rejected, and the last
# step of the episode).
Step = tuple[str, str]

COQ_PROOFS: dict[str, list[str]] = {
    "add_zero_r": ["intros n.", "lia."],
    "add_comm_nat": ["intros a b.", "lia."],
    "double_le": ["intros n.", "lia."],
    "z_square_nonneg": ["intros z.", "nia."],
    "r_linear_system": ["intros x y h1 h2.", "lra."],
    "r_square_nonneg": ["intros x.", "nra."],
    "r_amgm_two": ["intros a b.", "pose proof (Rle_0_sqr (a - b)) as h.", "unfold Rsqr in h.",
                   "lra."],
    "and_swap": ["intros P Q h.", "destruct h as [hp hq].", "split.", "exact hq.", "exact hp."],
}  # fmt: skip
COQ_WRONG = ("exact I.", "contradiction.", "discriminate.")
COQ_GUARDED = ("admit.", "Admitted.", "Abort.", "Axiom cheat : False.", "Qed.", "Set Printing All.")
COQ_SLOW = "repeat (assert True by trivial)."
COQ_MAX_STEPS = 4  # a failing episode: one good step, then rejected ones until truncated

LEAN_THEOREMS = {
    "complex_and": "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r",
    "ex": "example (p q : Prop) : p ∧ q → q ∧ p",
    "my_theorem": "theorem my_theorem (x : Nat) : x = x",
    "f": "def f : Nat",
}
LEAN_PROOFS: dict[str, list[str]] = {
    "complex_and": ["apply And.intro", "exact h1.left", "apply h2", "exact h1.right"],
    "ex": ["intro h", "have hp : p := h.left", "have hq : q := h.right", "apply And.intro",
           "exact hq", "exact hp"],
}  # fmt: skip
LEAN_WRONG = {"my_theorem": "exact my_fake_premise", "f": "exat 42"}  # recorded errors
LEAN_GUARDED = ("sorry", "admit", "native_decide", "exact sorryAx _", "#exit")


@dataclass
class Sample:
    """One look at the process tree."""

    episode: int
    seconds: float
    rss_self_mib: float
    rss_children_mib: float
    rss_total_mib: float
    children: int
    zombies: int
    fds: int


@dataclass
class Soak:
    """The run of one backend."""

    backend: str
    episodes: int = 0
    seconds: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)
    steps: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    after_close: dict[str, int] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    max_processes: int = 1


class Probe:
    """Samples this process and its children."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.started = time.perf_counter()

    def children(self) -> tuple[list[psutil.Process], int]:
        live, zombies = [], 0
        for child in self.me.children(recursive=True):
            try:
                if child.status() == psutil.STATUS_ZOMBIE:
                    zombies += 1
                else:
                    live.append(child)
            except psutil.NoSuchProcess:
                continue
        return live, zombies

    def sample(self, episode: int) -> Sample:
        live, zombies = self.children()
        rss_children = 0
        for child in live:
            try:
                rss_children += child.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        rss_self = self.me.memory_info().rss
        return Sample(
            episode,
            round(time.perf_counter() - self.started, 2),
            round(rss_self / 2**20, 2),
            round(rss_children / 2**20, 2),
            round((rss_self + rss_children) / 2**20, 2),
            len(live),
            zombies,
            self.me.num_fds(),
        )


def _kill_all(backend: Backend) -> None:
    """SIGKILL the backend's provers and wait until they are dead (between two steps: the
    next step must find them dead and restart them, not blame its tactic)."""
    for pid in backend.pids():  # type: ignore[attr-defined]
        os.kill(pid, signal.SIGKILL)
        wait_dead(pid)


def wait_dead(pid: int, timeout: float = 10.0) -> None:
    """Wait until ``pid`` has exited (a zombie or gone); freeing a big process takes a while."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.005)
    raise RuntimeError(f"process {pid} did not die within {timeout:g} s of SIGKILL")


def run_script(
    env: ProverEnv, theorem: str, script: Sequence[Step], slow_timeout: float
) -> list[str]:
    """Play one episode; returns what differed from the expected outcomes."""
    wrong: list[str] = []
    env.reset(options={"theorem": theorem})
    default_timeout = env.tactic_timeout
    for i, (action, expect) in enumerate(script):
        if action == KILL:
            _kill_all(env.backend)
            continue
        if expect == "timeout":
            env.tactic_timeout = slow_timeout
        try:
            _, reward, terminated, truncated, info = env.step(action)
        finally:
            env.tactic_timeout = default_timeout
        got = (
            "guard"
            if info["rejected_by_guard"]
            else "timeout"
            if info["timeout"]
            else "error"
            if info["error"]
            else "ok"
        )
        verified = bool(info.get("verdict", {}).get("ok"))
        if expect == "proved":
            good = terminated and verified and reward == 1.0
        elif expect == "finished":
            good = terminated and not verified and reward == 0.0 and got == "ok"
        elif expect == "truncated":
            good = truncated and got == "error" and reward == 0.0
        else:
            good = got == expect and reward == 0.0 and not terminated
        ends = expect in ("proved", "finished", "truncated")
        if not good or (terminated or truncated) != ends:
            wrong.append(
                f"{theorem} step {i} {action!r}: expected {expect}, got {got} reward={reward} "
                f"terminated={terminated} truncated={truncated} error={info['error']!r:.120}"
            )
            break
    return wrong


def coq_script(kind: str, name: str, rng: random.Random) -> list[Step]:
    proof = COQ_PROOFS[name]
    done = [(t, "ok") for t in proof[:-1]] + [(proof[-1], "proved")]
    if kind == "prove":
        return done
    if kind == "fail":
        wrong = [(rng.choice(COQ_WRONG), "error") for _ in range(COQ_MAX_STEPS - 2)]
        return [(proof[0], "ok"), *wrong, (rng.choice(COQ_WRONG), "truncated")]
    if kind == "guard":
        return [(rng.choice(COQ_GUARDED), "guard"), *done]
    if kind == "timeout":
        return [done[0], (COQ_SLOW, "timeout"), *done[1:]]
    return [done[0], (KILL, ""), *done[1:]]  # crash


def lean_script(kind: str, rng: random.Random) -> tuple[str, list[Step]]:
    if kind == "fail":
        name = rng.choice(sorted(LEAN_WRONG))
        return name, [(LEAN_WRONG[name], "error")]
    name = rng.choice(sorted(LEAN_PROOFS))
    proof = LEAN_PROOFS[name]
    done = [(t, "ok") for t in proof[:-1]] + [(proof[-1], "finished")]
    if kind == "prove":
        return name, done
    if kind == "guard":
        return name, [(rng.choice(LEAN_GUARDED), "guard"), done[0]]
    if kind == "timeout":
        return "complex_and", [("apply And.intro", "timeout")]
    return name, [done[0], (KILL, ""), *done[1:]]  # crash


def soak(
    name: str,
    episodes: int,
    every: int,
    seed: int,
    mix: dict[str, float],
    play: Callable[[str, random.Random], list[str]],
    close: Callable[[], None],
    stats: Callable[[], dict[str, Any]],
    max_processes: int,
    progress: bool,
) -> Soak:
    """Run ``episodes`` episodes of ``play(kind, rng)``, sampling every ``every``."""
    rng = random.Random(seed)
    kinds, weights = zip(*mix.items(), strict=True)
    result = Soak(name, max_processes=max_processes)
    probe = Probe()
    started = time.perf_counter()
    for episode in range(episodes):
        kind = rng.choices(kinds, weights)[0]
        result.kinds[kind] += 1
        problems = play(kind, rng)
        result.wrong.extend(f"episode {episode} ({kind}): {p}" for p in problems)
        if (episode + 1) % every == 0 or episode == 0 or episode + 1 == episodes:
            result.samples.append(probe.sample(episode + 1))
            if progress:
                s = result.samples[-1]
                print(
                    f"  {name} {episode + 1:5d}/{episodes}  {s.seconds:7.1f}s  "
                    f"RSS {s.rss_self_mib:.0f}+{s.rss_children_mib:.0f} MiB  "
                    f"procs {s.children}  zombies {s.zombies}  "
                    f"fds {s.fds}  wrong {len(result.wrong)}",
                    file=sys.stderr,
                    flush=True,
                )
    result.episodes = episodes
    result.seconds = round(time.perf_counter() - started, 1)
    result.stats = stats()
    close()
    live, zombies = probe.children()
    result.after_close = {"children": len(live), "zombies": zombies}
    return result


def soak_coq(episodes: int, every: int, seed: int, mix: dict[str, float], progress: bool) -> Soak:
    env = ProverEnv(tactic_timeout=10.0, max_steps=COQ_MAX_STEPS + 2)
    names = sorted(COQ_PROOFS)
    missing = set(names) - {t.name for t in env.theorems}
    if missing:
        raise SystemExit(f"soak: built-in Coq theorems changed, no longer found: {missing}")

    def play(kind: str, rng: random.Random) -> list[str]:
        name = rng.choice(names)
        env.max_steps = COQ_MAX_STEPS if kind == "fail" else COQ_MAX_STEPS + 8
        return run_script(env, name, coq_script(kind, name, rng), slow_timeout=0.3)

    def stats() -> dict[str, Any]:
        return asdict(env.backend.stats)  # type: ignore[attr-defined]

    return soak("coq", episodes, every, seed, mix, play, env.close, stats, 2, progress)


def soak_lean(episodes: int, every: int, seed: int, mix: dict[str, float], progress: bool) -> Soak:
    from prover_env.lean.backend import LeanReplBackend
    from prover_env.lean.replay import load_transcripts

    if not TRANSCRIPTS.is_dir() or not load_transcripts(TRANSCRIPTS):
        raise SystemExit(
            f"soak: no Lean REPL transcripts in {TRANSCRIPTS}: set PROVER_GYM_LEAN_TRANSCRIPTS"
        )
    replay = [sys.executable, str(REPO / "prover_env" / "lean" / "replay.py"), str(TRANSCRIPTS)]
    theorems = [Theorem(n, s, language="lean4") for n, s in LEAN_THEOREMS.items()]
    backend = LeanReplBackend(command=tuple(replay), timeout=20.0, project=".")
    # The same REPL, broken on purpose: it never answers the first tactic.
    hanging = LeanReplBackend(command=(*replay, "--hang-after", "1"), timeout=20.0, project=".")
    env = ProverEnv(theorems, backend=backend, max_steps=20)
    hang_env = ProverEnv(theorems[:1], backend=hanging, max_steps=20)

    def play(kind: str, rng: random.Random) -> list[str]:
        name, script = lean_script(kind, rng)
        target = hang_env if kind == "timeout" else env
        return run_script(target, name, script, slow_timeout=0.3)

    def close() -> None:
        for e in (env, hang_env):
            e.close()
        backend.close()
        hanging.close()

    def stats() -> dict[str, Any]:
        return {"restarts": backend.restarts, "restarts_hanging": hanging.restarts}

    return soak("lean", episodes, every, seed, mix, play, close, stats, 2, progress)


def slope_per_1000(samples: Sequence[Sample], key: str) -> float:
    """Least-squares slope of ``key`` (MiB) per 1000 episodes over the second half."""
    half = samples[-1].episode / 2
    points = [(s.episode, getattr(s, key)) for s in samples if s.episode >= half]
    if len(points) < 2:
        return float("nan")
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return round(1000 * sxy / sxx, 2) if sxx else float("nan")


def report(run: Soak, max_slope: float | None) -> dict[str, Any]:
    """Summary numbers and the checks of one run."""
    s = run.samples
    warm = [x for x in s if x.episode >= s[-1].episode / 2]
    slopes = {
        k: slope_per_1000(s, k) for k in ("rss_total_mib", "rss_self_mib", "rss_children_mib")
    }
    summary = {
        "backend": run.backend,
        "episodes": run.episodes,
        "seconds": run.seconds,
        "episodes_per_s": round(run.episodes / max(run.seconds, 1e-9), 2),
        "kinds": dict(run.kinds),
        "wrong_outcomes": len(run.wrong),
        "rss_total_mib": {"first": s[0].rss_total_mib, "last": s[-1].rss_total_mib,
                          "max": max(x.rss_total_mib for x in s)},
        "rss_self_mib": {"first": s[0].rss_self_mib, "last": s[-1].rss_self_mib},
        "slope_mib_per_1000": {
            "total": slopes["rss_total_mib"],
            "self": slopes["rss_self_mib"],
            "children": slopes["rss_children_mib"],
        },
        "processes": {"min": min(x.children for x in s), "max": max(x.children for x in s)},
        "zombies_max_during_run": max(x.zombies for x in s),
        "after_close": run.after_close,
        "fds": {"first": s[0].fds, "last": s[-1].fds, "max": max(x.fds for x in s),
                "growth_second_half": warm[-1].fds - warm[0].fds},
        "backend_stats": run.stats,
    }  # fmt: skip
    checks = {
        "no wrong outcome": not run.wrong,
        "no zombie after close": run.after_close["zombies"] == 0,
        "no process after close": run.after_close["children"] == 0,
        f"at most {run.max_processes} prover processes": summary["processes"]["max"]
        <= run.max_processes,
        f"fd growth <= {MAX_FD_GROWTH}": s[-1].fds - s[0].fds <= MAX_FD_GROWTH,
    }
    if max_slope is not None:
        checks[f"memory slope <= {max_slope:g} MiB/1000 episodes"] = (
            slopes["rss_total_mib"] <= max_slope
        )
    summary["checks"] = checks
    summary["ok"] = all(checks.values())
    summary["wrong_examples"] = run.wrong[:5]
    summary["samples"] = [asdict(x) for x in s]
    return summary


def _rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    """The table rows of one backend's results."""
    rss, own, fds = r["rss_total_mib"], r["rss_self_mib"], r["fds"]
    slope, stats = r["slope_mib_per_1000"], r["backend_stats"]
    failed = [k for k, v in r["checks"].items() if not v]
    return [
        ("episodes", str(r["episodes"])),
        ("time (s)", f"{r['seconds']:.0f} ({r['episodes_per_s']:.1f} episodes/s)"),
        ("episode mix", " ".join(f"{k}={v}" for k, v in sorted(r["kinds"].items()))),
        ("wrong outcomes", str(r["wrong_outcomes"])),
        ("RSS total first/last/max (MiB)", f"{rss['first']:.0f} / {rss['last']:.0f} / "
                                           f"{rss['max']:.0f}"),
        ("RSS this process first/last (MiB)", f"{own['first']:.0f} / {own['last']:.0f}"),
        ("slope total (MiB/1000 ep., 2nd half)", f"{slope['total']:+.2f}"),
        ("slope this process", f"{slope['self']:+.2f}"),
        ("slope prover processes", f"{slope['children']:+.2f}"),
        ("prover processes min-max", "{min}-{max}".format(**r["processes"])),
        ("zombies max during run", str(r["zombies_max_during_run"])),
        ("after close: processes / zombies", "{children} / {zombies}".format(**r["after_close"])),
        ("open fds first/last/max", f"{fds['first']} / {fds['last']} / {fds['max']}"),
        ("prover restarts", str(stats.get("restarts_after_failure", stats.get("restarts")))),
        ("checks", "PASS" if not failed else "FAIL: " + ", ".join(failed)),
    ]  # fmt: skip


def print_table(results: Sequence[dict[str, Any]]) -> None:
    """A Markdown table: one row per measure, one column per backend."""
    table = [_rows(r) for r in results]
    labels = [label for label, _ in table[0]]
    width = max(map(len, labels))
    colw = [
        max(len(r["backend"]), *(len(v) for _, v in rows))
        for r, rows in zip(results, table, strict=True)
    ]
    head = " | ".join(f"{r['backend']:{w}}" for r, w in zip(results, colw, strict=True))
    print(f"| {'':{width}} | {head} |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * (w + 2) for w in colw) + "|")
    for i, label in enumerate(labels):
        cells = " | ".join(f"{rows[i][1]:{w}}" for rows, w in zip(table, colw, strict=True))
        print(f"| {label:{width}} | {cells} |")


def plot(results: Sequence[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (ax_mem, ax_proc) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for r in results:
        x = [s["episode"] for s in r["samples"]]
        slope = r["slope_mib_per_1000"]["total"]
        ax_mem.plot(x, [s["rss_total_mib"] for s in r["samples"]],
                    label=f"{r['backend']}: total ({slope:+.1f} MiB/1000 ep)")  # fmt: skip
        ax_mem.plot(x, [s["rss_self_mib"] for s in r["samples"]], linestyle="--",
                    label=f"{r['backend']}: this process")  # fmt: skip
        ax_proc.step(x, [s["children"] for s in r["samples"]], where="post",
                     label=f"{r['backend']}: prover processes")  # fmt: skip
        ax_proc.step(x, [s["zombies"] for s in r["samples"]], where="post", linestyle=":",
                     label=f"{r['backend']}: zombies")  # fmt: skip
    ax_mem.set_ylabel("RSS (MiB)")
    ax_mem.set_ylim(bottom=0)
    ax_mem.legend(fontsize=8)
    ax_proc.set_ylabel("processes")
    ax_proc.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_proc.set_xlabel("episode")
    ax_proc.legend(fontsize=8)
    ax_mem.set_title("soak: memory and processes vs episodes")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--episodes", type=int, default=1000, help="episodes per backend")
    ap.add_argument("--backend", default="both", choices=["coq", "lean", "both"])
    ap.add_argument("--every", type=int, default=25, help="episodes between two samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--plot", default=None, help="write a PNG of RSS and processes here")
    ap.add_argument("--max-slope", type=float, default=None, help="fail above this MiB/1000 ep")
    ap.add_argument(
        "--mix",
        nargs="*",
        default=None,
        metavar="KIND=WEIGHT",
        help=f"episode kinds and weights (default: {' '.join(f'{k}={v}' for k, v in MIX.items())})",
    )
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args(argv)
    if args.episodes < 2 or args.every < 1:
        ap.error("--episodes must be at least 2 and --every at least 1")
    mix = dict(MIX)
    if args.mix:
        try:
            mix = {k: float(w) for k, w in (item.split("=", 1) for item in args.mix)}
        except ValueError:
            ap.error("--mix takes KIND=WEIGHT items, e.g. --mix prove=1 fail=0.5")
        if set(mix) - set(MIX) or not any(w > 0 for w in mix.values()):
            ap.error(f"--mix kinds are {', '.join(MIX)}, with at least one positive weight")
    runs = []
    if args.backend in ("coq", "both"):
        runs.append(soak_coq(args.episodes, args.every, args.seed, mix, not args.quiet))
    if args.backend in ("lean", "both"):
        runs.append(soak_lean(args.episodes, args.every, args.seed, mix, not args.quiet))
    results = [report(run, args.max_slope) for run in runs]
    print(f"soak: {args.episodes} episodes per backend, seed {args.seed}, sampled every "
          f"{args.every}; slopes: least squares over the second half")  # fmt: skip
    print("mix: " + " ".join(f"{k}={v:g}" for k, v in mix.items()))
    print_table(results)
    for r in results:
        for problem in r["wrong_examples"]:
            print(f"  {r['backend']} wrong: {problem}")
    if args.json:
        meta = {"episodes": args.episodes, "every": args.every, "seed": args.seed, "mix": mix}
        Path(args.json).write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")
    if args.plot:
        plot(results, args.plot)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
