"""ProverEnv through gymnasium.make: real Coq proofs, rewards, info, checker, lifecycle."""

from __future__ import annotations

import os
import shutil
import signal
import time

import gymnasium as gym
import pytest
from conftest import LINEAR, coqidetop_pids, needs_minif2f
from gymnasium.utils.env_checker import check_env

import prover_env
from prover_env import CoqBackend, ProverEnv, Theorem, UnknownTheoremError
from prover_env.coq.sentences import check_tactic

# Hand-written proofs of MiniF2F valid statements, one tactic per step.
MINIF2F_PROOFS = {
    "mathd_algebra_104": [
        "assert (h1 : x = 125 / 8 * 12) by (rewrite h0; field).",
        "rewrite h1.",
        "field.",
    ],
    "mathd_numbertheory_284": ["intros a b h0 h1.", "destruct h0 as [ha [ha9 hb9]].", "lia."],
    "imo_1961_p1": [
        "intros x y z a b hx hy hz hxy hyz hzx ha hb hxyz.",
        "split.",
        "- lra.",
        "- split; nra.",
    ],
}


@needs_minif2f
@pytest.mark.parametrize("name", sorted(MINIF2F_PROOFS))
def test_minif2f_valid_proofs_reward_only_on_last_step(name: str) -> None:
    env = gym.make("ProverEnv/MiniF2F-Coq-v0", split="valid")
    try:
        obs, info = env.reset(options={"theorem": name})
        assert info["theorem"] == name and obs
        tactics = MINIF2F_PROOFS[name]
        rewards = []
        for i, tactic in enumerate(tactics):
            obs, reward, terminated, truncated, info = env.step(tactic)
            assert info["error"] is None, info["error"]
            rewards.append(reward)
            assert terminated == (i == len(tactics) - 1)
            assert not truncated
        assert rewards[-1] == 1.0 and all(r == 0.0 for r in rewards[:-1])
        assert info["verdict"]["ok"]
        assert info["proof"] == [s for t in tactics for s in check_tactic(t)]
        assert obs == "" and info["num_goals"] == 0
    finally:
        env.close()


def test_info_fields_and_error_leaves_state() -> None:
    env = gym.make("ProverEnv/Coq-v0", theorems=[LINEAR])
    try:
        _obs, info = env.reset(seed=0)
        assert set(info) >= {"theorem", "state_id", "num_goals", "proof", "error", "elapsed"}
        obs1, reward, terminated, truncated, info1 = env.step("intros x y h1 h2.")
        obs2, reward, terminated, truncated, info2 = env.step("lia.")
        assert info2["error"] and obs2 == obs1 and info2["state_id"] == info1["state_id"]
        assert reward == 0.0 and not terminated and not truncated and info2["steps"] == 2
        assert info2["proof"] == ["intros x y h1 h2."] and info2["elapsed"] > 0
    finally:
        env.close()


def test_step_penalty_and_truncation() -> None:
    env = ProverEnv([LINEAR], max_steps=2, step_penalty=0.01)
    try:
        env.reset()
        _, r1, term, trunc, _ = env.step("idtac.")
        assert r1 == pytest.approx(-0.01) and not term and not trunc
        _, _r2, term, trunc, _ = env.step("idtac.")
        assert trunc and not term
        with pytest.raises(gym.error.ResetNeeded):
            env.step("idtac.")
        env.reset()
        env.step("intros x y h1 h2.")
        _, r, term, _, info = env.step("lra.")
        assert term and r == pytest.approx(0.99) and info["verdict"]["ok"]
    finally:
        env.close()


def test_seeded_reset_and_steps_are_reproducible() -> None:
    def run(seed: int) -> list[tuple]:
        env = gym.make("ProverEnv/Coq-v0")
        try:
            obs, info = env.reset(seed=seed)
            out = [(obs, info["theorem"], info["state_id"])]
            for action in ("intros.", "lia.", "lra."):
                obs, reward, term, trunc, info = env.step(action)
                out.append((obs, reward, term, trunc, info["state_id"], info["error"]))
                if term:
                    break
            return out
        finally:
            env.close()

    assert run(7) == run(7)
    names = {run(s)[0][1] for s in range(6)}
    assert len(names) > 1  # the seed does pick the theorem


