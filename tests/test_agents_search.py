"""Agents, best-first search, sampling and the sequential evaluation runner on real Coq."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import needs_minif2f

from agents import (
    Agent,
    AutomationAgent,
    Candidate,
    RandomAgent,
    SearchConfig,
    best_first_search,
    sample_proofs,
)
from eval.passk import pass_at_k, suite_pass_at_k
from eval.runner import EvalConfig, evaluate, load_results
from prover_env import CoqBackend, Theorem, builtin_coq_theorems, load_minif2f_coq

BUILTIN = {t.name: t for t in builtin_coq_theorems()}
ALL_AUTOMATION = len(AutomationAgent().tactics)


class TenLineAgent:
    """The README's example: an agent in about ten lines."""

    def propose(self, state, k):  # type: ignore[no-untyped-def]
        if "=" in state.goals or "<=" in state.goals:
            return [Candidate("intros. lia.", -0.1), Candidate("intros. lra.", -0.2)][:k]
        return [Candidate("intros. tauto.", 0.0)]


def coqc_accepts(script: str, tmp_path: Path, name: str) -> bool:
    """Compile a whole proof script with coqc, separately from the backend."""
    path = tmp_path / f"{name}.v"
    path.write_text(script + "\n", encoding="utf-8")
    out = subprocess.run(["coqc", "-q", str(path)], capture_output=True, text=True, cwd=tmp_path)
    return out.returncode == 0 and "Admitted" not in script


def test_user_agent_protocol_and_bfs(tmp_path: Path) -> None:
    agent = TenLineAgent()
    assert isinstance(agent, Agent)
    with CoqBackend() as coq:
        res = best_first_search(coq, BUILTIN["add_comm_nat"], agent)
        assert res.proved and res.proof == ("intros.", "lia.") and res.verdict
        res = best_first_search(coq, BUILTIN["and_swap"], agent)
        assert res.proved and res.reason == "proved"


def test_automation_bfs_proofs_compile_with_coqc(tmp_path: Path) -> None:
    agent = AutomationAgent()
    with CoqBackend(timeout=10) as coq:
        for name in ("add_zero_r", "z_square_nonneg", "r_linear_system", "and_swap"):
            budget = SearchConfig(max_expansions=4, candidates=ALL_AUTOMATION)
            res = best_first_search(coq, BUILTIN[name], agent, budget)
            assert res.proved, (name, res)
            assert coqc_accepts(res.verdict.script, tmp_path, name)  # type: ignore[union-attr]


def test_budget_and_exhaustion_are_reported() -> None:
    hard = Theorem("hard", "Theorem hard : forall n : nat, n * n <> 2.")
    with CoqBackend(timeout=2) as coq:
        res = best_first_search(coq, hard, RandomAgent(seed=1), SearchConfig(max_expansions=2))
        assert not res.proved and res.reason in ("budget", "exhausted")
        assert res.expansions <= 2 and res.tactic_calls >= 1
        res = best_first_search(coq, Theorem("u", "Theorem u : foo."), RandomAgent())
        assert not res.proved and res.reason == "unusable" and res.messages


def test_sampling_counts_successes() -> None:
    with CoqBackend() as coq:
        res, successes = sample_proofs(coq, BUILTIN["add_comm_nat"], AutomationAgent(), attempts=4)
        assert res.proved and 1 <= successes <= 4


def test_pass_at_k() -> None:
    assert pass_at_k(5, 0, 1) == 0.0 and pass_at_k(5, 5, 3) == 1.0
    assert pass_at_k(10, 1, 1) == pytest.approx(0.1)
    assert pass_at_k(10, 2, 5) == pytest.approx(1 - (8 * 7 * 6 * 5 * 4) / (10 * 9 * 8 * 7 * 6))
    assert suite_pass_at_k([(4, 0), (4, 4)], 2) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_evaluate_writes_results_and_resumes(tmp_path: Path) -> None:
    theorems = [BUILTIN[n] for n in ("add_zero_r", "r_amgm_two", "and_swap")]
    theorems.append(Theorem("broken", "Theorem broken : forall x : R, x = x."))
    config = EvalConfig(budget=SearchConfig(max_expansions=2, candidates=ALL_AUTOMATION))
    summary = evaluate(theorems, AutomationAgent(), CoqBackend, config, tmp_path)
    records = load_results(tmp_path)
    assert [r["theorem"] for r in records] == [t.name for t in theorems]
    assert summary["usable"] == 3 and summary["unusable"] == 1
    assert summary["proved"] == sum(r["proved"] for r in records) >= 2
    assert summary["pass@1"] == pytest.approx(summary["proved"] / 3, abs=1e-4)
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    # a torn last line (a crash mid-write) is dropped and that theorem runs again
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    (tmp_path / "results.jsonl").write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:10])
    again = evaluate(theorems, AutomationAgent(), CoqBackend, config, tmp_path)
    assert again["theorems"] == 4 and again["proved"] == summary["proved"]


@pytest.mark.slow
@pytest.mark.timeout(1800)
@needs_minif2f
def test_automation_baseline_on_minif2f_valid(tmp_path: Path) -> None:
    """The calibration run: at least the 46 valid theorems a single `first [...]` proves."""
    if shutil.which("coqc") is None:
        pytest.skip("coqc not found")
    budget = SearchConfig(max_expansions=1, candidates=ALL_AUTOMATION, tactic_timeout=3.0)
    config = EvalConfig(budget=budget)
    summary = evaluate(load_minif2f_coq("valid"), AutomationAgent(), CoqBackend, config, tmp_path)
    print("automation baseline on MiniF2F-Coq valid:", json.dumps(summary))
    assert summary["proved"] >= 46
    for record in load_results(tmp_path):
        if record["proved"]:
            assert coqc_accepts(record["script"], tmp_path, record["theorem"])
