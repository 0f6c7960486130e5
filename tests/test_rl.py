"""RL from prover feedback: grouped rollouts on real Coq, the GRPO update, and the Ray training
loop (checkpoints that resume, a rollout worker killed mid-iteration)."""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("ray")

from agents import Candidate
from prover_env import CoqBackend, ProofState, Theorem
from training.build import SynthConfig, build_dataset
from training.grpo import RLConfig, grpo_update, sequence_logprobs, train_rl
from training.rollout import RolloutConfig, rollout_task
from training.sft import Example, collate, encode, load_model
from training.synth import COQ_HEADER

LIN = Theorem("lin_r", "Theorem lin_r : (forall x : R, 3 * x + 2 = 11 -> x = 3)%R.", COQ_HEADER)


class Alternating:
    """Proposes intros at the start, then lra for even calls and lia for odd ones."""

    def __init__(self) -> None:
        self.calls = 0

    def propose_batch(self, states: list[ProofState], k: int) -> list[list[Candidate]]:
        out = []
        for s in states:
            self.calls += 1
            tac = "intros." if "forall" in s.goals else ("lra." if self.calls % 2 else "lia.")
            out.append([Candidate(tac, -1.0)])
        return out

    def propose(self, state: ProofState, k: int) -> list[Candidate]:
        return self.propose_batch([state], k)[0]


class CountingCoq(CoqBackend):
    verifies = 0

    def verify(self, theorem, proof):  # type: ignore[no-untyped-def]
        CountingCoq.verifies += 1
        return super().verify(theorem, proof)


def test_rollout_group_rewards_only_verified_proofs() -> None:
    with CountingCoq(timeout=5.0) as coq:
        out = rollout_task(coq, LIN, Alternating(), RolloutConfig(group_size=6, max_depth=3))
    trajs = out["trajectories"]
    assert len(trajs) == 6 and out["unusable"] is None
    proved = [t for t in trajs if t["proved"]]
    failed = [t for t in trajs if not t["proved"]]
    assert proved and failed  # lra proves it, lia does not (R)
    assert all(t["reward"] == 1.0 and t["tactics"] == ["intros.", "lra."] for t in proved)
    assert all(t["reward"] == 0.0 and t["end"] == "error" for t in failed)
    assert all(t["prompts"][0].startswith("[GOALS]\n⊢ forall x : R") for t in trajs)
    assert CountingCoq.verifies == 1  # the same proof script is verified once
    assert out["steps"] == 12 and out["policy_seconds"] >= 0 and out["prover_seconds"] > 0


def test_grpo_update_moves_towards_rewarded_tactics() -> None:
    import torch

    torch.manual_seed(0)
    model, tok = load_model("tiny", 0)
    prompt = "[GOALS]\nx : R\n⊢ x = x\n[PROOFSTEP]\n"
    good = {"prompts": [prompt], "tactics": ["lra."], "reward": 1.0, "proved": True}
    bad = {"prompts": [prompt], "tactics": ["lia."], "reward": 0.0, "proved": False}
    flat = [dict(good), dict(good)]  # same reward everywhere: no signal

    def logp(tactic: str) -> float:
        enc = encode(tok, [Example(prompt, tactic, "", "step")], 256)
        with torch.no_grad():
            return float(sequence_logprobs(model, collate([enc[0]], tok.pad_token_id))[0])

    before = logp("lra."), logp("lia.")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    cfg = RLConfig(data="unused", epochs=4, minibatch_size=4)
    loss, signal_groups, kl = grpo_update(
        model, tok, optimizer, [[good, bad, good, bad], flat], cfg
    )
    assert signal_groups == 1 and loss is not None and kl is None  # no reference: no KL
    after = logp("lra."), logp("lia.")
    assert after[0] > before[0] and after[1] < before[1]
    assert grpo_update(model, tok, optimizer, [flat], cfg) == (None, 0, None)


