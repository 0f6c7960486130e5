"""LeanDojo Benchmark 4 importer: the real fixture record, bad files, skips, the CLI."""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from prover_env.commands.data import add_import_parser, run_import
from training.dataset import read_steps, read_theorems
from training.leandojo import import_leandojo, tactic_head

REPO = Path(__file__).resolve().parents[1]


def fixtures_dir() -> Path:
    """The shared fixtures folder: ``$PROVER_GYM_FIXTURES``, else ``<repo>/../shared/fixtures``."""
    return Path(os.environ.get("PROVER_GYM_FIXTURES", REPO.parent / "shared" / "fixtures"))


BENCHMARK = fixtures_dir() / "leandojo-benchmark" / "test.json"

needs_fixture = pytest.mark.skipif(
    not BENCHMARK.is_file(),
    reason=f"LeanDojo fixture not found at {BENCHMARK}: set PROVER_GYM_FIXTURES",
)


def fixture_records() -> list[dict[str, Any]]:
    return json.loads(BENCHMARK.read_text(encoding="utf-8"))


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@needs_fixture
def test_fixture_imports_to_valid_dataset(tmp_path: Path) -> None:
    raw = fixture_records()[0]
    counts = import_leandojo(BENCHMARK, tmp_path / "out")
    assert counts == {
        "records": 1,
        "theorems": 1,
        "steps": 2,
        "skipped_no_tactics": 0,
        "skipped_duplicates": 0,
    }
    steps = list(read_steps(tmp_path / "out"))
    assert [s.step for s in steps] == [0, 1]
    assert {(s.theorem, s.kind, s.language, s.source, s.split) for s in steps} == {
        ("Complex.lim_im", "step", "lean4", "leandojo", "test")
    }
    traced = raw["traced_tactics"]
    assert [s.tactic for s in steps] == ["rw [lim_eq_lim_im_add_lim_re]", "simp [ofReal']"]
    assert steps[0].state_before == traced[0]["state_before"]
    assert steps[0].state_after == traced[0]["state_after"] == steps[1].state_before
    assert traced[1]["state_after"] == "no goals" and steps[1].state_after == ""
    assert all(s.difficulty == 2.0 for s in steps)

    (theorem,) = read_theorems(tmp_path / "out")
    assert theorem.name == "Complex.lim_im" and theorem.split == "test"
    assert theorem.proved and theorem.reason == "traced"
    assert theorem.proof == ("rw [lim_eq_lim_im_add_lim_re]", "simp [ofReal']")
    assert theorem.labels == {
        "steps": 2,
        "tactics": ["rw", "simp"],
        "file_path": "Mathlib/Data/Complex/Abs.lean",
        "url": "https://github.com/leanprover-community/mathlib4",
        "commit": "fe4454af900584467d21f4fd4fe951d29d9332a7",
    }
    assert theorem.difficulty == 2.0 and theorem.lean is None and theorem.coq is None

    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["source"] == "leandojo" and manifest["split"] == "test"
    assert manifest["counts"] == counts


@needs_fixture
def test_split_override_and_skips(tmp_path: Path) -> None:
    good = fixture_records()[0]
    empty = {**copy.deepcopy(good), "full_name": "Empty.thm", "traced_tactics": []}
    longer = copy.deepcopy(good)
    longer["full_name"] = "Longer.thm"
    longer["traced_tactics"].insert(0, {**good["traced_tactics"][0], "tactic": "· skip"})
    dup = copy.deepcopy(good)
    path = write(tmp_path / "val.json", [good, empty, longer, dup])
    counts = import_leandojo(path, tmp_path / "out", split="valid")
    assert counts == {
        "records": 4,
        "theorems": 2,
        "steps": 5,
        "skipped_no_tactics": 1,
        "skipped_duplicates": 1,
    }
    theorems = {t.name: t for t in read_theorems(tmp_path / "out")}
    assert set(theorems) == {"Complex.lim_im", "Longer.thm"}
    assert theorems["Longer.thm"].difficulty > theorems["Complex.lim_im"].difficulty
    assert theorems["Longer.thm"].labels["tactics"] == ["skip", "rw", "simp"]
    steps = list(read_steps(tmp_path / "out"))
    assert {s.split for s in steps} == {"valid"}
    assert "Empty.thm" not in {s.theorem for s in steps}
    assert [s.step for s in steps if s.theorem == "Longer.thm"] == [0, 1, 2]


