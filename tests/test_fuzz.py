"""Property-based fuzzing of the action channel (Hypothesis): an RL agent is an adversary of its
reward, so its actions are drawn from random text, structured tactic soup (tactic names, the
``.``/``..``/``...`` terminators, bullets, braces, goal selectors, nested and unterminated
comments, strings with ``""``, Unicode with RTL overrides, zero-width and combining characters,
control bytes, lone surrogates), very long inputs, and mutated cases of the hostile batteries.

Invariants, on each backend:

* the guards are total: any text is refused with their own error or split into what is sent,
  and what they send is stable (``verify`` re-splits a recorded proof the same way);
* a hostile battery case stays refused wherever it is put and however it is spaced;
* on the real Coq env: ``step`` never raises for a ``str`` action (bad input is an
  ``info["error"]``), never returns reward unless ``info["verdict"]["ok"]`` and ``coqc``
  re-checks the proof on its own, returns within the time limit plus a slack, leaves the state
  unchanged on an error; afterwards the env resets and a known proof earns reward 1, and no
  ``coqidetop`` outlives ``env.close()``;
* the same on the Lean REPL backend over the replay of real transcripts (no Lean here).

Profiles (tests/conftest.py): ``ci`` by default (a few derandomized examples per property, the
file runs in well under a minute); ``pytest --long`` or ``PROVER_GYM_FUZZ=long`` for the
nightly one (hundreds of random examples per property).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from conftest import FUZZ, LINEAR, coqidetop_pids
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from lean_support import needs_transcripts, replay_command
from test_hostile import COQ, LEAN, action

from prover_env import ProverEnv, Theorem
from prover_env.coq.backend import REALS_AXIOMS, parse_assumptions
from prover_env.coq.sentences import FORBIDDEN_TACTICS, GuardError, check_tactic
from prover_env.lean.backend import LeanReplBackend
from prover_env.lean.guard import LeanGuardError, check_lean_tactic

TIMEOUT = 1.0
SLACK = 8.0  # past the limit: the interrupt grace, a restart that reloads the header, load
VERIFY_SLACK = 30.0  # a step that finishes the proof also re-checks it

# -- strategies -----------------------------------------------------------------------------

WEIRD = [
    "\x00", "\x07", "\x0b", "\x1b", "\x7f", "\x85", "\xa0", "\u0301", "\u200b", "\u200d",
    "\u202e", "\u2066", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\ud800", "\udfff",
    "é", "ℝ", "λ", "∀", "→", "⊢", "Ａ", "а", "«", "»", "😀", "\U0010ffff",
]  # fmt: skip
COQ_WORDS = [
    "intros", "intro", "lra", "nra", "lia", "auto", "idtac", "exact", "apply", "split",
    "reflexivity", "trivial", "assumption", "simpl", "ring", "field", "admit", "give_up",
    "exact_no_check", "change_no_check", "fix", "cofix", "abstract", "repeat", "do", "try",
    "first", "solve", "now", "exfalso", "destruct", "fail", "shelve", "unshelve", "ltac",
    "constr", "Qed", "Admitted", "Abort", "Axiom", "Require", "Set", "Unset", "Ltac",
    "Timeout", "Fail", "Drop", "Reset", "Back", "Proof", "Z.div_mod_to_equations", "Nat.Axiom",
    "x", "y", "h1", "h2", "I", "False_ind", "_", "0", "2", "1000",
]  # fmt: skip
COQ_PUNCT = [
    ".", "..", "...", ". ", ";", "|", "[", "]", "(", ")", "{", "}", "-", "+", "*", "--",
    "1:", "all:", "[x]:", "2-3:", "!:", "par:", ",", ":=", "=>", "<-", "->", "%R", ":",
    "(*", "*)", "(* c *)", "(* (* . *) *)", '"', '""', '"a. Qed."', " ", " ", "\n", "\t",
    "\r\n", "#[", "]",
]  # fmt: skip
LEAN_WORDS = [
    "intro", "simp", "exact", "apply", "rfl", "omega", "decide", "norm_num", "linarith",
    "nlinarith", "constructor", "cases", "induction", "have", "show", "calc", "by", "fun",
    "sorry", "admit", "stop", "native_decide", "set_option", "axiom", "theorem", "def",
    "unsafe", "run_tac", "macro", "notation", "local", "instance", "lcProof",
    "Lean.ofReduceBool", "debug.skipKernelTC", "true", "h1", "h2", "h1.left", "And.intro",
    "p", "q", "x", "0", "_", "?_",
]  # fmt: skip
LEAN_PUNCT = [
    "\n", "\n  ", " ", ";", "<;>", "·", "|", "=>", ":=", ":", "(", ")", "[", "]", "⟨", "⟩",
    "--", "/-", "-/", "/- c -/", '"', "'", "#", "#exit", "#eval", "@[", "+native", ",",
]  # fmt: skip


def soup(words: list[str], punct: list[str]) -> st.SearchStrategy[str]:
    """Text made of a language's words, punctuation and odd characters."""
    token = st.one_of(
        st.sampled_from(words),
        st.sampled_from(punct),
        st.sampled_from(punct),
        st.sampled_from(WEIRD),
    )
    return st.lists(token, max_size=24).flatmap(
        lambda parts: st.sampled_from(["", " "]).map(lambda sep: sep.join(parts))
    )