def test_unknown_theorem_and_unusable_theorems() -> None:
    bad = Theorem("broken", "Theorem broken : forall x : R, x = x.")  # no Reals import
    env = ProverEnv([bad, LINEAR])
    try:
        with pytest.raises(UnknownTheoremError, match="unknown theorem 'nope'"):
            env.reset(options={"theorem": "nope"})
        seen = set()
        for seed in range(6):
            _, info = env.reset(seed=seed)
            seen.add(info["theorem"])
        assert seen == {"lin"}
        assert "broken" in env.unusable and "not found" in env.unusable["broken"]
    finally:
        env.close()


def test_coq_source_strings_as_theorems_and_undo() -> None:
    src = "Require Import Arith.\nTheorem s : forall n, n + 0 = n.\nProof. Admitted."
    env = ProverEnv([src])
    try:
        obs0, _ = env.reset()
        _obs1, *_ = env.step("intros n.")
        assert env.undo() == obs0
        _, reward, term, _, _ = env.step("intros n. lia.")
        assert term and reward == 1.0
    finally:
        env.close()


@pytest.mark.parametrize("env_id", sorted(prover_env.ENV_IDS))
def test_check_env_on_every_registered_id(env_id: str) -> None:
    from conftest import minif2f_available

    kwargs = {}
    if "Lean" in env_id:
        # check_env steps random actions: only a real Lean can answer them (no replay).
        if shutil.which("lake") is None or not os.environ.get("PROVER_GYM_LEAN_PROJECT"):
            pytest.skip("needs a Lean toolchain and PROVER_GYM_LEAN_PROJECT (a Mathlib project)")
        kwargs["lean_project"] = os.environ["PROVER_GYM_LEAN_PROJECT"]
    if "MiniF2F" in env_id and not minif2f_available():
        pytest.skip("MiniF2F data not found")
    env = gym.make(env_id, **kwargs)
    try:
        check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


def test_registered_ids_are_all_registered() -> None:
    ids = {"ProverEnv/Coq-v0", "ProverEnv/MiniF2F-Coq-v0", "ProverEnv/Lean-v0"}
    assert ids | {"ProverEnv/MiniF2F-Lean-v0"} <= set(gym.registry)


@needs_minif2f
def test_minif2f_lean_env_loads_the_suite_without_lean() -> None:
    env = gym.make("ProverEnv/MiniF2F-Lean-v0", split="valid", lean_project="/nonexistent")
    try:
        theorems = env.unwrapped.theorems
        assert len(theorems) == 244 and all(t.language == "lean4" for t in theorems)
        assert theorems[0].header.startswith("import Mathlib")
    finally:
        env.close()


def test_lean_envs_build_without_starting_lean() -> None:
    env = gym.make("ProverEnv/Lean-v0", lean_project="/nonexistent")
    try:
        assert env.unwrapped.theorems[0].language == "lean4"
        assert env.unwrapped._backend is None  # nothing started before reset()
        with pytest.raises(prover_env.BackendNotAvailableError, match="prover-gym doctor"):
            env.reset()
    finally:
        env.close()


def test_sigkill_mid_episode_next_step_works() -> None:
    env = gym.make("ProverEnv/Coq-v0", theorems=[LINEAR])
    try:
        env.reset()
        env.step("intros x y h1 h2.")
        backend = env.unwrapped.backend
        assert isinstance(backend, CoqBackend)
        for pid in backend.pids():
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        _, reward, terminated, _, info = env.step("lra.")
        assert terminated and reward == 1.0, info
    finally:
        env.close()


def test_no_prover_outlives_close() -> None:
    before = set(coqidetop_pids())
    env = gym.make("ProverEnv/Coq-v0")
    env.reset(seed=1)
    env.step("intros.")
    assert set(coqidetop_pids()) - before
    env.close()
    assert set(coqidetop_pids()) - before == set()
