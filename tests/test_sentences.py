"""The sentence splitter and the action guard, without a prover."""

from __future__ import annotations

import pytest

from prover_env.coq.sentences import GuardError, check_tactic, split_sentences


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("intros. lra.", ("intros.", "lra.")),
        ("lra", ("lra.",)),
        ("- lra.", ("-", "lra.")),
        ("split. - lra. + lra.", ("split.", "-", "lra.", "+", "lra.")),
        ("{ lra. }", ("{", "lra.", "}")),
        ("2: { lra. }", ("2: {", "lra.", "}")),
        ("all: lra.", ("all: lra.",)),
        ('idtac "a. Qed.". lra.', ('idtac "a. Qed.".', "lra.")),
        ("(* x. Qed. *) lra.", ("lra.",)),
        ("(* nested (* . *) *) lra.", ("lra.",)),
        ("assert (H : 0 <= x * x) by nra.", ("assert (H : 0 <= x * x) by nra.",)),
        ("destruct (Rlt_dec x y) as [H|H]; lra.", ("destruct (Rlt_dec x y) as [H|H]; lra.",)),
        ("exact x.(f).", ("exact x.(f).",)),
        ("*** lra.", ("***", "lra.")),
        ("Z.div_mod_to_equations. lia.", ("Z.div_mod_to_equations.", "lia.")),
        ("- N.foo_bar; lia.", ("-", "N.foo_bar; lia.")),
    ],
)
def test_accepted_actions_split_like_coq(action: str, expected: tuple[str, ...]) -> None:
    assert check_tactic(action) == expected


@pytest.mark.parametrize(
    "action",
    [
        "Qed.",
        "exact I. Qed.",
        "lra. Qed. Axiom x : False.",
        "Admitted.",
        "Abort All.",
        "admit.",
        "try admit.",
        "first [give_up | lra].",
        "Timeout 0 lra.",
        "#[local] Axiom f : False.",
        "- Admitted.",
        "all: Admitted.",
        "(*",
        'idtac "x',
        "lra.\x00",
        "",
        "   ",
        "(* only a comment *)",
        "x" * 20000,
        "Axiom.a : False.",
        "Set.x.",
        "Z.Foo.",
        "Z.x.Y.",
        "Zfoo.bar.",
        "Nat.",
    ],
)
def test_guard_rejects(action: str) -> None:
    with pytest.raises(GuardError):
        check_tactic(action, max_chars=16384)


def test_guard_message_names_the_problem() -> None:
    with pytest.raises(GuardError, match="vernacular"):
        check_tactic("Require Import Classical.")
    with pytest.raises(GuardError, match="forbidden tactic admit"):
        check_tactic("solve [admit].")
    with pytest.raises(GuardError, match="unterminated comment"):
        check_tactic("lra. (* oops")


def test_split_sentences_keeps_vernacular_and_strings() -> None:
    text = 'Require Import Reals.\nOpen Scope R_scope.\nTheorem t : "a. b" = "a. b".\nProof.'
    assert split_sentences(text) == [
        "Require Import Reals.",
        "Open Scope R_scope.",
        'Theorem t : "a. b" = "a. b".',
        "Proof.",
    ]