any_char = st.one_of(st.characters(exclude_categories=()), st.sampled_from(WEIRD))
random_text = st.text(any_char, max_size=120)
huge = st.builds(
    lambda piece, n: piece * n,
    st.sampled_from(["x", "lra. ", "(", "(* ", '"', "\u200b", "simp\n", ". "]),
    st.integers(1000, 30_000),
)
SPACERS = [" ", "  ", "\n", "\t", " (* c *) ", "\n\n  "]


def respaced(text: str, spacers: list[str]) -> st.SearchStrategy[str]:
    """``text`` with each space replaced by one of ``spacers`` (the tokens stay the same)."""
    pieces = text.split(" ")
    return st.lists(
        st.sampled_from(spacers), min_size=len(pieces) - 1, max_size=len(pieces) - 1
    ).map(lambda seps: pieces[0] + "".join(s + p for s, p in zip(seps, pieces[1:], strict=True)))


def mutated(cases: list[dict[str, Any]]) -> st.SearchStrategy[str]:
    """Battery cases, cut, doubled, spliced or respaced."""
    texts = [action(c)[:2000] for c in cases]
    pick = st.sampled_from(texts)
    return st.one_of(
        pick,
        st.tuples(pick, st.integers(0, 60)).map(lambda t: t[0][: t[1]]),
        st.tuples(pick, pick).map(lambda t: t[0] + t[1]),
        st.tuples(pick, pick, st.integers(0, 40)).map(lambda t: t[0][: t[2]] + t[1]),
        pick.flatmap(lambda t: respaced(t, SPACERS)),
    )


coq_actions = st.one_of(
    random_text, soup(COQ_WORDS, COQ_PUNCT), soup(COQ_WORDS, COQ_PUNCT), mutated(COQ), huge
)
lean_actions = st.one_of(
    random_text, soup(LEAN_WORDS, LEAN_PUNCT), soup(LEAN_WORDS, LEAN_PUNCT), mutated(LEAN), huge
)

# -- the Coq guard --------------------------------------------------------------------------

_NOT_SENDABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_']*")
_STRING = re.compile(r'"(?:[^"]|"")*"')


def _strip_strings(sentence: str) -> str:
    return _STRING.sub(" ", sentence)


