"""Synthetic theorem families: determinism, de-duplication up to renaming, a split that never
leaks, Coq renderings that elaborate in real Coq, Lean renderings our Lean parser reads back."""

from __future__ import annotations

import os
import random
import re
from collections import Counter
from fractions import Fraction

import pytest
from lean_support import needs_lean

from prover_env import CoqBackend, TheoremError
from prover_env.lean.suites import parse_lean_source
from training.expr import BinOp, Num, Rel, Statement, Var, render_coq
from training.synth import (
    FAMILIES,
    LEAN_HEADER,
    SynthTheorem,
    canonical_key,
    generate,
    split_of,
)


@pytest.fixture(scope="module")
def theorems() -> list[SynthTheorem]:
    return generate(2000, seed=0)


def test_deterministic_for_a_seed(theorems: list[SynthTheorem]) -> None:
    assert generate(2000, seed=0) == theorems
    other = generate(200, seed=1)
    assert [t.name for t in other] != [t.name for t in theorems[:200]]


def test_every_family_and_level_is_drawn(theorems: list[SynthTheorem]) -> None:
    drawn = Counter((t.family, t.level) for t in theorems)
    for family, (_, levels) in FAMILIES.items():
        for level in levels:
            assert drawn[(family, level)] > 0, (family, level)


def test_no_duplicates_up_to_renaming(theorems: list[SynthTheorem]) -> None:
    assert len({t.key for t in theorems}) == len(theorems)
    assert len({t.name for t in theorems}) == len(theorems)
    # the key forgets names and binder order, but not structure
    a = Statement(
        "R", ("p", "q"), (Rel("=", Var("q"), Num(Fraction(1))),), Rel("=", Var("p"), Var("q"))
    )
    b = Statement(
        "R", ("x", "y"), (Rel("=", Var("x"), Num(Fraction(1))),), Rel("=", Var("y"), Var("x"))
    )
    c = Statement(
        "R", ("x", "y"), (Rel("=", Var("x"), Num(Fraction(2))),), Rel("=", Var("y"), Var("x"))
    )
    assert canonical_key(a) == canonical_key(b) != canonical_key(c)
    assert render_coq(a, "t") != render_coq(b, "t")


def test_split_never_leaks(theorems: list[SynthTheorem]) -> None:
    train = {t.key for t in theorems if t.split == "train"}
    heldout = {t.key for t in theorems if t.split == "heldout"}
    assert train and heldout and not train & heldout
    assert 0.05 < len(heldout) / len(theorems) < 0.15
    # the split is a function of the canonical form alone: another seed agrees on shared keys
    for t in generate(1500, seed=7):
        assert t.split == split_of(t.key, 0.1)
    assert all(t.split == split_of(t.key, 0.1) for t in theorems)


def test_surface_names_vary_but_not_the_key(theorems: list[SynthTheorem]) -> None:
    lin = [t for t in theorems if t.family == "linear_eq" and t.level == 1]
    assert len({re.search(r"forall (\w+)", t.coq).group(1) for t in lin}) > 3  # type: ignore[union-attr]
    assert all("forall x0 " in t.key for t in lin)


def test_bad_requests_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="unknown families"):
        generate(5, families=["nope"])
    with pytest.raises(ValueError, match="distinct"):
        generate(500, families=["induction"], levels=[1])


def test_every_coq_rendering_elaborates(theorems: list[SynthTheorem]) -> None:
    """A sample of every (family, level), started in real Coq: none is refused."""
    rng = random.Random(0)
    by_kind: dict[tuple[str, int], list[SynthTheorem]] = {}
    for t in theorems:
        by_kind.setdefault((t.family, t.level), []).append(t)
    sample = [t for group in by_kind.values() for t in rng.sample(group, min(8, len(group)))]
    failures = []
    with CoqBackend(timeout=10.0) as coq:
        for t in sample:
            try:
                state = coq.start(t.coq_theorem())
            except TheoremError as e:
                failures.append((t.coq, e.message))
                continue
            assert state.num_goals == 1
    assert not failures, failures[:3]
    assert len(sample) > 150


def test_a_wrong_rendering_would_be_caught() -> None:
    """The elaboration check can fail: a statement with a Lean-only symbol is refused by Coq."""
    with CoqBackend(timeout=10.0) as coq, pytest.raises(TheoremError):
        coq.start(
            SynthTheorem("bad", "f", 1, "k", "train", "Theorem bad : 1 ≤ 2.", "").coq_theorem()
        )


def test_lean_renderings_parse_back(theorems: list[SynthTheorem]) -> None:
    """Our Lean 4 reader finds every rendered theorem, with its exact statement."""
    sample = theorems[:300]
    source = LEAN_HEADER + "\n".join(f"{t.lean} := by\n  sorry\n" for t in sample)
    parsed = parse_lean_source(source)
    assert [p.name for p in parsed] == [t.name for t in sample]
    assert [p.statement.strip() for p in parsed] == [t.lean.strip() for t in sample]
    for t in sample:  # no Coq syntax leaks into the Lean rendering
        assert not re.search(r"%[RZ]|Rabs|Z\.abs|/\\|\\/|->|\bmod\b|sum_upto|forall", t.lean), (
            t.lean
        )
        assert t.lean.count("(") == t.lean.count(")")


@needs_lean
@pytest.mark.lean
def test_lean_renderings_elaborate_with_mathlib() -> None:
    """Where a Lean toolchain and a Mathlib project exist: every sampled rendering elaborates."""
    project = os.environ.get("PROVER_GYM_LEAN_PROJECT")
    if not project:
        pytest.skip("set PROVER_GYM_LEAN_PROJECT to a Mathlib project with the REPL")
    from prover_env.lean.backend import LeanReplBackend

    sample = generate(120, seed=3)
    with LeanReplBackend(project=project, timeout=60) as lean:
        for t in sample:
            state = lean.start(t.lean_theorem())
            assert state.num_goals >= 1, t.lean


def test_rendering_precedence() -> None:
    """Parentheses only where precedence needs them, in both languages."""
    x, y = Var("x"), Var("y")
    s = Statement(
        "Z",
        ("x", "y"),
        (),
        Rel("=", BinOp("-", x, BinOp("-", y, Num(Fraction(1)))), BinOp("*", BinOp("+", x, y), y)),
    )
    assert render_coq(s, "t") == "Theorem t : (forall x y : Z, x - (y - 1) = (x + y) * y)%Z."
