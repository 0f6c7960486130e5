"""The hostile-tactic battery (tests/data/hostile_coq.jsonl): no reward, no hang, env usable."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from conftest import LINEAR, coqidetop_pids

import prover_env  # noqa: F401

CASES: list[dict[str, Any]] = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "hostile_coq.jsonl").read_text().splitlines()
    if line.strip()
]
TIMEOUT = 2.0


def _action(case: dict[str, Any]) -> str:
    return case["action"] * case.get("repeat", 1)


@pytest.fixture(scope="module")
def env() -> Any:
    env = gym.make("ProverEnv/Coq-v0", theorems=[LINEAR], tactic_timeout=TIMEOUT, max_steps=10_000)
    yield env
    env.close()


def test_battery_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c["action"][:40] for c in CASES])
def test_hostile_action(env: Any, case: dict[str, Any]) -> None:
    env.reset(options={"theorem": "lin"})
    obs, _, _, _, info = env.step("intros x y h1 h2.")
    state_id = info["state_id"]
    started = time.monotonic()
    obs2, reward, terminated, _truncated, info = env.step(_action(case))
    elapsed = time.monotonic() - started
    assert reward <= 0.0, "a hostile action earned reward"
    assert not (terminated and info.get("verdict", {}).get("ok")), "a hostile action was accepted"
    assert elapsed < TIMEOUT + 5.0
    expect = case["expect"]
    if expect == "rejected":
        assert info["rejected_by_guard"], info
    elif expect == "timeout":
        assert info["timeout"], info
    elif expect == "error":
        assert info["error"] and not info["rejected_by_guard"], info
    if expect != "any":
        assert info["state_id"] == state_id and obs2 == obs  # state unchanged
    # the env is still usable: the proof can be finished from where it stands
    if not terminated and "no focused goal" not in info["goals"]:
        for finish in ("lra.", "}"):
            _, reward, terminated, _, info = env.step(finish)
            if terminated:
                break
        assert terminated and reward == 1.0, info


def test_no_leaked_processes_after_battery(env: Any) -> None:
    assert len(coqidetop_pids()) <= 1