@settings(max_examples=FUZZ.examples(400, 20_000))
@given(coq_actions)
# what the fuzzing found once (guard gaps since fixed), run in every profile
@example("lra..")
@example("lra....")
@example("lra.(*)*)")
@example("idtac... Admitted.")
@example("idtac \ud800.")
@example('idtac "\uffff".')
@example("all:=")
def test_coq_guard_is_total_and_stable(text: str) -> None:
    try:
        sentences = check_tactic(text, max_chars=4096)
    except GuardError as e:
        assert str(e)
        return
    assert sentences and len(text) <= 4096
    assert check_tactic("\n".join(sentences), max_chars=1 << 24) == sentences, "unstable"
    for sentence in sentences:
        assert sentence == sentence.strip() and not _NOT_SENDABLE.search(sentence)
        assert "(*" not in _strip_strings(sentence), "a comment is sent"
        assert check_tactic(sentence) == (sentence,), "not one sentence"
        words = set(_IDENT.findall(_strip_strings(sentence)))
        assert not words & FORBIDDEN_TACTICS, sentence
        if sentence in ("{", "}") or set(sentence) <= set("-+*"):
            continue
        # what Coq reads first is a lower-case tactic name, "_", "(", or a selector
        head = re.sub(r"^(?:(?:all|par|!|\[\s*\w+\s*\]|[\d\s,-]+)\s*:(?!=)\s*)*", "", sentence)
        assert head, sentence
        assert (
            head == "{"
            or head[0] in "_("
            or (head[0].isascii() and head[0].islower())
            or (re.match(r"(?:Z|N|Nat|Pos|Q|PeanoNat\.Nat)\.[a-z_]", head))
        ), sentence


def _refused(text: str) -> bool:
    try:
        check_tactic(text, max_chars=4096)
    except GuardError:
        return True
    return False


# Rejected cases refused for what they are, whatever surrounds them (not for being empty,
# unfinished or too long, which a context can change).
HOSTILE_COQ = [
    action(c)
    for c in COQ
    if c["expect"] == "rejected"
    and len(action(c)) < 3000
    and all(_refused(f"{p}{action(c)}{s}") for p in ("idtac. ", "") for s in (" idtac.", ""))
]


def test_enough_coq_cases_are_refused_in_any_context() -> None:
    assert len(HOSTILE_COQ) >= 150


@settings(max_examples=FUZZ.examples(300, 20_000))
@given(
    st.sampled_from(HOSTILE_COQ).flatmap(lambda t: respaced(t, SPACERS)),
    st.sampled_from(["", "idtac. ", "intros x. ", "- ", "all: ", "(* x. *) ", "\n", "{ "]),
    st.sampled_from(["", " idtac.", "\n", " (* . *)", " }", " lra."]),
)
@example("par: Admitted.", "all: ", "")
def test_coq_hostile_cases_stay_refused_anywhere(hostile: str, before: str, after: str) -> None:
    assert _refused(before + hostile + after)


# -- the Lean guard -------------------------------------------------------------------------

_LEAN_FORBIDDEN = re.compile(
    r"(?<![\w'])(?:sorry|sorryAx|admit|stop|set_option|axiom|unsafe|implemented_by|extern|"
    r"run_tac|run_cmd|native_decide|ofReduceBool|lcProof|theorem|def|macro|elab|notation|"
    r"instance|local)(?![\w'])"
)


@settings(max_examples=FUZZ.examples(400, 20_000))
@given(lean_actions)
@example("  \n\t simp")  # found once: not stable (fixed)
@example("0--#A")
def test_lean_guard_is_total_and_stable(text: str) -> None:
    try:
        sent = check_lean_tactic(text, max_chars=4096)
    except LeanGuardError as e:
        assert str(e)
        return
    assert sent.strip() and len(text) <= 4096
    assert check_lean_tactic(sent) == sent, "unstable"
    assert "«" not in sent and "»" not in sent
    assert not [
        c
        for c in sent
        if c not in "\n\t" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")
    ], repr(sent)
    # Outside comments (everywhere when there is a string): no forbidden word, no #command,
    # no attribute.
    code = sent if '"' in sent else _lean_code(sent)
    assert not _LEAN_FORBIDDEN.search(code), sent
    assert "@[" not in code and not re.search(r"#[A-Za-z_]", code), sent


