"""Lean 4 suites: the MiniF2F-Lean4 loader (flat and upstream layouts) and the Lean parser."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from prover_env.error import DataNotFoundError
from prover_env.lean.suites import (
    builtin_lean_theorems,
    lean_toolchain,
    load_lean_file,
    load_minif2f_lean,
    parse_lean_source,
)
from prover_env.types import Theorem


def _lean_data() -> Path | None:
    data = os.environ.get("PROVER_GYM_DATA")
    root = Path(data) / "minif2f-lean4" if data else None
    return root if root and (root / "valid").is_dir() else None


LEAN_DATA = _lean_data()
needs_lean_data = pytest.mark.skipif(
    LEAN_DATA is None,
    reason="MiniF2F-Lean4 not found: set PROVER_GYM_DATA to a folder holding minif2f-lean4/valid "
    "(tests/conftest.py uses ../shared/datasets when it exists)",
)

# Upstream's old single-file layout: a licence comment, a project import, statements over several
# lines, `:=` and `by` on different lines, `sorry` at column 0.
SINGLE_FILE = """/-
Copyright (c) 2021 OpenAI. All rights reserved.
! This file was ported from Lean 3 source module valid
-/
import MiniF2F.Minif2fImport
open BigOperators Real Nat Topology


theorem first_thm
  (b h : ℝ)
  (h₀ : b = 30 ∧ h = 2) :
  b * h = 60 := by sorry

theorem second_thm
  (a b : ℝ)
  (h₁ : a * b = 180) :
  a * b = 180 :=
  by sorry

theorem third_thm
  (f : ℕ → ℕ)
  (h₀ : ∀ n, f n = n) :
  f 4 = 4 := by