def test_kl_penalty_keeps_the_policy_near_the_reference() -> None:
    """Same data, same steps: with kl_beta the policy ends closer to where it started."""
    import torch

    prompt = "[GOALS]\nx : R\n⊢ x = x\n[PROOFSTEP]\n"
    good = {"prompts": [prompt], "tactics": ["lra."], "reward": 1.0, "proved": True}
    bad = {"prompts": [prompt], "tactics": ["lia."], "reward": 0.0, "proved": False}
    reference, tok = load_model("tiny", 0)
    enc = encode(tok, [Example(prompt, "lra.", "", "step")], 256)
    batch = collate([enc[0]], tok.pad_token_id)
    with torch.no_grad():
        start = float(sequence_logprobs(reference, batch)[0])

    def drift(beta: float) -> tuple[float, list[float]]:
        torch.manual_seed(0)
        model, _ = load_model("tiny", 0)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        cfg = RLConfig(data="unused", epochs=4, minibatch_size=4, kl_beta=beta, clip=10.0)
        kls = []
        for _ in range(4):
            kls.append(grpo_update(model, tok, optimizer, [[good, bad, good, bad]], cfg,
                                   reference)[2])  # fmt: skip
        with torch.no_grad():
            return float(sequence_logprobs(model, batch)[0]) - start, kls

    free, no_kl = drift(0.0)
    held, kls = drift(5.0)
    assert no_kl == [None] * 4 and all(k is not None and k >= 0 for k in kls)
    assert free > 1.0  # without the penalty the policy moves far towards the rewarded tactic
    assert abs(held) < free / 2  # with it, it stays near the reference
    with pytest.raises(ValueError, match="kl_beta"):
        RLConfig(data="unused", kl_beta=-1)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    build_dataset(SynthConfig(out=str(out), n=24, seed=11, workers=1), progress=False)
    return out


def test_train_resume_and_worker_death(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "rl"
    killed: list[int] = []

    def kill_one(record: dict, pool) -> None:  # type: ignore[no-untyped-def,type-arg]
        if not killed:
            pid = pool.worker_pids()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    cfg = RLConfig(data=str(dataset), algo="expert-iteration", out=str(out), iterations=1,
                   theorems_per_iteration=4, rollout=RolloutConfig(3, 2, 2.0),
                   max_new_tokens=8, workers=2, tensorboard=False)  # fmt: skip
    summary = train_rl(cfg, progress=False, on_result=kill_one)
    assert killed and summary["last"]["replaced_workers"] >= 1
    assert summary["last"]["theorems"] == 4  # the iteration completed after the death
    assert (out / "checkpoint-1" / "trainer_state.json").is_file()
    assert (out / "training.png").is_file() and (out / "final" / "config.json").is_file()
    # resume: one more iteration continues from checkpoint-1, curriculum state restored
    again = train_rl(RLConfig(**{**cfg.__dict__, "iterations": 2}), progress=False)
    with (out / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == [1, 2] and again["last"]["iteration"] == 2
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["iteration"] == 2 and state["algo"] == "expert-iteration"
    with pytest.raises(ValueError, match="expert-iteration run"):
        train_rl(RLConfig(**{**cfg.__dict__, "algo": "grpo", "iterations": 3}), progress=False)


def test_train_killed_with_sigkill_resumes(dataset: Path, tmp_path: Path) -> None:
    """`prover-gym train` killed -9 after its first checkpoint: the rerun keeps iteration 1 and
    finishes the run, and no prover process is left behind by the killed one."""
    import subprocess
    import sys
    import time

    import psutil

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "prover_env.cli", "train", "--algo", "grpo", "--suite",
           f"synth:{dataset}", "--out", str(out), "--iterations", "3", "--theorems", "3",
           "--group", "2", "--max-depth", "2", "--workers", "1", "--no-tensorboard",
           "--no-progress", "--kl-beta", "0.05"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not (out / "checkpoint-1" / "trainer_state.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    time.sleep(3)  # Ray's processes and the provers share the driver's fate
    leftover = [p for p in psutil.process_iter(["name", "cmdline"])
                if "coqidetop" in (p.info["name"] or "") and p.status() != psutil.STATUS_ZOMBIE
                and p.ppid() == 1]  # fmt: skip
    assert not leftover
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming from" in again.stderr
    with (out / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    iterations = [int(r["iteration"]) for r in rows]
    assert "kl" in rows[0]  # the penalty's reference model was rebuilt on resume
    assert iterations == [1, 2, 3]  # rows of an iteration cut off by the kill are dropped
