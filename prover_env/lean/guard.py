"""Which Lean 4 actions an agent may send, and reading ``#print axioms``.

Shared by the Lean REPL and LeanDojo backends. See :func:`check_lean_tactic` for what is refused
and why: goal closers without proof, escapes from the checked fragment of Lean, and anything
that would end the proof and start a new declaration (so that ``verify`` always checks the
original statement).
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Sequence

from prover_env.types import ProofFinished, ProofState, TacticError

__all__ = ["LeanGuardError", "check_lean_tactic", "guard_action", "parse_print_axioms"]


class LeanGuardError(ValueError):
    """An action the backend refuses to send to Lean; the message says why."""


#: Keywords that start a declaration or change the environment: a proof never needs them, and
#: refusing them keeps the statement that ``verify`` checks the original one.
_DECLARATIONS = (
    "theorem", "lemma", "def", "example", "abbrev", "instance", "structure", "class",
    "inductive", "opaque", "namespace", "section", "end", "import", "universe", "variable",
    "mutual", "attribute", "initialize", "builtin_initialize", "notation", "infix", "infixl",
    "infixr", "prefix", "postfix", "private", "protected", "noncomputable", "partial",
    "deriving", "declare_syntax_cat", "notation3", "local", "scoped", "export", "omit",
    "include", "irreducible_def",
)  # fmt: skip

#: Words refused anywhere in an action, with the reason given to the agent.
_FORBIDDEN: dict[str, str] = {
    "sorry": "closes goals without a proof",
    "sorryAx": "closes goals without a proof",
    "admit": "closes goals without a proof",
    "stop": "discards the rest of the proof (`repeat sorry`)",
    "set_option": "changes Lean's options (`debug.skipKernelTC` skips the kernel check)",
    "axiom": "declares an axiom",
    "unsafe": "leaves the checked fragment of Lean",
    "unsafeCast": "leaves the checked fragment of Lean",
    "unsafeBaseIO": "leaves the checked fragment of Lean",
    "unsafeIO": "leaves the checked fragment of Lean",
    "unsafeEIO": "leaves the checked fragment of Lean",
    "lcProof": "is an axiom of the compiler that proves any proposition",
    "lcUnreachable": "is an axiom of the compiler that inhabits any type",
    "lcCast": "is an axiom of the compiler that casts between any types",
    "implemented_by": "replaces checked code by unchecked code",
    "extern": "replaces checked code by foreign code",
    "run_tac": "runs a metaprogram (it could add axioms or skip checks)",
    "run_cmd": "runs a metaprogram (it could add axioms or skip checks)",
    "run_elab": "runs a metaprogram (it could add axioms or skip checks)",
    "run_meta": "runs a metaprogram (it could add axioms or skip checks)",
    "by_elab": "runs a metaprogram (it could add axioms or skip checks)",
    "elab": "defines an elaborator (a metaprogram)",
    "elab_rules": "defines an elaborator (a metaprogram)",
    "macro": "defines a macro",
    "macro_rules": "defines a macro",
    "syntax": "defines syntax",
    **dict.fromkeys(
        _DECLARATIONS, "starts a new declaration: an action must stay inside the proof"
    ),
}
#: Words that make Lean trust compiled code instead of the kernel (``Lean.ofReduceBool``).
_TRUSTS_COMPILER: frozenset[str] = frozenset(
    {
        "native_decide",
        "ofReduceBool",
        "ofReduceNat",
        "reduceBool",
        "reduceNat",
        "trustCompiler",
        "bv_decide",
        "bv_check",
    }
)


def _word_regex(words: Sequence[str]) -> re.Pattern[str]:
    # Word boundaries as Lean's identifiers have them: letters, digits, `_` and `'` continue a
    # name, `.` separates the parts of a qualified one (`Lean.ofReduceBool` is caught).
    alternatives = "|".join(sorted(map(re.escape, words), key=len, reverse=True))
    return re.compile(rf"(?<![\w'])(?:{alternatives})(?![\w'])")


_FORBIDDEN_RE = _word_regex(list(_FORBIDDEN))
_COMPILER_RE = _word_regex(sorted(_TRUSTS_COMPILER))
_NATIVE_OPTION_RE = re.compile(r"\+\s*native(?![\w'])|(?<![\w'])native\s*:=")
_HASH_COMMAND_RE = re.compile(r"#[A-Za-z_]")
_ALLOWED_CONTROL = frozenset("\n\t")


def _strip_comments(text: str) -> str:
    """``text`` with Lean comments (``--`` to the end of the line, nested ``/- -/``) blanked.

    Only called on text without ``"``: with no string literal, Lean's lexer and this one agree
    on where every comment starts and ends (a character literal holds one character, so it
    can neither hold nor fake a two-character comment marker).
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
            out.append(" ")
        elif text.startswith("/-", i):
            depth = 0
            while i < n:
                if text.startswith("/-", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("-/", i):
                    depth, i = depth - 1, i + 2
                    if depth == 0:
                        break
                else:
                    i += 1
            if depth:
                raise LeanGuardError("unterminated comment: every '/-' needs a matching '-/'")
            out.append(" ")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def check_lean_tactic(
    action: str, *, max_chars: int = 16384, allow_native_decide: bool = False
) -> str:
    """Validate an agent's Lean 4 action before it is sent to Lean.

    Refused, with a message that says why:

    * ``sorry``, ``sorryAx``, ``admit``, ``stop``: they close goals without a proof; so do the
      compiler's axioms ``lcProof``, ``lcUnreachable``, ``lcCast``;
    * ``native_decide``, ``decide +native``, ``bv_decide``, ``Lean.ofReduceBool``... (they
      trust compiled code instead of the kernel), unless ``allow_native_decide``;
    * escapes from the proof: ``set_option`` (``debug.skipKernelTC``...), ``axiom``,
      ``unsafe`` (and ``unsafeCast``...), ``implemented_by``, ``extern``, ``#exit`` and every
      ``#command``, declarations and scoping commands (``theorem``, ``local``, ``notation3``...),
      attributes ``@[...]``, metaprogramming (``run_tac``, ``by_elab``, ``elab``, ``macro``...);
    * ``«guillemet»`` identifiers, control and invisible formatting characters, empty or
      over-long actions, unterminated comments.

    Words match as whole Lean words (``hsorry`` and ``stop'`` are fine) anywhere outside
    comments. An action that contains a string literal (a ``"``) is checked whole, comments
    and strings included: Lean's string syntax (interpolation, raw strings) could otherwise
    make this lexer and Lean's disagree about where a comment starts. Tactic proofs rarely need
    strings; when one does, keep forbidden words out of it.

    Args:
        action: Tactic text: one tactic, or several separated by newlines or ``;``
            (multi-line blocks keep their relative indentation).
        max_chars: Longest action accepted.
        allow_native_decide: Accept ``native_decide`` and its relatives. Their proofs depend on
            the ``Lean.ofReduceBool`` axiom, which LeanDojo does not report.

    Returns:
        The action without surrounding blank lines and common indentation.

    Raises:
        LeanGuardError: The action is refused; the message says why.
    """
    if not isinstance(action, str):
        raise LeanGuardError(f"an action must be tactic text (str), not {type(action).__name__}")
    if len(action) > max_chars:
        raise LeanGuardError(
            f"the action is {len(action)} characters long, over the limit of {max_chars}"
        )
    bad = sorted(
        {
            f"U+{ord(c):04X}"
            for c in action
            if c not in _ALLOWED_CONTROL
            and (unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp"))
        }
    )
    if bad:
        raise LeanGuardError(
            f"control or invisible formatting characters are not allowed: {', '.join(bad)}"
        )
    if not action.strip():
        raise LeanGuardError("empty action: send a tactic such as `intro x` or `simp`")
    if "«" in action or "»" in action:
        raise LeanGuardError("«guillemet» identifiers are not allowed in actions")
    code = action if '"' in action else _strip_comments(action)
    if not code.strip():
        raise LeanGuardError("the action is only comments: send a tactic")
    m = _FORBIDDEN_RE.search(code)
    if m:
        word = m.group(0)
        raise LeanGuardError(f"`{word}` is refused: it {_FORBIDDEN[word]}")
    if _HASH_COMMAND_RE.search(code):
        raise LeanGuardError("#commands (#exit, #eval, #print...) are not allowed in actions")
    if "@[" in code:
        raise LeanGuardError("attributes @[...] are not allowed in actions")
    if not allow_native_decide:
        m = _COMPILER_RE.search(code) or _NATIVE_OPTION_RE.search(code)
        if m:
            raise LeanGuardError(
                f"`{m.group(0).strip()}` is refused: it trusts compiled code instead of the "
                "kernel (Lean.ofReduceBool); allow it with allow_native_decide=True"
            )
    # Blank lines around the action go, even "  \n" ones (dedent empties them, strip drops them).
    return textwrap.dedent(action).strip("\n").rstrip()


def guard_action(
    state: ProofState | ProofFinished, tactic: str, *, max_chars: int, allow_native_decide: bool
) -> str | TacticError:
    """The opening of a Lean backend's ``run_tactic``: the text to send from ``state``, or the
    :class:`~prover_env.types.TacticError` to return (``rejected_by_guard=True``): the proof is
    already finished, or :func:`check_lean_tactic` refused the action."""
    if isinstance(state, ProofFinished):
        return TacticError("the proof is already finished: no goals remain", False, True)
    try:
        return check_lean_tactic(
            tactic, max_chars=max_chars, allow_native_decide=allow_native_decide
        )
    except LeanGuardError as e:
        return TacticError(str(e), rejected_by_guard=True)


_AXIOMS = re.compile(r"'([^']+)' depends on axioms: \[([^\]]*)\]")
_NO_AXIOMS = re.compile(r"'([^']+)' does not depend on any axioms")


def parse_print_axioms(text: str, name: str) -> tuple[str, ...] | None:
    """Axioms listed by ``#print axioms NAME``; ``None`` when ``text`` does not answer it."""
    for m in _AXIOMS.finditer(text):
        if m.group(1) == name:
            return tuple(a.strip() for a in m.group(2).split(",") if a.strip())
    for m in _NO_AXIOMS.finditer(text):
        if m.group(1) == name:
            return ()
    return None
