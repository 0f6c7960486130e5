"""A small term language for synthetic theorems, rendered to Coq and to Lean 4 (Mathlib).

Generators build statements from these nodes once; :func:`render_coq` and :func:`render_lean`
print the same statement in each prover's syntax, with only the parentheses precedence needs.
Variable names are looked up in a renaming map at render time, so one abstract statement gives
a canonical text (for de-duplication "up to renaming") and any number of surface forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

__all__ = [
    "Abs",
    "BinOp",
    "Divides",
    "Domain",
    "Logic",
    "Neg",
    "Not",
    "Num",
    "Pow",
    "Rel",
    "Statement",
    "SumUpto",
    "Var",
    "free_names",
    "render_coq",
    "render_lean",
]

Domain = Literal["R", "Z", "nat", "Prop"]


@dataclass(frozen=True)
class Var:
    """A variable (a number, or a proposition in propositional statements)."""

    name: str


@dataclass(frozen=True)
class Num:
    """A non-negative rational constant (an integer unless the domain is R)."""

    value: Fraction


@dataclass(frozen=True)
class BinOp:
    """``left op right`` for ``op`` in ``+ - * /`` and ``mod``."""

    op: Literal["+", "-", "*", "/", "mod"]
    left: Term
    right: Term


@dataclass(frozen=True)
class Neg:
    """Arithmetic negation."""

    arg: Term


@dataclass(frozen=True)
class Pow:
    """``base ^ exponent`` with a constant natural exponent."""

    base: Term
    exponent: int


@dataclass(frozen=True)
class Abs:
    """Absolute value (``Rabs`` / ``Z.abs`` in Coq, ``|x|`` in Lean)."""

    arg: Term


@dataclass(frozen=True)
class SumUpto:
    """``sum_{i=0}^{n} body`` over naturals (``sum_upto`` in the Coq header, ``∑`` in Lean)."""

    index: str
    body: Term
    upper: Term


Term = Var | Num | BinOp | Neg | Pow | Abs | SumUpto


@dataclass(frozen=True)
class Rel:
    """A comparison ``left op right``."""

    op: Literal["=", "<=", "<", ">=", ">", "<>"]
    left: Term
    right: Term


@dataclass(frozen=True)
class Divides:
    """``divisor | term`` (``Z.divide``)."""

    divisor: Term
    term: Term


@dataclass(frozen=True)
class Logic:
    """A connective between propositions: ``/\\``, ``\\/``, ``->``, ``<->``."""

    op: Literal["and", "or", "imp", "iff"]
    left: Prop
    right: Prop


@dataclass(frozen=True)
class Not:
    """Negation of a proposition."""

    arg: Prop


Prop = Rel | Divides | Logic | Not | Var


@dataclass(frozen=True)
class Statement:
    """``forall binders, hypotheses -> conclusion`` in one domain.

    Attributes:
        domain: The type of every binder (``Prop`` for propositional statements).
        binders: Variable names, bound in this order.
        hypotheses: Premises (named ``h0``, ``h1``... in Lean).
        conclusion: What to prove.
    """

    domain: Domain
    binders: tuple[str, ...]
    hypotheses: tuple[Prop, ...]
    conclusion: Prop


# Binding strength: larger binds weaker. Both provers agree on these for the operators used.
_PREC = {"+": 50, "-": 50, "*": 40, "/": 40, "mod": 40}
_LOGIC_PREC = {"and": 80, "or": 85, "imp": 90, "iff": 95}


class _Printer:
    def __init__(self, lang: Literal["coq", "lean"], domain: Domain, names: Mapping[str, str]):
        self.lang = lang
        self.domain = domain
        self.names = names

    def name(self, v: str) -> str:
        return self.names.get(v, v)

    def num(self, value: Fraction) -> str:
        if value.denominator == 1:
            return str(value.numerator)
        return f"{value.numerator} / {value.denominator}"

    def term(self, t: Term) -> tuple[str, int]:
        """Text and binding strength of a term."""
        if isinstance(t, Var):
            return self.name(t.name), 0
        if isinstance(t, Num):
            return self.num(t.value), (40 if t.value.denominator != 1 else 0)
        if isinstance(t, Neg):
            return "-" + self.wrap(t.arg, 35), 35
        if isinstance(t, Pow):
            return f"{self.wrap(t.base, 29)} ^ {t.exponent}", 30
        if isinstance(t, Abs):
            inner = self.term(t.arg)[0]
            if self.lang == "lean":
                return f"|{inner}|", 0
            return f"{'Rabs' if self.domain == 'R' else 'Z.abs'} ({inner})", 10
        if isinstance(t, SumUpto):
            body, upper = self.term(t.body)[0], self.term(t.upper)[0]
            idx = self.name(t.index)
            if self.lang == "lean":
                return f"(∑ {idx} ∈ Finset.range ({upper} + 1), ({body}))", 0
            return f"sum_upto (fun {idx} => {body}) {self.wrap(t.upper, 0)}", 10
        op = "%" if (t.op == "mod" and self.lang == "lean") else t.op
        prec = _PREC[t.op]
        left = self.wrap(t.left, prec)
        right = self.wrap(t.right, prec - 1)  # left-associative: parenthesize on the right
        return f"{left} {op} {right}", prec

    def wrap(self, t: Term, limit: int) -> str:
        text, prec = self.term(t)
        return text if prec <= limit else f"({text})"

    def prop(self, p: Prop) -> tuple[str, int]:
        if isinstance(p, Var):
            return self.name(p.name), 0
        if isinstance(p, Rel):
            op = {"<>": "≠", "<=": "≤", ">=": "≥"}.get(p.op, p.op) if self.lang == "lean" else p.op
            return f"{self.term(p.left)[0]} {op} {self.term(p.right)[0]}", 70
        if isinstance(p, Divides):
            bar = "∣" if self.lang == "lean" else "|"
            text = f"{self.wrap(p.divisor, 0)} {bar} {self.term(p.term)[0]}"
            return (text, 70) if self.lang == "lean" else (f"({text})", 0)
        if isinstance(p, Not):
            return ("¬" if self.lang == "lean" else "~ ") + self.pwrap(p.arg, 75), 75
        prec = _LOGIC_PREC[p.op]
        if self.lang == "lean":
            sym = {"and": "∧", "or": "∨", "imp": "→", "iff": "↔"}[p.op]
        else:
            sym = {"and": "/\\", "or": "\\/", "imp": "->", "iff": "<->"}[p.op]
        # /\ \/ -> are right-associative; <-> is not associative: parenthesize both sides.
        right_limit = prec if p.op != "iff" else prec - 1
        return f"{self.pwrap(p.left, prec - 1)} {sym} {self.pwrap(p.right, right_limit)}", prec

    def pwrap(self, p: Prop, limit: int) -> str:
        text, prec = self.prop(p)
        return text if prec <= limit else f"({text})"


_COQ_TYPE = {"R": "R", "Z": "Z", "nat": "nat", "Prop": "Prop"}
_COQ_SCOPE = {"R": "%R", "Z": "%Z", "nat": "%nat", "Prop": ""}
_LEAN_TYPE = {"R": "ℝ", "Z": "ℤ", "nat": "ℕ", "Prop": "Prop"}


def render_coq(s: Statement, name: str, names: Mapping[str, str] | None = None) -> str:
    """The Coq declaration ``Theorem name : (forall ..., ...)%scope.``."""
    pr = _Printer("coq", s.domain, names or {})
    parts: list[str] = [pr.pwrap(h, 89) for h in s.hypotheses]
    parts.append(pr.pwrap(s.conclusion, 90))
    body = " -> ".join(parts)
    if s.binders:
        body = f"forall {' '.join(pr.name(b) for b in s.binders)} : {_COQ_TYPE[s.domain]}, {body}"
    scope = _COQ_SCOPE[s.domain]
    return f"Theorem {name} : ({body}){scope}." if scope else f"Theorem {name} : {body}."


def render_lean(s: Statement, name: str, names: Mapping[str, str] | None = None) -> str:
    """The Lean 4 declaration ``theorem name (x : ℝ) (h0 : ...) : ...`` (no proof)."""
    pr = _Printer("lean", s.domain, names or {})
    args: list[str] = []
    if s.binders:
        args.append(f"({' '.join(pr.name(b) for b in s.binders)} : {_LEAN_TYPE[s.domain]})")
    args.extend(f"(h{i} : {pr.prop(h)[0]})" for i, h in enumerate(s.hypotheses))
    head = " ".join([f"theorem {name}", *args])
    return f"{head} :\n    {pr.prop(s.conclusion)[0]}"


def free_names(s: Statement) -> list[str]:
    """Variable names in order of first appearance in the hypotheses and conclusion (sum
    indices included), then binders that do not appear."""
    seen: list[str] = []

    def visit(node: object) -> None:
        if isinstance(node, Var) and node.name not in seen:
            seen.append(node.name)
        if isinstance(node, SumUpto) and node.index not in seen:
            seen.append(node.index)
        for child in getattr(node, "__dict__", {}).values():
            visit(child)

    for part in (*s.hypotheses, s.conclusion):
        visit(part)
    return seen + [b for b in s.binders if b not in seen]