sorry
"""


# ---------------------------------------------------------------- the shared MiniF2F-Lean4 data


@needs_lean_data
def test_every_valid_statement_loads() -> None:
    assert LEAN_DATA is not None
    theorems = load_minif2f_lean("valid")
    files = sorted(p.stem for p in (LEAN_DATA / "valid").glob("*.lean"))
    assert len(theorems) == 244
    assert [t.name for t in theorems] == files
    for t in theorems:
        assert t.statement.startswith(f"theorem {t.name}"), t.name
        assert "sorry" not in t.statement, t.name
        assert not t.statement.rstrip().endswith(":="), t.name
        assert t.header.startswith("import Mathlib"), t.name
        assert "theorem" not in t.header, t.name
        assert t.language == "lean4" and t.split == "valid"
        assert t.source and Path(t.source).stem == t.name


@needs_lean_data
def test_statements_keep_their_lines_and_comments() -> None:
    by_name = {t.name: t for t in load_minif2f_lean("valid")}
    t = by_name["amc12b_2002_p3"]
    assert t.header == (
        "import Mathlib\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat"
    )
    lines = t.statement.splitlines()
    assert lines[0] == "theorem amc12b_2002_p3 (S : Finset ℕ)"
    assert lines[1].lstrip().startswith("-- note:")  # a comment inside the statement stays
    assert lines[-1] == "  S.card = 1"


@needs_lean_data
def test_reparsing_header_and_statement_gives_the_same_theorem() -> None:
    for t in load_minif2f_lean("valid"):
        again = parse_lean_source(f"{t.header}\n\n{t.statement} := by\n  sorry\n")
        assert [(a.name, a.statement, a.header) for a in again] == [
            (t.name, t.statement, t.header)
        ], t.name


@needs_lean_data
def test_data_dir_and_toolchain() -> None:
    assert LEAN_DATA is not None
    direct = load_minif2f_lean("VALID", data_dir=LEAN_DATA)  # the suite root itself
    parent = load_minif2f_lean("valid", data_dir=LEAN_DATA.parent)  # a folder holding it
    assert [t.name for t in direct] == [t.name for t in parent]
    assert {t.split for t in direct} == {"valid"}
    assert lean_toolchain(LEAN_DATA) == "leanprover/lean4:v4.24.0"


@needs_lean_data
def test_missing_split_lists_the_present_ones() -> None:
    assert LEAN_DATA is not None
    if (LEAN_DATA / "test").is_dir():
        pytest.skip("this copy has a test split")
    with pytest.raises(DataNotFoundError, match=r"no split 'test'.*splits present: valid"):
        load_minif2f_lean("test", data_dir=LEAN_DATA)


# ---------------------------------------------------------------- upstream repository layout


@needs_lean_data
def test_upstream_layout(tmp_path: Path) -> None:
    assert LEAN_DATA is not None
    files = sorted((LEAN_DATA / "valid").glob("*.lean"))
    for folder, chosen in (("Valid", files[:3]), ("Test", files[3:5])):
        (tmp_path / "MiniF2F" / folder).mkdir(parents=True)
        for f in chosen:
            shutil.copy(f, tmp_path / "MiniF2F" / folder / f.name)
    # upstream's MiniF2F/Valid.lean only imports the folder's files: the folder wins
    imports = "".join(f"import MiniF2F.Valid.{f.stem}\n" for f in files[:3])
    (tmp_path / "MiniF2F" / "Valid.lean").write_text(imports, encoding="utf-8")
    (tmp_path / "lean-toolchain").write_text("leanprover/lean4:v4.24.0\n", encoding="utf-8")

    flat = {t.name: t for t in load_minif2f_lean("valid")}
    valid = load_minif2f_lean("valid", data_dir=tmp_path)
    test = load_minif2f_lean("Test", data_dir=tmp_path)
    assert [t.name for t in valid] == [f.stem for f in files[:3]]
    assert [t.name for t in test] == [f.stem for f in files[3:5]]
    assert {t.split for t in test} == {"test"}
    for t in valid + test:
        assert (t.statement, t.header) == (flat[t.name].statement, flat[t.name].header)
        assert "MiniF2F" in (t.source or "")
    assert lean_toolchain(tmp_path) == "leanprover/lean4:v4.24.0"


def test_upstream_layout_without_the_shared_data(tmp_path: Path) -> None:
    for split, names in (("Valid", ["b_thm", "a_thm"]), ("Test", ["c_thm"])):
        folder = tmp_path / "MiniF2F" / split
        folder.mkdir(parents=True)
        for name in names:
            text = f"import Mathlib\n\nopen Real\n\ntheorem {name} (x : ℝ) : x = x := by sorry"
            (folder / f"{name}.lean").write_text(text, encoding="utf-8")
    valid = load_minif2f_lean("valid", data_dir=tmp_path)
    assert [t.name for t in valid] == ["a_thm", "b_thm"]  # sorted by file name
    assert valid[0].statement == "theorem a_thm (x : ℝ) : x = x"
    assert valid[0].header == "import Mathlib\n\nopen Real"
    assert [t.name for t in load_minif2f_lean("TEST", data_dir=tmp_path)] == ["c_thm"]
    with pytest.raises(DataNotFoundError, match=r"no split 'train'.*splits present: test, valid"):
        load_minif2f_lean("train", data_dir=tmp_path)


def test_upstream_single_file_layout(tmp_path: Path) -> None:
    (tmp_path / "MiniF2F").mkdir()
    (tmp_path / "MiniF2F" / "Test.lean").write_text(SINGLE_FILE, encoding="utf-8")
    theorems = load_minif2f_lean("test", data_dir=tmp_path)
    assert [t.name for t in theorems] == ["first_thm", "second_thm", "third_thm"]
    header = "import MiniF2F.Minif2fImport\nopen BigOperators Real Nat Topology"
    assert all(t.header == header for t in theorems)
    assert theorems[1].statement == (
        "theorem second_thm\n  (a b : ℝ)\n  (h₁ : a * b = 180) :\n  a * b = 180"
    )
    assert theorems[2].statement.endswith("f 4 = 4")
    with pytest.raises(DataNotFoundError, match="splits present: test"):
        load_minif2f_lean("valid", data_dir=tmp_path)


def test_load_lean_file(tmp_path: Path) -> None:
    path = tmp_path / "Mine.lean"
    path.write_text(SINGLE_FILE, encoding="utf-8")
    theorems = load_lean_file(path, split="mine")
    assert len(theorems) == 3
    assert {(t.split, t.source) for t in theorems} == {("mine", str(path))}


# ---------------------------------------------------------------- missing data


def test_missing_data_says_what_to_clone(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as exc:
        load_minif2f_lean("valid", data_dir=tmp_path / "nowhere")
    message = str(exc.value)
    assert "git clone https://github.com/yangky11/miniF2F-lean4" in message
    assert "PROVER_GYM_DATA" in message and "data_dir" in message


def test_missing_data_under_the_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVER_GYM_DATA", str(tmp_path))
    with pytest.raises(DataNotFoundError, match=r"minif2f-lean4.*git clone"):
        load_minif2f_lean("valid")
    monkeypatch.delenv("PROVER_GYM_DATA")
    with pytest.raises(DataNotFoundError, match=r"\$PROVER_GYM_DATA is not set"):
        load_minif2f_lean("valid")


def test_empty_split_folder_is_missing(tmp_path: Path) -> None:
    (tmp_path / "valid").mkdir()
    (tmp_path / "valid" / "README.md").write_text("no Lean here", encoding="utf-8")
    with pytest.raises(DataNotFoundError, match="no split 'valid'"):
        load_minif2f_lean("valid", data_dir=tmp_path)


def test_builtin_lean_theorems() -> None:
    theorems = builtin_lean_theorems()
    assert theorems and len({t.name for t in theorems}) == len(theorems)
    for t in theorems:
        assert t.statement.startswith(("theorem ", "lemma ")) and "sorry" not in t.statement
        assert (t.language, t.split) == ("lean4", "builtin")
        assert "import" not in t.header  # core Lean only


def test_lean_toolchain_missing_or_empty(tmp_path: Path) -> None:
    assert lean_toolchain(tmp_path) is None
    (tmp_path / "lean-toolchain").write_text("\n\n", encoding="utf-8")
    assert lean_toolchain(tmp_path) is None
    (tmp_path / "lean-toolchain").write_text("\n leanprover/lean4:v4.9.0 \n", encoding="utf-8")
    assert lean_toolchain(str(tmp_path)) == "leanprover/lean4:v4.9.0"


# ---------------------------------------------------------------- the parser


def _one(src: str) -> Theorem:
    found = parse_lean_source(src)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("src", "statement"),
    [
        ("theorem t : 1 + 1 = 2 := by sorry", "theorem t : 1 + 1 = 2"),
        ("theorem t : 1 + 1 = 2 := by\n  sorry\n", "theorem t : 1 + 1 = 2"),
        ("theorem t : 1 + 1 = 2 :=\n  by sorry", "theorem t : 1 + 1 = 2"),
        ("theorem t : 1 + 1 = 2 := by\nsorry", "theorem t : 1 + 1 = 2"),
        ("theorem t : 1 + 1 = 2 := rfl", "theorem t : 1 + 1 = 2"),
        ("theorem t : 1 + 1 = 2:=by norm_num", "theorem t : 1 + 1 = 2"),
        ("lemma t (n : ℕ) : n + 0 = n := by simp", "lemma t (n : ℕ) : n + 0 = n"),
        (
            "theorem t (f : ℕ → ℕ) (h : f = fun x => x) : f 1 = 1 := by simp [h]",
            "theorem t (f : ℕ → ℕ) (h : f = fun x => x) : f 1 = 1",
        ),
        (  # `:=` inside brackets: a default argument, a named argument, a structure instance
            "theorem t (n : ℕ := 3) (h : foo (x := n) = { a := 1 }) : True := trivial",
            "theorem t (n : ℕ := 3) (h : foo (x := n) = { a := 1 }) : True",
        ),
        (  # `let` and `have` in the statement own their `:=`
            "theorem t : let x := 1; have h : x = 1 := rfl; x + 1 = 2 := by\n  intro x h\n  rfl",
            "theorem t : let x := 1; have h : x = 1 := rfl; x + 1 = 2",
        ),
        (  # the proof's own `have ... :=` does not matter
            "theorem t (x : ℝ) : x = x := by\n  have h : x = x := rfl\n  exact h",
            "theorem t (x : ℝ) : x = x",
        ),
        (  # comments and strings that look like code
            'theorem t /- := by -/ (s : String := ":= by") -- :=\n  : s = s := by rfl',
            'theorem t /- := by -/ (s : String := ":= by") -- :=\n  : s = s',
        ),
        (  # a comment between the statement and `:=` is not part of the statement
            "theorem t : True -- the goal\n  /- more -/ := trivial",
            "theorem t : True",
        ),
        (  # a name in guillemets, a character literal, primes and subscripts
            "theorem «my theorem» (x₀ x' : Char) (h : x₀ = ':') : x' = x' := rfl",
            "theorem «my theorem» (x₀ x' : Char) (h : x₀ = ':') : x' = x'",
        ),
    ],
)
def test_statement_ends_before_the_proof(src: str, statement: str) -> None:
    t = _one(src)
    assert t.statement == statement
    assert t.language == "lean4"


def test_names() -> None:
    assert _one("theorem «my theorem» : True := trivial").name == "«my theorem»"
    assert _one("theorem Foo.bar' (n : ℕ) : n = n := rfl").name == "Foo.bar'"
    assert _one("theorem t₁: True := trivial").name == "t₁"
    assert _one("theorem u.{v} (α : Sort v) : α = α := rfl").name == "u"


def test_several_theorems_with_definitions_between() -> None:
    src = """/- Copyright: theorem fake : False := sorry
   /- nested: -/ still a comment -/
