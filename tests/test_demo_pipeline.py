"""The README's main command, on a tiny budget: synth -> SFT -> RL -> eval writes every artifact;
and `prover-gym train --algo ppo` runs RLlib PPO and resumes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("ray")

from prover_env.cli import main


def test_demo_pipeline_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--n", "20", "--sft-steps", "4", "--rl-iterations", "1",
            "--heldout", "3", "--eval-attempts", "2"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["synth"]["theorems"] == 20 and summary["synth"]["proved"] == 20
    assert summary["sft"]["steps"] == 4 and len(summary["rl"]["reward_by_iteration"]) == 1
    lines = (out / "data" / "theorems.jsonl").read_text().splitlines()
    heldout = min(3, sum(json.loads(line)["split"] == "heldout" for line in lines))
    assert heldout >= 1
    for key in ("eval_sft", "eval_rl"):
        assert summary[key]["theorems"] == heldout and 0.0 <= summary[key]["pass@1"] <= 1.0
    for plot in ("sft/loss.png", "rl/training.png", "eval-rl/pass_vs_budget.png"):
        assert (out / plot).stat().st_size > 1000, plot
    assert (out / "eval-rl" / "report.md").is_file()
    assert "done in" in capsys.readouterr().out


@pytest.mark.slow
def test_train_ppo_cli_resumes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert main(["synth", "--n", "12", "--workers", "1", "--out", str(data), "--no-progress"]) == 0
    out = tmp_path / "ppo"
    base = ["train", "--algo", "ppo", "--suite", f"synth:{data}", "--workers", "1",
            "--out", str(out), "--no-progress"]  # fmt: skip
    assert main([*base, "--iterations", "1"]) == 0
    assert main([*base, "--iterations", "2"]) == 0
    with (out / "metrics.csv").open() as f:
        assert [int(r["iteration"]) for r in csv.DictReader(f)] == [1, 2]
    assert (out / "final" / "config.json").is_file() and (out / "training.png").is_file()
