"""Evaluation on a real local Ray cluster: results, worker death, resume, report, CLI."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

pytest.importorskip("ray")

from agents import SearchConfig
from eval.ray_runner import RayEvaluator
from eval.report import pass_rate_by_budget, write_report
from eval.runner import EvalConfig, load_results
from prover_env import builtin_coq_theorems
from prover_env.cli import main

CONFIG = EvalConfig(budget=SearchConfig(max_expansions=2, candidates=17, tactic_timeout=3.0))


def test_killing_a_worker_loses_no_result_and_the_run_completes(tmp_path: Path) -> None:
    theorems = builtin_coq_theorems()
    killed: list[int] = []

    def kill_one_worker(record: dict, evaluator: RayEvaluator) -> None:  # type: ignore[type-arg]
        if not killed:
            pid = evaluator.worker_pids()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    with RayEvaluator("automation", CONFIG, workers=2) as evaluator:
        summary = evaluator.run(theorems, tmp_path, on_record=kill_one_worker, progress=False)
        assert evaluator.replaced >= 1 and killed
    records = load_results(tmp_path)
    assert sorted(r["theorem"] for r in records) == sorted(t.name for t in theorems)
    assert summary["theorems"] == len(theorems) and summary["proved"] >= 6
    assert all(r["script"].endswith("Qed.") for r in records if r["proved"])


def test_report_and_plot(tmp_path: Path) -> None:
    with RayEvaluator("automation", CONFIG, workers=2) as evaluator:
        evaluator.run(builtin_coq_theorems()[:3], tmp_path, progress=False)
    path = write_report(tmp_path)
    text = path.read_text()
    assert "pass_vs_budget.png" in text and "## Proved" in text
    assert (tmp_path / "pass_vs_budget.png").stat().st_size > 1000
    assert (tmp_path / "results.csv").read_text().count("\n") == 4
    points = pass_rate_by_budget(load_results(tmp_path))
    assert points and points[-1][1] == pytest.approx(1.0)


def test_cli_eval_sequential_then_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["eval", "--limit", "3", "--max-expansions", "2", "--out", str(out)]) == 0
    first = json.loads((out / "summary.json").read_text())
    assert first["theorems"] == 3 and first["proved"] >= 2 and (out / "report.md").exists()
    assert main(["eval", "--limit", "3", "--out", str(out), "--report", "none"]) == 0
    assert len(load_results(out)) == 3  # nothing ran twice
