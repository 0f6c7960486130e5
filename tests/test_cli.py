"""The prover-gym console script: help, demo, doctor, suite, play; and a light import."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from conftest import needs_minif2f

from prover_env.cli import build_parser, main


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "doctor", "play", "suite"):
        assert command in out
    assert main([]) == 0


def test_readme_commands_match_the_parser() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for command in commands:
        assert f"prover-gym {command}" in readme, f"README does not document {command}"


def test_demo_proves_builtin_theorems(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--env", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert "proved 3/3" in out and "kernel-checked" in out and "rejected" in out


def test_doctor_reports_working_coq(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    coq = next(r for r in reports if r["name"] == "coq")
    assert (coq["ok"] and "8.16" in (coq["coqc"] or "")) or coq["ok"]
    lean = next(r for r in reports if r["name"] == "lean4")
    assert "fix" in lean or lean["lake"]


@needs_minif2f
def test_suite_list_and_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suite", "minif2f-coq:valid"]) == 0
    assert "244 theorems" in capsys.readouterr().out


def test_suite_unknown_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suite", "no-such-suite"]) == 2
    assert "unknown suite" in capsys.readouterr().err


def test_play_interactive_session(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = "intros x y h1 h2.\nlia.\n:undo\nintros x y h1 h2.\n:proof\nlra.\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    assert main(["play", "r_linear_system"]) == 0
    out = capsys.readouterr().out
    assert "error:" in out and "Proved! reward 1" in out


def test_import_is_light() -> None:
    code = (
        "import sys, prover_env, agents, eval.runner, gymnasium as gym;"
        "heavy = [m for m in ('torch', 'ray', 'transformers') if m in sys.modules];"
        "assert not heavy, heavy;"
        "assert 'ProverEnv/Coq-v0' in gym.registry"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
