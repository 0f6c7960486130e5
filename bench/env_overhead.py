"""Cost of the environment over the raw prover, measured side by side in one run.

Prints:
  * median ``env.step`` latency over the raw ``coqidetop`` latency for the same tactics
    (goal <= 1.25). The env and three bare clients (Add then Goal; Add+Goal in one write;
    ``coqtop -emacs``) take the same tactics in lockstep, in rotating order, so that the
    machine's drift hits all of them alike;
  * ``env.reset`` latency over a cold start with the same imports (goal >= 20x faster);
  * start-up time and resident memory per prover process;
  * the cost of going back: a tactic from an ancestor state, and switching branches
    (backtrack + replay);
  * the finishing step, which includes ``verify`` (Qed + Print Assumptions).

Usage: python bench/env_overhead.py [--reps 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import statistics
import subprocess
import time
from xml.sax.saxutils import escape

import gymnasium as gym

import prover_env
from prover_env import CoqBackend, ProverEnv, Theorem
from prover_env.coq.backend import DEFAULT_PRELUDE
from prover_env.coq.idetop import find_coqidetop
from prover_env.coq.sentences import split_sentences

HEADER = "Require Import Arith ZArith Reals.\nOpen Scope R_scope."
# (statement, tactics): every tactic succeeds; the last one closes the proof.
EPISODES: list[tuple[str, list[str]]] = [
    (
        "Theorem b1 : forall x y : R, x + y = 10 -> x - y = 2 -> x = 6.",
        ["intros x y h1 h2.", "assert (h3 : 2 * x = 12) by lra.", "lra."],
    ),
    ("Theorem b2 : forall a b : nat, (a + b = b + a)%nat.", ["intros a b.", "simpl.", "lia."]),
    ("Theorem b3 : forall z : Z, (0 <= z * z)%Z.", ["intros z.", "nia."]),
    (
        "Theorem b4 : forall P Q : Prop, P /\\ Q -> Q /\\ P.",
        ["intros P Q h.", "destruct h as [hp hq].", "split.", "exact hq.", "exact hp."],
    ),
    ("Theorem b5 : forall x : R, 0 <= x * x.", ["intros x.", "nra."]),
    (
        "Theorem b6 : forall n : nat, (n <= 2 * n)%nat.",
        ["intros n.", "induction n.", "simpl.", "lia.", "lia."],
    ),
    ("Theorem b7 : forall x : R, 0 < x -> x / x = 1.", ["intros x hx.", "field.", "lra."]),
    (
        "Theorem b8 : forall a b : R, 0 <= a -> 0 <= b -> a * b <= (a + b) * (a + b).",
        ["intros a b ha hb.", "assert (h : 0 <= a * b) by nra.", "nra."],
    ),
]
_SID = re.compile(rb'<value val="good"><pair><state_id val="(\d+)"/>')


class RawIdeTop:
    """The thinnest possible coqidetop client: bytes in, bytes out, no parsing."""

    def __init__(self) -> None:
        exe = find_coqidetop()
        self.p = subprocess.Popen(
            [exe, "-main-channel", "stdfds", "-async-proofs", "off", "-q"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
        )
        self.fd = self.p.stdout.fileno()  # type: ignore[union-attr]
        out = self.call(b'<call val="Init"><option val="none"/></call>')
        self.sid = int(re.search(rb'state_id val="(\d+)"', out).group(1))  # type: ignore[union-attr]

    def call(self, data: bytes) -> bytes:
        self.p.stdin.write(data)  # type: ignore[union-attr]
        buf = b""
        while not buf.endswith(b"</value>"):
            select.select([self.fd], [], [])
            buf += os.read(self.fd, 1 << 16)
        return buf

    def add(self, sentence: str) -> None:
        s = escape(sentence)
        out = self.call(
            f'<call val="Add"><pair><pair><pair><pair><string>{s}</string><int>0</int></pair>'
            f'<pair><state_id val="{self.sid}"/><bool val="false"/></pair></pair><int>0</int>'
            "</pair><pair><int>0</int><int>0</int></pair></pair></call>".encode()
        )
        m = _SID.search(out)
        if not m:
            raise RuntimeError(out.decode()[-300:])
        self.sid = int(m.group(1))

    def add_goal(self, sentence: str) -> None:
        """Add and Goal in one write (what the env does), two replies back."""
        s = escape(sentence)
        self.p.stdin.write(  # type: ignore[union-attr]
            f'<call val="Add"><pair><pair><pair><pair><string>{s}</string><int>0</int></pair>'
            f'<pair><state_id val="{self.sid}"/><bool val="false"/></pair></pair><int>0</int>'
            "</pair><pair><int>0</int><int>0</int></pair></pair></call>"
            '<call val="Goal"><unit/></call>'.encode()
        )
        buf = b""
        while buf.count(b"</value>") < 2:
            select.select([self.fd], [], [])
            buf += os.read(self.fd, 1 << 16)
        m = _SID.search(buf)
        if not m or b'val="fail"' in buf:
            raise RuntimeError(buf.decode()[-300:])
        self.sid = int(m.group(1))

    def goal(self) -> bytes:
        out = self.call(b'<call val="Goal"><unit/></call>')
        if b'val="fail"' in out[-2000:]:
            raise RuntimeError(out.decode()[-300:])
        return out

    def edit_at(self, sid: int) -> None:
        self.call(f'<call val="Edit_at"><state_id val="{sid}"/></call>'.encode())
        self.sid = sid

    def close(self) -> None:
        self.p.kill()
        self.p.wait()


class RawCoqtop:
    """``coqtop -emacs``: one sentence per line, the goals printed after each."""

    def __init__(self) -> None:
        self.p = subprocess.Popen(
            ["coqtop", "-emacs", "-q"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=0,
        )
        self.fd = self.p.stdout.fileno()  # type: ignore[union-attr]
        self.read()

    def read(self) -> bytes:
        buf = b""
        while not buf.rstrip().endswith(b"</prompt>"):
            select.select([self.fd], [], [])
            buf += os.read(self.fd, 1 << 16)
        return buf

    def send(self, sentence: str) -> bytes:
        self.p.stdin.write(sentence.replace("\n", " ").encode() + b"\n")  # type: ignore[union-attr]
        return self.read()

    def close(self) -> None:
        self.p.kill()
        self.p.wait()


def _ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1e3:.3f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reps", type=int, default=10, help="repetitions of the episode set")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    args = ap.parse_args()
    header = [*split_sentences(DEFAULT_PRELUDE), *split_sentences(HEADER)]
    theorems = [Theorem(s.split()[1], s, header=HEADER) for s, _ in EPISODES]
    results: dict[str, float] = {}

    # Cold start: a fresh process, the same imports, the first goal.
    cold, rss = [], []
    for _ in range(3):
        t = time.perf_counter()
        with CoqBackend() as coq:
            coq.start(theorems[0])
            cold.append(time.perf_counter() - t)
            rss.append(coq._sessions[next(iter(coq._sessions))].proc.rss_bytes() / 2**20)  # type: ignore[union-attr]
    spawn = []
    for _ in range(3):
        t = time.perf_counter()
        raw = RawIdeTop()
        spawn.append(time.perf_counter() - t)
        raw.close()

    raw = RawIdeTop()
    for sentence in header:
        raw.add(sentence)
    raw.goal()
    header_sid = raw.sid
    env = ProverEnv(theorems, max_steps=100, tactic_timeout=30)
    env.reset(options={"theorem": theorems[0].name})  # warm the process
    raw_steps: list[float] = []
    env_steps: list[float] = []
    resets: list[float] = []
    verify: list[float] = []

    piped = RawIdeTop()  # a second bare client that pipelines Add+Goal, as the env does
    for sentence in header:
        piped.add(sentence)
    piped.goal()
    piped_header = piped.sid

    def raw_step(tactic: str) -> float:
        t = time.perf_counter()
        raw.add(tactic)
        raw.goal()
        return time.perf_counter() - t

    def piped_step(tactic: str) -> float:
        t = time.perf_counter()
        piped.add_goal(tactic)
        return time.perf_counter() - t

    top = RawCoqtop()
    for sentence in header:
        top.send(sentence)
    top_steps: list[float] = []

    def top_step(tactic: str) -> float:
        t = time.perf_counter()
        top.send(tactic)
        return time.perf_counter() - t

    def env_step(tactic: str) -> float:
        t = time.perf_counter()
        _, _, _, _, info = env.step(tactic)
        elapsed = time.perf_counter() - t
        if info["error"]:
            raise RuntimeError(f"{tactic}: {info['error']}")
        return elapsed

    paired: list[float] = []
    piped_steps: list[float] = []
    # Lockstep: the three clients take the same tactic one after the other (rotating who goes
    # first), so that the machine's drift over milliseconds hits them alike.
    for rep in range(args.reps):
        for (statement, tactics), theorem in zip(EPISODES, theorems, strict=True):
            raw.edit_at(header_sid)
            raw.add(statement)
            raw.goal()
            piped.edit_at(piped_header)
            piped.add(statement)
            piped.goal()
            top.send(statement)
            t = time.perf_counter()
            env.reset(options={"theorem": theorem.name})
            resets.append(time.perf_counter() - t)
            for i, tactic in enumerate(tactics[:-1]):
                runners = [
                    (raw_steps, raw_step),
                    (piped_steps, piped_step),
                    (top_steps, top_step),
                    (env_steps, env_step),
                ]
                k = (i + rep) % len(runners)
                for sink, run in runners[k:] + runners[:k]:
                    sink.append(run(tactic))
                paired.append(env_steps[-1] / raw_steps[-1])
            top.send("Abort.")
            t = time.perf_counter()
            _, reward, _, _, info = env.step(tactics[-1])
            verify.append(time.perf_counter() - t)
            if reward != 1.0:
                raise RuntimeError(f"{theorem.name} not proved: {info}")
    piped.close()
    top.close()
    env.close()
    raw.close()

    # Going back: from an ancestor (Edit_at only) and across branches (Edit_at + replay).
    with CoqBackend() as coq:
        s0 = coq.start(theorems[3])
        chain = [s0]
        for tactic in EPISODES[3][1][:-2]:
            chain.append(coq.run_tactic(chain[-1], tactic))  # type: ignore[arg-type]
        tip_t, back_t, switch_t = [], [], []
        state = chain[-1]
        for _ in range(20):  # at the tip: each tactic runs on the state the last one made
            t = time.perf_counter()
            state = coq.run_tactic(state, "idtac.")  # type: ignore[assignment]
            tip_t.append(time.perf_counter() - t)
        for _ in range(20):  # back to the root: one Edit_at, nothing to replay
            coq.run_tactic(chain[-1], "idtac.")  # (unmeasured) make the deep state the tip
            t = time.perf_counter()
            coq.run_tactic(chain[0], "idtac.")
            back_t.append(time.perf_counter() - t)
        a = chain[-1]
        b = coq.run_tactic(chain[0], "intros P Q h. destruct h as [hp hq]. split.")
        for _ in range(20):  # alternate between two branches: Edit_at + replay each time
            t = time.perf_counter()
            coq.run_tactic(a, "idtac.")
            switch_t.append(time.perf_counter() - t)
            coq.run_tactic(b, "idtac.")  # type: ignore[arg-type]
        replayed = coq.stats.replayed_sentences

    cheap = [e / r for e, r in zip(env_steps, raw_steps, strict=True) if r < 1e-3]
    heavy = [e / r for e, r in zip(env_steps, raw_steps, strict=True) if r >= 1e-3]
    ratio = statistics.median(env_steps) / statistics.median(raw_steps)
    cold_over_reset = statistics.median(cold) / statistics.median(resets)
    results.update(
        step_env_ms=statistics.median(env_steps) * 1e3,
        step_raw_coqidetop_ms=statistics.median(raw_steps) * 1e3,
        step_ratio=ratio,
        step_ratio_paired=statistics.median(paired),
        step_ratio_paired_cheap=statistics.median(cheap),
        step_raw_pipelined_ms=statistics.median(piped_steps) * 1e3,
        step_ratio_pipelined=statistics.median(env_steps) / statistics.median(piped_steps),
        step_raw_coqtop_emacs_ms=statistics.median(top_steps) * 1e3,
        reset_ms=statistics.median(resets) * 1e3,
        cold_start_s=statistics.median(cold),
        cold_over_reset=cold_over_reset,
        spawn_s=statistics.median(spawn),
        rss_mb=statistics.median(rss),
        verify_finish_step_ms=statistics.median(verify) * 1e3,
        tactic_at_tip_ms=statistics.median(tip_t) * 1e3,
        tactic_from_ancestor_ms=statistics.median(back_t) * 1e3,
        tactic_across_branches_ms=statistics.median(switch_t) * 1e3,
    )
    n = len(env_steps)
    print(f"prover-gym env overhead (Coq {prover_env.__version__}, {n} steps x side by side)")
    print(f"  env.step median            {_ms(env_steps)}")
    print(f"  raw coqidetop median       {_ms(raw_steps)}   (Add + Goal over a bare pipe)")
    print(f"  ratio env/raw              {ratio:.3f}   (goal <= 1.25; ratio of the medians)")
    print(f"  paired ratio, median       {statistics.median(paired):.3f}   (step by step)")
    piped = statistics.median(env_steps) / statistics.median(piped_steps)
    print(
        f"  paired, raw < 1 ms         {statistics.median(cheap):.3f}   ({len(cheap)} steps: "
        f"intros, split, simpl... overhead dominates)"
    )
    if heavy:
        print(
            f"  paired, raw >= 1 ms        {statistics.median(heavy):.3f}   ({len(heavy)} steps: "
            "lra, nra, field...)"
        )
    print(f"  raw, Add+Goal in one write {_ms(piped_steps)}   (as the env sends them)")
    print(f"  ratio env/raw pipelined    {piped:.3f}")
    print(f"  raw coqtop -emacs median   {_ms(top_steps)}   (one sentence + printed goals)")
    print(f"  env.reset median           {_ms(resets)}")
    print(f"  cold start (same imports)  {statistics.median(cold):.3f} s")
    print(f"  cold / reset               {cold_over_reset:.0f}x   (goal >= 20x)")
    print(f"  process spawn + Init       {statistics.median(spawn) * 1e3:.0f} ms")
    mib = statistics.median(rss)
    print(f"  RSS per process            {mib:.0f} MiB (Reals, Lia/Lra/Psatz/Field loaded)")
    print(f"  finishing step + verify    {_ms(verify)}   (Qed + Print Assumptions)")
    print(f"  tactic at tip              {_ms(tip_t)}")
    print(f"  tactic from ancestor       {_ms(back_t)}   (Edit_at back)")
    print(f"  tactic across branches     {_ms(switch_t)}   (Edit_at + replay of 3 sentences)")
    print(f"  sentences replayed         {replayed}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    gym.logger.min_level = 40
    main()
