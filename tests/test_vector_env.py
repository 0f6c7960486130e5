"""Vector environments: `gymnasium.make_vec` on the Coq env ids, each sub-env with its own
prover process, real proofs, Gymnasium's next-step autoreset, and no process left behind."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import pytest
from conftest import coqidetop_pids

import prover_env  # noqa: F401

THEOREMS = [
    "Theorem a1 : forall n : nat, n + 0 = n.",
    "Theorem a2 : forall n m : nat, n + m = m + n.",
    "Theorem a3 : forall n : nat, n <= 2 * n.",
    "Theorem a4 : forall n : nat, n < n + 1.",
]


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_vector_env_proves_and_autoresets(mode: str) -> None:
    envs = gym.make_vec("ProverEnv/Coq-v0", num_envs=4, vectorization_mode=mode,
                        theorems=THEOREMS, max_steps=4)  # fmt: skip
    try:
        obs, info = envs.reset(seed=0)
        assert len(obs) == 4 and all(o.startswith("⊢ forall") for o in obs)
        if mode == "async":  # each sub-env owns its own prover process
            assert len(coqidetop_pids()) >= 4
        obs, reward, terminated, truncated, info = envs.step(["intros; lia."] * 4)
        assert np.all(reward == 1.0) and np.all(terminated) and not np.any(truncated)
        assert np.all(info["verdict"]["ok"])  # dict infos are batched key by key
        # next-step autoreset: the step after a terminal one resets (reward 0, fresh goals)
        obs, reward, terminated, _, _ = envs.step(["intros; lia."] * 4)
        assert np.all(reward == 0.0) and not np.any(terminated)
        assert all(o.startswith("⊢ forall") for o in obs)
        obs, reward, _, _, info = envs.step(["Admitted."] * 4)
        assert np.all(reward == 0.0) and all(info["error"])
    finally:
        envs.close()
    deadline = time.monotonic() + 10
    while coqidetop_pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert coqidetop_pids() == []