import Mathlib
set_option maxHeartbeats 400000
open Real

namespace Demo

/-- A docstring mentioning theorem and `:=`. -/
def double (n : ℕ) : ℕ := 2 * n -- a comment after a definition

theorem a_thm (n : ℕ) : double n = 2 * n := by
  sorry

@[simp] lemma b_lemma : double 0 = 0 := by simp [double]

noncomputable def root2 : ℝ := Real.sqrt 2

example : True := trivial

open Nat in
theorem c_thm : (3 : ℕ)! = 6 := by decide

private theorem d_thm : root2 ^ 2 = 2 := by
  sorry

end Demo
"""
    a, b, c, d = parse_lean_source(src, split="s", source="demo.lean")
    assert [t.name for t in (a, b, c, d)] == ["a_thm", "b_lemma", "c_thm", "d_thm"]
    base = (
        "import Mathlib\nset_option maxHeartbeats 400000\nopen Real\n\nnamespace Demo\n\n"
        "def double (n : ℕ) : ℕ := 2 * n"
    )
    assert a.header == base
    assert a.statement == "theorem a_thm (n : ℕ) : double n = 2 * n"
    assert b.header == base  # earlier theorems are not in a header; `@[simp]` is dropped
    assert b.statement == "lemma b_lemma : double 0 = 0"
    assert c.header == base + "\n\nnoncomputable def root2 : ℝ := Real.sqrt 2\n\nopen Nat"
    assert d.header == base + "\n\nnoncomputable def root2 : ℝ := Real.sqrt 2"  # no `open Nat`
    assert d.statement == "theorem d_thm : root2 ^ 2 = 2"
    for t in (a, b, c, d):
        assert "sorry" not in t.header and "example" not in t.header and "--" not in t.header
        assert (t.split, t.source, t.language) == ("s", "demo.lean", "lean4")


def test_tactic_commands_at_indentation_stay_in_the_proof() -> None:
    src = """import Mathlib

theorem a : (2 : ℝ) ≤ 3 := by
  open Real in
  set_option maxRecDepth 1000 in
  norm_num

def after : ℕ := 1

theorem b : after = 1 := rfl
"""
    a, b = parse_lean_source(src)
    assert a.statement == "theorem a : (2 : ℝ) ≤ 3"
    assert b.header == "import Mathlib\n\ndef after : ℕ := 1"


def test_nothing_to_parse() -> None:
    assert parse_lean_source("") == []
    assert parse_lean_source("import Mathlib\n-- theorem t : True := trivial\n") == []
    assert parse_lean_source("/- theorem t : True := trivial -/") == []
    assert parse_lean_source("def f : ℕ := 1\nexample : f = 1 := rfl\n") == []
    # defined by pattern matching: no `:=`, skipped
    assert parse_lean_source("theorem t : ∀ n : ℕ, n = n\n  | _ => rfl\n") == []
