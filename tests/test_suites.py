"""Suite loaders: MiniF2F-rocq layout, Coq files, data-dir resolution, unusable statements."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import needs_minif2f

from prover_env import CoqBackend, DataNotFoundError, builtin_coq_theorems, check_suite
from prover_env.suites import load_coq_dir, load_minif2f_coq, parse_coq_source, resolve_suite_dir

# Measured on Coq 8.16.1 + Coquelicot 3.2 (Debian bookworm), identically with `coqc` on each file
# alone: these valid statements use complex numbers written for a newer Coquelicot.
UNUSABLE_ON_COQ_8_16 = {
    "algebra_2complexrootspoly_xsqp49eqxp7itxpn7i",
    "algebra_2rootsintpoly_am10tap11eqasqpam110",
    "algebra_2rootspoly_apatapbeq2asqp2ab",
    "algebra_3rootspoly_amdtamctambeqnasqmbpctapcbtdpasqmbpctapcbta",
    "algebra_manipexpr_2erprsqpesqeqnrpnesq",
    "amc12_2000_p15",
    "amc12a_2009_p15",
    "amc12a_2019_p21",
}


def test_parse_coq_source_headers_and_proved_lemmas() -> None:
    src = """Require Import Arith.
(* a comment. with periods. *)
Definition two := 2.
Lemma helper : two = 2. Proof. reflexivity. Qed.
Lemma skipped : 1 = 2. Proof. Admitted.
Theorem main : two + 0 = 2.
Proof.
Admitted."""
    helper, skipped, main = parse_coq_source(src, split="x", source="f.v")
    assert helper.header == "Require Import Arith.\nDefinition two := 2."
    assert skipped.name == "skipped" and "Lemma helper" in skipped.header
    assert main.name == "main" and main.statement == "Theorem main : two + 0 = 2."
    assert "Lemma helper" in main.header and "reflexivity." in main.header
    assert "skipped" not in main.header  # an unproved lemma would add an axiom
    assert main.split == "x" and main.source == "f.v"


def test_builtin_theorems() -> None:
    theorems = builtin_coq_theorems()
    assert len(theorems) >= 8 and len({t.name for t in theorems}) == len(theorems)
    assert all(t.language == "coq" and "Require Import" in t.header for t in theorems)


@needs_minif2f
def test_minif2f_valid_loads_244_statements() -> None:
    theorems = load_minif2f_coq("valid")
    assert len(theorems) == 244
    assert all(t.split == "valid" and Path(t.source or "").stem == t.name for t in theorems)
    assert all(not t.statement.rstrip().endswith(("Proof.", "Admitted.")) for t in theorems)


def test_data_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite = tmp_path / "minif2f-rocq" / "test"
    suite.mkdir(parents=True)
    (suite / "t1.v").write_text("Theorem t1 : True.\nProof.\nAdmitted.\n")
    # data_dir may be the suite root or the folder holding it
    assert load_minif2f_coq("test", tmp_path / "minif2f-rocq")[0].name == "t1"
    assert load_minif2f_coq("test", tmp_path)[0].split == "test"
    monkeypatch.setenv("PROVER_GYM_DATA", str(tmp_path))
    assert resolve_suite_dir("minif2f-rocq") == tmp_path / "minif2f-rocq"
    with pytest.raises(DataNotFoundError, match="splits present: test"):
        load_minif2f_coq("valid")
    monkeypatch.delenv("PROVER_GYM_DATA")
    with pytest.raises(DataNotFoundError, match="PROVER_GYM_DATA"):
        load_minif2f_coq("valid")
    with pytest.raises(DataNotFoundError):
        load_coq_dir(tmp_path / "nowhere", "valid")


@needs_minif2f
def test_unusable_statement_reported_not_crashing() -> None:
    theorems = [t for t in load_minif2f_coq("valid") if t.name in UNUSABLE_ON_COQ_8_16][:2]
    theorems += [t for t in load_minif2f_coq("valid") if t.name == "mathd_algebra_104"]
    with CoqBackend() as coq:
        report = check_suite(theorems, coq)
    assert report.usable == ["mathd_algebra_104"]
    assert set(report.unusable) <= UNUSABLE_ON_COQ_8_16 and len(report.unusable) == 2
    assert all("expected to have type" in m for m in report.unusable.values())


@pytest.mark.slow
@needs_minif2f
def test_whole_valid_split_elaborates_except_known_ones() -> None:
    with CoqBackend(max_processes=4) as coq:
        report = check_suite(load_minif2f_coq("valid"), coq)
    assert set(report.unusable) == UNUSABLE_ON_COQ_8_16
    assert len(report.usable) == 244 - len(UNUSABLE_ON_COQ_8_16)
