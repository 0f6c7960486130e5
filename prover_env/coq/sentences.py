"""Split Coq text into sentences and decide which ones an agent may send.

``coqidetop``'s ``Add`` call parses exactly one sentence and silently drops the rest of the string
(``"exact I. Qed."`` runs ``exact I.`` only; ``"- lra."`` runs the bullet only), so the backend
must split an action itself, with Coq's lexical rules: nested comments, strings with ``""``
escapes (also inside comments), a period ends a sentence only when followed by whitespace or the
end, and bullets (``-``, ``+``, ``*``, repeated) and braces are sentences of their own.

The guard is an allowlist by shape: every vernacular command of Coq starts with an upper-case
keyword (``Qed``, ``Admitted``, ``Axiom``, ``Require``, ``Set``, ``Timeout``, ``Fail``,
``Drop``...) or an attribute (``#[...]``), while tactics start with a lower-case name or a
parenthesis. A sentence is a tactic only when, after its bullets and goal selector, it starts
with a lower-case letter, ``_`` or ``(``, or with a qualified tactic name whose last part is
lower-case inside a standard-library number module (``Z.div_mod_to_equations``; the module
list is closed so that no keyword such as ``Axiom`` can pass as a module name). Tactics that
close goals without proof (``admit``, ``give_up``) or skip a type check (``exact_no_check``,
``change_no_check``) are refused wherever they appear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "FORBIDDEN_TACTICS",
    "GuardError",
    "check_tactic",
    "split_sentences",
    "strip_comments",
]

#: Tactic names that close goals without a proof, or skip the type check that would show the
#: proof wrong (the kernel refuses it at ``Qed``, after the agent saw the goals close); refused
#: anywhere in an action.
FORBIDDEN_TACTICS: frozenset[str] = frozenset(
    {
        "admit",
        "give_up",
        "exact_no_check",
        "vm_cast_no_check",
        "native_cast_no_check",
        "change_no_check",
        "convert_concl_no_check",  # the name of change_no_check before Coq 8.11
    }
)

_BULLET_CHARS = "-+*"
# A qualified Ltac name such as ``Z.div_mod_to_equations`` (module path, lower-case last part).
_QUALIFIED_TACTIC = re.compile(
    r"(?:Z|N|Nat|Pos|Q|PeanoNat\.Nat)\.[a-z_][A-Za-z0-9_']*(?![A-Za-z0-9_']|\.\S)"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_']*")
# One token per match: whitespace (no group), comment start, string start, identifier, a
# sentence end (a period, or Coq's "..." terminator, followed by whitespace or the end, not part
# of a longer run of periods), anything else.
_TOKEN = re.compile(
    r"""\s+|(\(\*)|(")|([A-Za-z_][A-Za-z0-9_']*)|((?<!\.)(?:\.\.\.|\.)(?=\s|\Z))"""
    r"""|([^\sA-Za-z_"(.]+|[(.])"""
)
# Control characters, and what Coq's XML protocol cannot carry: lone surrogates (no UTF-8 for
# them) and U+FFFE/U+FFFF (not XML characters: Coq would echo them in a reply no parser reads).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_SELECTOR = re.compile(
    r"(?:all|par|!|\[\s*[A-Za-z_][\w']*\s*\]|\d+(?:\s*-\s*\d+)?(?:\s*,\s*\d+(?:\s*-\s*\d+)?)*)\s*:(?!=)"
)


class GuardError(ValueError):
    """An action the backend refuses to send to the prover; the message says why."""


@dataclass(frozen=True)
class _Scan:
    sentences: list[str]
    idents: list[str]  # identifiers outside comments and strings
    rest: str  # trailing text after the last full sentence (no final period)


def _scan(text: str) -> _Scan:
    """Lex ``text`` into sentences; raises GuardError on unterminated comments or strings."""
    sentences: list[str] = []
    idents: list[str] = []
    n = len(text)
    i = 0
    start = 0  # start of the current sentence
    at_start = True  # no token yet in the current sentence

    def flush(end: int) -> None:
        nonlocal start, at_start
        piece = text[start:end].strip()
        if piece:
            sentences.append(piece)
        start = end
        at_start = True

    while i < n:
        m = _TOKEN.match(text, i)
        kind = m.lastindex  # type: ignore[union-attr]
        if kind is None:  # whitespace
            i = m.end()  # type: ignore[union-attr]
            continue
        if kind == 1:  # comment
            i = _skip_comment(text, i)
            continue
        if at_start:
            c = text[i]
            if c in _BULLET_CHARS:
                j = i
                while j < n and text[j] == c:
                    j += 1
                # A bullet is a sentence of its own ("- lra." is "-" then "lra.").
                if j >= n or text[j].isspace() or text[j] in "({" or text[j].isalpha():
                    start = i
                    flush(j)
                    i = j
                    continue
            if c in "{}":
                start = i
                flush(i + 1)
                i += 1
                continue
            sel = _SELECTOR.match(text, i)
            if sel and text[sel.end() :].lstrip().startswith("{"):
                k = text.index("{", sel.end())
                start = i
                flush(k + 1)
                i = k + 1
                continue
        if kind == 2:  # string
            i = _skip_string(text, i)
            at_start = False
        elif kind == 3:  # identifier
            idents.append(m.group(3))  # type: ignore[union-attr]
            at_start = False
            i = m.end()  # type: ignore[union-attr]
        elif kind == 4:  # a period (or "...") that ends the sentence
            i = m.end()  # type: ignore[union-attr]
            flush(i)
        else:
            at_start = False
            i = m.end()  # type: ignore[union-attr]
    return _Scan(sentences, idents, text[start:].strip())