@needs_fixture
@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda r: r.pop("full_name"), r"record 1: missing key\(s\) \['full_name'\]"),
        (lambda r: r.pop("traced_tactics"), r"record 1: missing key\(s\) \['traced_tactics'\]"),
        (lambda r: r.update(traced_tactics="rw"), r"record 1 .*'traced_tactics' must be a list"),
        (
            lambda r: r["traced_tactics"][1].pop("state_after"),
            r"record 1 \(Complex.lim_im\), traced_tactics\[1\]: missing key\(s\) \['state_after'\]",
        ),
        (lambda r: r["traced_tactics"][0].update(tactic=3), r"traced_tactics\[0\]: \['tactic'\]"),
        (lambda r: r.update(commit=None), r"record 1: 'commit' must be a non-empty string"),
    ],
)
def test_bad_records_name_file_and_index(tmp_path: Path, mutate: Any, match: str) -> None:
    good = fixture_records()[0]
    bad = copy.deepcopy(good)
    mutate(bad)
    path = write(tmp_path / "bad.json", [good, bad])
    with pytest.raises(ValueError, match=match) as e:
        import_leandojo(path, tmp_path / "out")
    assert str(path) in str(e.value)
    assert not (tmp_path / "out" / "steps.jsonl").exists()  # nothing written on a bad file


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected a JSON list of theorems"):
        import_leandojo(write(tmp_path / "a.json", {"theorems": []}), tmp_path / "out")
    with pytest.raises(ValueError, match=r"record 0: expected a JSON object"):
        import_leandojo(write(tmp_path / "b.json", [["x"]]), tmp_path / "out")
    (tmp_path / "c.json").write_text("[{", encoding="utf-8")
    with pytest.raises(ValueError, match=r"c.json: not valid JSON \(line 1"):
        import_leandojo(tmp_path / "c.json", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="no such file"):
        import_leandojo(tmp_path / "missing.json", tmp_path / "out")
    with pytest.raises(ValueError, match="split must be a non-empty name"):
        import_leandojo(write(tmp_path / "d.json", []), tmp_path / "out", split=" ")


@pytest.mark.parametrize(
    ("tactic", "head"),
    [
        ("rw [h] at h2", "rw"),
        ("· simp [foo]", "simp"),
        ("  nlinarith [sq_nonneg (a - b)]", "nlinarith"),
        ("exact?", "exact?"),
        ("simp_all", "simp_all"),
        ("constructor <;> simp", "constructor"),
        ("⟨1, rfl⟩", "⟨1,"),
    ],
)
def test_tactic_head(tactic: str, head: str) -> None:
    assert tactic_head(tactic) == head


def test_large_file_is_linear(tmp_path: Path) -> None:
    n = 20_000
    step = {"tactic": "simp", "state_before": "⊢ True", "state_after": "no goals"}
    record = {"url": "u", "commit": "c", "file_path": "F.lean", "traced_tactics": [step]}
    path = write(tmp_path / "train.json", [{**record, "full_name": f"t{i}"} for i in range(n)])
    started = time.perf_counter()
    counts = import_leandojo(path, tmp_path / "out")
    assert time.perf_counter() - started < 10.0
    assert counts["theorems"] == counts["steps"] == n
    assert sum(1 for _ in read_steps(tmp_path / "out")) == n


@needs_fixture
def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="prover-gym")
    add_import_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["import-leandojo", str(BENCHMARK), "--out", str(tmp_path / "o"), "--split", "x"]
    )
    assert run_import(args) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 2
    assert {s.split for s in read_steps(tmp_path / "o")} == {"x"}

    args = parser.parse_args(["import-leandojo", str(tmp_path / "nope.json"), "--out", "o"])
    assert run_import(args) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["import-leandojo", str(BENCHMARK)])  # --out is required