def _lean_code(text: str) -> str:
    """``text`` without Lean comments (``--`` lines, nested ``/- -/`` blocks)."""
    out, depth, i = [], 0, 0
    while i < len(text):
        if text.startswith("/-", i):
            depth, i = depth + 1, i + 2
        elif depth and text.startswith("-/", i):
            depth, i = depth - 1, i + 2
        elif not depth and text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end == -1 else end
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


def _lean_refused(text: str) -> bool:
    try:
        check_lean_tactic(text)
    except LeanGuardError:
        return True
    return False


HOSTILE_LEAN = [
    action(c)
    for c in LEAN
    if c["expect"] == "rejected"
    and len(action(c)) < 3000
    and all(_lean_refused(f"{p}{action(c)}{s}") for p in ("simp\n", "") for s in ("\nsimp", ""))
]


def test_enough_lean_cases_are_refused_in_any_context() -> None:
    assert len(HOSTILE_LEAN) >= 120


@settings(max_examples=FUZZ.examples(300, 20_000))
@given(
    st.sampled_from(HOSTILE_LEAN).flatmap(lambda t: respaced(t, [" ", "  ", "\t", " /- c -/ "])),
    st.sampled_from(["", "simp\n", "intro x\n", "  ", "· ", "first | rfl | ", "all_goals "]),
    st.sampled_from(["", "\nsimp", "\n", " -- c", " <;> simp"]),
)
def test_lean_hostile_cases_stay_refused_anywhere(hostile: str, before: str, after: str) -> None:
    assert _lean_refused(before + hostile + after)


# -- the real Coq env -----------------------------------------------------------------------

NAT = Theorem("add0", "Theorem add0 : forall n : nat, n + 0 = n.")
PROOFS = {LINEAR.name: ["intros x y h1 h2.", "lra."], NAT.name: ["intros n.", "lia."]}
SETUPS = {LINEAR.name: "intros x y h1 h2.", NAT.name: "intros n."}
ALLOWED = {name.rsplit(".", 1)[-1] for name in REALS_AXIOMS}
_rechecked: dict[tuple[str, ...], bool] = {}