def _skip_comment(text: str, i: int) -> int:
    """Index after the (nested) comment that starts at ``i``."""
    depth = 0
    n = len(text)
    while i < n:
        if text.startswith("(*", i):
            depth += 1
            i += 2
        elif text.startswith("*)", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        elif text[i] == '"':
            i = _skip_string(text, i)
        else:
            i += 1
    raise GuardError("unterminated comment: every '(*' needs a matching '*)'")


def _skip_string(text: str, i: int) -> int:
    """Index after the string literal that starts at ``i`` (``""`` is an escaped quote)."""
    n = len(text)
    i += 1
    while i < n:
        if text[i] == '"':
            if i + 1 < n and text[i + 1] == '"':
                i += 2
                continue
            return i + 1
        i += 1
    raise GuardError("unterminated string: every '\"' needs a closing '\"'")


def split_sentences(text: str) -> list[str]:
    """Split Coq source into sentences, as Coq's lexer would.

    A trailing piece without a final period is returned as its own sentence, unchanged.

    Args:
        text: Coq source (vernacular or tactics).

    Returns:
        The sentences, stripped, each ending in ``.`` (or a bullet / brace).

    Raises:
        GuardError: On an unterminated comment or string.
    """
    scan = _scan(text)
    return [*scan.sentences, scan.rest] if scan.rest else scan.sentences


def strip_comments(sentence: str) -> str:
    """``sentence`` without its comments (strings kept), stripped."""
    if "(*" not in sentence:
        return sentence.strip()
    out: list[str] = []
    i = 0
    while i < len(sentence):
        if sentence.startswith("(*", i):
            i = _skip_comment(sentence, i)
            out.append(" ")
        elif sentence[i] == '"':
            j = _skip_string(sentence, i)
            out.append(sentence[i:j])
            i = j
        else:
            out.append(sentence[i])
            i += 1
    return "".join(out).strip()


def _is_bullet_or_brace(sentence: str) -> bool:
    return sentence in ("{", "}") or (len(set(sentence)) == 1 and sentence[0] in _BULLET_CHARS)


def check_tactic(
    action: str,
    *,
    max_chars: int = 16384,
    forbidden: Iterable[str] = FORBIDDEN_TACTICS,
) -> tuple[str, ...]:
    """Validate an agent's action and split it into tactic sentences.

    Args:
        action: One or more tactic sentences (``"intros. lra."``); a missing final period is
            added.
        max_chars: Longest action accepted.
        forbidden: Tactic names refused anywhere in the action.

    Returns:
        The sentences to send to the prover, one per ``Add`` call.

    Raises:
        GuardError: The action is not a tactic script (vernacular command, forbidden tactic,
            control characters, unterminated comment or string, empty, too long).
    """
    if not isinstance(action, str):
        raise GuardError(f"an action must be a str of tactic text, not {type(action).__name__}")
    if len(action) > max_chars:
        raise GuardError(
            f"action is {len(action)} characters long, over the limit of {max_chars} "
            "(max_tactic_chars)"
        )
    if _CONTROL.search(action):
        bad = sorted({f"U+{ord(ch):04X}" for ch in _CONTROL.findall(action)})
        raise GuardError(
            "control characters, lone surrogates and U+FFFE/U+FFFF are not allowed in tactics: "
            + ", ".join(bad)
        )
    scan = _scan(action)
    sentences = list(scan.sentences)
    if scan.rest:
        rest = scan.rest
        # A rest ending in periods ("lra..") has a run of them that ends no sentence: a space
        # keeps the added period from joining the run (and from making it a "..." terminator).
        end = " ." if rest.endswith(".") else "."
        sentences.append(rest if _is_bullet_or_brace(rest) else rest + end)
        if not _is_bullet_or_brace(rest):
            scan.idents.extend(_IDENT.findall(strip_comments(rest)))
    sentences = [body for body in map(strip_comments, sentences) if body]
    for body in sentences:
        # Coq does not end a sentence at a period followed by a comment ("lra.(* c *)Qed." is
        # one sentence), but blanking the comment would make it end there: the text sent must
        # stay one sentence, or Coq would run a prefix of it and drop the rest unseen.
        again = _scan(body)
        if len(again.sentences) + bool(again.rest) > 1:
            raise GuardError(
                f"{body!r} holds more than one sentence once its comments are removed (a "
                "comment right after a period does not end a sentence in Coq): put a space "
                "between the period and the comment"
            )
    if not sentences:
        raise GuardError("empty action: send a tactic such as 'intros.'")
    used = sorted(set(scan.idents) & set(forbidden))
    if used:
        raise GuardError(
            f"forbidden tactic {', '.join(used)}: it closes goals without a proof and can never "
            "earn reward"
        )
    for sentence in sentences:
        if _is_bullet_or_brace(sentence):
            continue
        body = strip_comments(sentence)
        # Every leading goal selector ("all: par: Admitted." is a syntax error for Coq, but what
        # follows the selectors must be a tactic all the same).
        while m := _SELECTOR.match(body):
            body = body[m.end() :].lstrip()
        if body == "{":
            continue
        tactic_like = body and (body[0].islower() or body[0] in "_(")
        if not tactic_like and not _QUALIFIED_TACTIC.match(body):
            word = body.split(None, 1)[0] if body else sentence
            raise GuardError(
                f"{word!r} starts a vernacular command, not a tactic: only tactics are allowed "
                "as actions (no Qed/Admitted/Abort/Axiom/Require/Set/Timeout/Fail/..., and "
                "no attributes)"
            )
        if body[0].isalpha() and not body[0].isascii():
            raise GuardError(f"{body.split(None, 1)[0]!r} is not a Coq tactic name")
    return tuple(sentences)
