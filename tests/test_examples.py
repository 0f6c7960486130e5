"""Every example in examples/ runs as-is on a small budget (the smoke profile CI runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import minif2f_available

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: Each example's smoke profile: the arguments CI runs it with (docs/examples.md lists them).
SMOKE: dict[str, list[str]] = {
    "own_agent.py": [],
    "llm_best_first.py": ["--expansions", "1"],
    "rllib_ppo.py": ["--iterations", "1"],
    "grpo_on_ray.py": ["--iterations", "1"],
    "minif2f_eval.py": ["--limit", "2"],
    "lean_mathlib.py": [],
}


def run(name: str, *args: str, timeout: float = 300) -> str:
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=EXAMPLES.parent)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_every_example_is_smoke_tested() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(SMOKE)


def test_own_agent() -> None:
    out = run("own_agent.py", *SMOKE["own_agent.py"])
    assert "proved 7/8 built-in theorems" in out


def test_llm_best_first() -> None:
    out = run("llm_best_first.py", *SMOKE["llm_best_first.py"])
    assert out.count("proved=") == 4


def test_rllib_ppo() -> None:
    pytest.importorskip("ray.rllib")
    out = run("rllib_ppo.py", *SMOKE["rllib_ppo.py"])
    assert "iteration 1:" in out and "env steps" in out


def test_grpo_on_ray(tmp_path: Path) -> None:
    run("grpo_on_ray.py", *SMOKE["grpo_on_ray.py"], "--out", str(tmp_path / "grpo"))
    assert (tmp_path / "grpo" / "rl" / "training.png").is_file()


@pytest.mark.skipif(not minif2f_available(), reason="MiniF2F-rocq not found (PROVER_GYM_DATA)")
def test_minif2f_eval(tmp_path: Path) -> None:
    out = run("minif2f_eval.py", *SMOKE["minif2f_eval.py"], "--out", str(tmp_path / "ev"))
    assert "'theorems': 2" in out and (tmp_path / "ev" / "report.md").is_file()


def test_lean_example_explains_what_it_needs() -> None:
    out = run("lean_mathlib.py", *SMOKE["lean_mathlib.py"])
    assert "PROVER_GYM_LEAN_PROJECT" in out or "kernel verdict" in out