def coqc_accepts(theorem: Theorem, proof: list[str]) -> bool:
    """Whether ``coqc`` alone (no coqidetop, no backend) accepts the proof with allowed axioms
    only. Cached: a policy of random tactics finds the same few proofs again and again."""
    key = (theorem.name, *proof)
    if key not in _rechecked:
        name = theorem.statement.split()[1]
        script = "\n".join(
            [
                "From Coq Require Import Lia Lra Psatz Ring Field.",
                theorem.header,
                theorem.statement,
                "Proof.",
                *proof,
                "Qed.",
                f"Print Assumptions {name}.",
            ]
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "recheck.v"
            path.write_text(script)
            done = subprocess.run(
                ["coqc", "-q", str(path)], capture_output=True, text=True, timeout=120, cwd=tmp
            )
        axioms, other = parse_assumptions(done.stdout)
        _rechecked[key] = (
            done.returncode == 0
            and not other
            and all(a.rsplit(".", 1)[-1] in ALLOWED for a in axioms)
        )
    return _rechecked[key]


@pytest.fixture(scope="module")
def fuzz_env() -> Any:
    env = ProverEnv([LINEAR, NAT], tactic_timeout=TIMEOUT, max_steps=10_000)
    yield env
    env.close()


def check_step(env: ProverEnv, text: str) -> bool:
    """One fuzzed step and its invariants; returns whether the episode ended."""
    before_obs, before_id = env.state.goals if env.state else "", env.state.id if env.state else 0
    started = time.monotonic()
    obs, reward, terminated, truncated, info = env.step(text)  # must not raise
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + SLACK + (VERIFY_SLACK if terminated else 0.0), (text, elapsed)
    assert isinstance(obs, str) and isinstance(info, dict)
    assert not truncated
    if reward > 0:
        assert terminated and info["verdict"]["ok"], info
        theorem = env.theorem
        assert theorem is not None and coqc_accepts(theorem, info["proof"]), info
    if info["error"]:
        assert info["state_id"] == before_id and env.state.goals == before_obs, "state moved"  # type: ignore[union-attr]
    for sentence in info["proof"]:
        assert check_tactic(sentence) == (sentence,), "a recorded sentence the guard refuses"
    assert len(coqidetop_pids()) <= 2
    return terminated


@pytest.mark.skipif(shutil.which("coqc") is None, reason="needs coqc to re-check proofs")
def test_coq_env_fuzz(fuzz_env: ProverEnv) -> None:
    @settings(max_examples=FUZZ.examples(150, 4000))
    @given(
        st.sampled_from([LINEAR.name, NAT.name]),
        st.booleans(),
        st.lists(
            st.one_of(coq_actions, st.sampled_from(["lra.", "lia.", "}", "- lra."])),
            min_size=1,
            max_size=3,
        ),
    )
    def episode(name: str, setup: bool, actions: list[str]) -> None:
        fuzz_env.reset(options={"theorem": name})
        if setup:
            fuzz_env.step(SETUPS[name])
        for text in actions:
            if check_step(fuzz_env, text):
                break

    episode()
    # afterwards: usable, a known proof earns its reward, and nothing outlives close()
    for name, proof in PROOFS.items():
        fuzz_env.reset(options={"theorem": name})
        for tactic in proof:
            _, reward, terminated, _, info = fuzz_env.step(tactic)
        assert terminated and reward == 1.0, info
    fuzz_env.close()
    assert coqidetop_pids() == []


def test_env_never_raises_on_non_text_actions(fuzz_env: ProverEnv) -> None:
    """Not strings at all (a buggy policy): an error in info, never an exception."""
    fuzz_env.reset(options={"theorem": NAT.name})
    for bad in (None, 3, b"intros.", ["intros."], 1.5):
        _, reward, terminated, _, info = fuzz_env.step(bad)  # type: ignore[arg-type]
        assert info["rejected_by_guard"] and reward == 0.0 and not terminated


# -- the Lean REPL backend on the replay of real transcripts ----------------------------------

COMPLEX_AND = Theorem(
    "complex_and",
    "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r",
    language="lean4",
)
BRANCHING = ["apply And.intro", "exact h1.left", "apply h2", "exact h1.right"]


@needs_transcripts
def test_lean_backend_fuzz_on_replay() -> None:
    backend = LeanReplBackend(command=tuple(replay_command()), timeout=5.0, project=".")
    env = ProverEnv([COMPLEX_AND], backend=backend, max_steps=10_000)
    pids: set[int] = set()

    @settings(max_examples=FUZZ.examples(25, 800))
    @given(st.integers(0, 3), lean_actions)
    def step(depth: int, text: str) -> None:
        env.reset()
        for tactic in BRANCHING[:depth]:
            env.step(tactic)
        before = env.state
        assume(before is not None)
        started = time.monotonic()
        obs, reward, _, _, info = env.step(text)  # must not raise
        assert time.monotonic() - started < 5.0 + SLACK
        assert reward <= 0.0 and not info.get("verdict", {}).get("ok")
        if info["error"]:
            assert info["state_id"] == before.id and obs == before.goals  # type: ignore[union-attr]
        pids.update(backend.pids())

    try:
        step()
        env.reset()
        for tactic in BRANCHING:  # still usable: the recorded proof runs to its end
            _, reward, terminated, _, info = env.step(tactic)
            assert info["error"] is None, info
        assert terminated and reward == 0.0  # the replay never answers verify: no reward
        pids.update(backend.pids())
    finally:
        env.close()
        backend.close()
    time.sleep(0.1)
    alive = [p for p in pids if Path(f"/proc/{p}").exists() and _state(p) != "Z"]
    assert not alive, f"Lean REPL processes outlived close(): {alive}"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"
