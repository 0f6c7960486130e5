"""Parameterized families of synthetic theorems, rendered to Coq and Lean 4.

Each family draws one statement for a difficulty ``level`` (1 = easiest; more variables, larger
coefficients, more hypotheses or higher degree as it grows). :func:`generate` draws from all
families, is deterministic for a seed, drops duplicates up to renaming, and assigns each theorem
to ``train`` or ``heldout`` by a hash of its canonical form, so no theorem (up to renaming) can
be on both sides of the split, whatever the seed or the number drawn.

Families: ``linear_eq`` and ``linear_ineq`` (over R and Z), ``poly_identity`` (R, Z),
``modular`` and ``divisibility`` (Z), ``finite_sum`` (nat, concrete), ``abs_value`` (R, Z),
``induction`` (nat, closed forms of sums), ``propositional`` (intuitionistic tautologies).
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from prover_env.types import Theorem
from training.expr import (
    Abs,
    BinOp,
    Divides,
    Logic,
    Neg,
    Not,
    Num,
    Pow,
    Prop,
    Rel,
    Statement,
    SumUpto,
    Term,
    Var,
    free_names,
    render_coq,
    render_lean,
)

__all__ = [
    "COQ_HEADER",
    "FAMILIES",
    "LEAN_HEADER",
    "SynthTheorem",
    "abs_value",
    "canonical_key",
    "divisibility",
    "finite_sum",
    "free_names_of_prop",
    "generate",
    "induction",
    "iter_split",
    "linear_eq",
    "linear_ineq",
    "modular",
    "poly_identity",
    "propositional",
    "split_of",
]

#: The header every synthetic Coq theorem elaborates under (one prover session serves them all).
COQ_HEADER = """Require Import Reals ZArith Lia Lra Psatz Arith.
Fixpoint sum_upto (f : nat -> nat) (n : nat) : nat :=
  match n with O => f O | S k => sum_upto f k + f (S k) end.
"""

#: The header of the Lean 4 renderings (Mathlib).
LEAN_HEADER = "import Mathlib\nopen BigOperators\n"

_NUM_NAMES = ("x", "y", "z", "a", "b", "c", "u", "v", "w", "p", "q", "r", "s", "t", "m")
_PROP_NAMES = ("P", "Q", "R", "S", "T", "A", "B", "C", "D", "E")


@dataclass(frozen=True)
class SynthTheorem:
    """A generated theorem.

    Attributes:
        name: Unique name (family and a hash of the canonical form).
        family: The family that drew it.
        level: Its difficulty knob.
        key: Canonical Coq rendering (variables renamed in order of appearance).
        split: ``"train"`` or ``"heldout"``.
        coq: The Coq declaration (``Theorem name : ... .``).
        lean: The Lean 4 declaration, without proof.
    """

    name: str
    family: str
    level: int
    key: str
    split: str
    coq: str
    lean: str

    def coq_theorem(self) -> Theorem:
        """As a Coq :class:`Theorem` under :data:`COQ_HEADER`."""
        return Theorem(self.name, self.coq, COQ_HEADER, "coq", self.split, "synth")

    def lean_theorem(self) -> Theorem:
        """As a Lean 4 :class:`Theorem` under :data:`LEAN_HEADER`."""
        return Theorem(self.name, self.lean, LEAN_HEADER, "lean4", self.split, "synth")


# -- helpers ----------------------------------------------------------------------------------


def _n(value: int | Fraction) -> Term:
    """A constant; negative ones become ``Neg``."""
    value = Fraction(value)
    return Neg(Num(-value)) if value < 0 else Num(value)


def _linear(coeffs: Sequence[int], variables: Sequence[str], const: int | Fraction = 0) -> Term:
    """``c1 * x1 + c2 * x2 ... + const``, with subtraction for negative coefficients."""
    terms: list[tuple[int | Fraction, Term | None]] = [
        (c, Var(v)) for c, v in zip(coeffs, variables, strict=True) if c != 0
    ]
    if const != 0 or not terms:
        terms.append((const, None))
    out: Term | None = None
    for c, v in terms:
        mag = abs(Fraction(c))
        atom: Term = Num(mag) if v is None else (v if mag == 1 else BinOp("*", Num(mag), v))
        if out is None:
            out = Neg(atom) if c < 0 else atom
        else:
            out = BinOp("-" if c < 0 else "+", out, atom)
    return out if out is not None else Num(Fraction(0))


def _coef(rng: random.Random, bound: int, nonzero: bool = True) -> int:
    while True:
        c = rng.randint(-bound, bound)
        if c or not nonzero:
            return c


# -- families ---------------------------------------------------------------------------------


def linear_eq(rng: random.Random, level: int) -> Statement:
    """A square linear system with an integer solution; conclude one variable's value."""
    domain = rng.choice(("R", "Z"))
    n = min(level, 3)
    names = [f"v{i}" for i in range(n)]
    bound = 2 + 2 * level
    while True:
        rows = [[_coef(rng, bound) for _ in range(n)] for _ in range(n)]
        if _det(rows) != 0:
            break
    sol = [rng.randint(-9, 9) for _ in range(n)]
    hyps = tuple(
        Rel("=", _linear(row, names), _n(sum(c * s for c, s in zip(row, sol, strict=True))))
        for row in rows
    )
    k = rng.randrange(n)
    return Statement(domain, tuple(names), hyps, Rel("=", Var(names[k]), _n(sol[k])))


def _det(m: list[list[int]]) -> Fraction:
    a = [[Fraction(x) for x in row] for row in m]
    det = Fraction(1)
    for i in range(len(a)):
        pivot = next((r for r in range(i, len(a)) if a[r][i] != 0), None)
        if pivot is None:
            return Fraction(0)
        if pivot != i:
            a[i], a[pivot] = a[pivot], a[i]
            det = -det
        det *= a[i][i]
        for r in range(i + 1, len(a)):
            f = a[r][i] / a[i][i]
            a[r] = [x - f * y for x, y in zip(a[r], a[i], strict=True)]
    return det


def linear_ineq(rng: random.Random, level: int) -> Statement:
    """Bounds on variables imply a bound on a positive combination of them."""
    domain = rng.choice(("R", "Z"))
    n = min(level, 3)
    names = [f"v{i}" for i in range(n)]
    bounds = [rng.randint(-10, 10) for _ in range(n)]
    coeffs = [rng.randint(1, 2 + level) for _ in range(n)]
    strict = level >= 3 and rng.random() < 0.5
    hyps = tuple(
        Rel("<" if strict else "<=", Var(v), _n(b)) for v, b in zip(names, bounds, strict=True)
    )
    total = sum(c * b for c, b in zip(coeffs, bounds, strict=True))
    offset = rng.randint(-5, 5)
    slack = rng.randint(0, 3)
    lhs = _linear(coeffs, names, offset)
    return Statement(domain, tuple(names), hyps, Rel("<=", lhs, _n(total + offset + slack)))


def _poly_mul(a: dict[tuple[int, ...], int], b: dict[tuple[int, ...], int]) -> dict:
    out: dict[tuple[int, ...], int] = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            m = tuple(x + y for x, y in zip(ma, mb, strict=True))
            out[m] = out.get(m, 0) + ca * cb
    return {m: c for m, c in out.items() if c}


def _poly_term(poly: dict[tuple[int, ...], int], names: Sequence[str]) -> Term:
    """A polynomial, highest degree first, as a sum of monomials."""
    out: Term | None = None
    for mono in sorted(poly, key=lambda m: (-sum(m), [-e for e in m])):
        c = poly[mono]
        factors: list[Term] = [Num(Fraction(abs(c)))] if abs(c) != 1 else []
        for name, e in zip(names, mono, strict=True):
            if e:
                factors.append(Var(name) if e == 1 else Pow(Var(name), e))
        atom: Term = factors[0] if factors else Num(Fraction(1))
        for f in factors[1:]:
            atom = BinOp("*", atom, f)
        if out is None:
            out = Neg(atom) if c < 0 else atom
        else:
            out = BinOp("-" if c < 0 else "+", out, atom)
    return out if out is not None else Num(Fraction(0))


def poly_identity(rng: random.Random, level: int) -> Statement:
    """A product of linear factors equals its expansion."""
    domain = rng.choice(("R", "Z"))
    nvars = 1 if level == 1 else 2
    names = [f"v{i}" for i in range(nvars)]
    factors: list[Term] = []
    product = {(0,) * nvars: 1}
    for _ in range(level + 1):
        i = rng.randrange(nvars)
        const = _coef(rng, 5)
        scale = 1 if level < 3 else rng.randint(1, 3)
        mono = tuple(1 if j == i else 0 for j in range(nvars))
        product = _poly_mul(product, {mono: scale, (0,) * nvars: const})
        coeffs = [scale if j == i else 0 for j in range(nvars)]
        factors.append(_linear(coeffs, names, const))
    lhs: Term = factors[0]
    for f in factors[1:]:
        lhs = BinOp("*", lhs, f)
    return Statement(domain, tuple(names), (), Rel("=", lhs, _poly_term(product, names)))


def modular(rng: random.Random, level: int) -> Statement:
    """Remainders: concrete ones (levels 1-2), then of ``m * n + r`` for all n (level 3+)."""
    m = rng.randint(2, 6 + 3 * level)
    if level == 1:
        a, b, c = rng.randint(2, 40), rng.randint(2, 40), rng.randint(0, 40)
        lhs: Term = BinOp(
            "mod",
            BinOp("+", BinOp("*", Num(Fraction(a)), Num(Fraction(b))), Num(Fraction(c))),
            Num(Fraction(m)),
        )
        return Statement("Z", (), (), Rel("=", lhs, Num(Fraction((a * b + c) % m))))
    if level == 2:
        a, k = rng.randint(2, 12), rng.randint(2, 6)
        lhs = BinOp("mod", Pow(Num(Fraction(a)), k), Num(Fraction(m)))
        return Statement("Z", (), (), Rel("=", lhs, Num(Fraction(pow(a, k, m)))))
    r = rng.randint(0, m - 1)
    mult = rng.randint(1, 3)
    inner = _linear([m * mult], ["v0"], r)
    return Statement(
        "Z", ("v0",), (), Rel("=", BinOp("mod", inner, Num(Fraction(m))), Num(Fraction(r)))
    )


def divisibility(rng: random.Random, level: int) -> Statement:
    """Divisibility of multiples and linear combinations of multiples."""
    d = rng.randint(2, 9)
    if level == 1:
        other = Var("v0")
        term: Term = (
            BinOp("*", Num(Fraction(d)), other)
            if rng.random() < 0.5
            else BinOp("*", other, Num(Fraction(d)))
        )
        return Statement("Z", ("v0",), (), Divides(Num(Fraction(d)), term))
    n = min(level, 3)
    names = [f"v{i}" for i in range(n)]
    hyps = tuple(Divides(Num(Fraction(d)), Var(v)) for v in names)
    coeffs = [rng.randint(1, 7) for _ in names]
    return Statement("Z", tuple(names), hyps, Divides(Num(Fraction(d)), _linear(coeffs, names)))


def finite_sum(rng: random.Random, level: int) -> Statement:
    """A concrete finite sum of a polynomial in the index equals its value."""
    n = rng.randint(2, 4 + 4 * level)
    c1, c0 = rng.randint(0, 3 + level), rng.randint(0, 5)
    c2 = rng.randint(1, 2) if level >= 3 else 0
    i = Var("i0")
    body: Term = _n(c0)
    if c1:
        body = (
            BinOp("+", BinOp("*", Num(Fraction(c1)), i), body)
            if c0
            else BinOp("*", Num(Fraction(c1)), i)
        )
    if c2:
        body = BinOp("+", BinOp("*", Num(Fraction(c2)), BinOp("*", i, i)), body)
    value = sum(c2 * k * k + c1 * k + c0 for k in range(n + 1))
    return Statement(
        "nat", (), (), Rel("=", SumUpto("i0", body, Num(Fraction(n))), Num(Fraction(value)))
    )


def abs_value(rng: random.Random, level: int) -> Statement:
    """Bounds from absolute values (one per variable); conclude a bound on a sum."""
    domain = rng.choice(("R", "Z"))
    n = min(level, 3)
    names = [f"v{i}" for i in range(n)]
    centers = [rng.randint(-9, 9) for _ in names]
    radii = [rng.randint(1, 6) for _ in names]
    hyps = tuple(
        Rel("<=", Abs(_linear([1], [v], -c)), _n(r))
        for v, c, r in zip(names, centers, radii, strict=True)
    )
    upper = rng.random() < 0.5
    total_c, total_r = sum(centers), sum(radii) + rng.randint(0, 2)
    lhs = _linear([1] * n, names)
    concl = (
        Rel("<=", lhs, _n(total_c + total_r)) if upper else Rel("<=", _n(total_c - total_r), lhs)
    )
    return Statement(domain, tuple(names), hyps, concl)


def induction(rng: random.Random, level: int) -> Statement:
    """Closed forms of sums over ``0..n``, for all n (proved by induction)."""
    n, i = Var("v0"), Var("i0")
    np1 = BinOp("+", n, Num(Fraction(1)))
    if level == 1:  # sum of a constant
        c = rng.randint(1, 9)
        lhs: Term = SumUpto("i0", Num(Fraction(c)), n)
        return Statement("nat", ("v0",), (), Rel("=", lhs, BinOp("*", Num(Fraction(c)), np1)))
    if level == 2:  # 2 * sum (c i + d) = c n (n + 1) + 2 d (n + 1)
        c, d = rng.randint(1, 6), rng.randint(0, 6)
        body: Term = (
            BinOp("*", Num(Fraction(c)), i)
            if not d
            else BinOp("+", BinOp("*", Num(Fraction(c)), i), Num(Fraction(d)))
        )
        lhs = BinOp("*", Num(Fraction(2)), SumUpto("i0", body, n))
        rhs: Term = BinOp("*", BinOp("*", Num(Fraction(c)), n), np1)
        if d:
            rhs = BinOp("+", rhs, BinOp("*", Num(Fraction(2 * d)), np1))
        return Statement("nat", ("v0",), (), Rel("=", lhs, rhs))
    if rng.random() < 0.5:  # sum (2 i + 1) = (n + 1) ^ 2, scaled by c
        c = rng.randint(1, 4)
        body = BinOp("+", BinOp("*", Num(Fraction(2 * c)), i), Num(Fraction(c)))
        return Statement(
            "nat",
            ("v0",),
            (),
            Rel("=", SumUpto("i0", body, n), BinOp("*", Num(Fraction(c)), BinOp("*", np1, np1))),
        )
    lhs = BinOp("*", Num(Fraction(6)), SumUpto("i0", BinOp("*", i, i), n))  # squares
    rhs = BinOp(
        "*", BinOp("*", n, np1), BinOp("+", BinOp("*", Num(Fraction(2)), n), Num(Fraction(1)))
    )
    return Statement("nat", ("v0",), (), Rel("=", lhs, rhs))


def propositional(rng: random.Random, level: int) -> Statement:
    """An intuitionistic tautology built from valid schemas over random atoms."""
    atoms = [f"v{i}" for i in range(2 + level)]

    def pick(k: int) -> list[Prop]:
        return [Var(a) for a in rng.sample(atoms, k)]

    def schema() -> Prop:
        kind = rng.randrange(7)
        if kind == 0:  # chain of implications
            ps = pick(min(len(atoms), 2 + rng.randint(0, level)))
            concl: Prop = Logic("imp", ps[0], ps[-1])
            for a, b in reversed(list(itertools.pairwise(ps))):
                concl = Logic("imp", Logic("imp", a, b), concl)
            return concl
        if kind == 1:  # conjunction elimination and re-introduction
            ps = pick(min(len(atoms), 3))
            conj = Logic("and", ps[0], Logic("and", ps[1], ps[2]))
            return Logic("imp", conj, Logic("and", ps[2], ps[0]))
        if kind == 2:
            p, q = pick(2)
            return Logic("imp", p, Logic("or", q, p))
        if kind == 3:  # currying
            p, q, r = pick(3)
            return Logic(
                "imp", Logic("imp", Logic("and", p, q), r), Logic("imp", p, Logic("imp", q, r))
            )
        if kind == 4:  # contraposition
            p, q = pick(2)
            return Logic("imp", Logic("imp", p, q), Logic("imp", Not(q), Not(p)))
        if kind == 5:  # distributivity
            p, q, r = pick(3)
            left = Logic("and", p, Logic("or", q, r))
            return Logic("imp", left, Logic("or", Logic("and", p, q), Logic("and", p, r)))
        p, q = pick(2)  # or-commutation
        return Logic("iff", Logic("or", p, q), Logic("or", q, p))

    prop = schema()
    for _ in range(level - 1):
        prop = (
            Logic("and", prop, schema())
            if rng.random() < 0.5
            else Logic("imp", Var(rng.choice(atoms)), prop)
        )
    used = [a for a in atoms if a in free_names_of_prop(prop)]
    return Statement("Prop", tuple(used), (), prop)


def free_names_of_prop(p: Prop) -> set[str]:
    """Atom names occurring in a proposition."""
    if isinstance(p, Var):
        return {p.name}
    if isinstance(p, Not):
        return free_names_of_prop(p.arg)
    if isinstance(p, Logic):
        return free_names_of_prop(p.left) | free_names_of_prop(p.right)
    return set()


#: Family name -> (draw function, levels it supports).
FAMILIES: dict[str, tuple[Callable[[random.Random, int], Statement], tuple[int, ...]]] = {
    "linear_eq": (linear_eq, (1, 2, 3)),
    "linear_ineq": (linear_ineq, (1, 2, 3)),
    "poly_identity": (poly_identity, (1, 2, 3)),
    "modular": (modular, (1, 2, 3)),
    "divisibility": (divisibility, (1, 2, 3)),
    "finite_sum": (finite_sum, (1, 2, 3)),
    "abs_value": (abs_value, (1, 2, 3)),
    "induction": (induction, (1, 2, 3)),
    "propositional": (propositional, (1, 2, 3)),
}


# -- generation -------------------------------------------------------------------------------


def canonical_key(statement: Statement) -> str:
    """The statement's Coq text with variables named by order of first appearance."""
    order = free_names(statement)
    canon = {v: f"x{i}" for i, v in enumerate(order)}
    binders = tuple(sorted(statement.binders, key=order.index))
    return render_coq(replace(statement, binders=binders), "_", canon)


def split_of(key: str, heldout_fraction: float) -> str:
    """``"heldout"`` or ``"train"``, from a hash of the canonical key (seed-independent)."""
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    return "heldout" if h < heldout_fraction else "train"


def _surface_names(statement: Statement, rng: random.Random) -> dict[str, str]:
    pool = _PROP_NAMES if statement.domain == "Prop" else _NUM_NAMES
    names = free_names(statement)
    binders = set(statement.binders)
    chosen = rng.sample(pool, len([n for n in names if n in binders]))
    out = dict(zip([n for n in names if n in binders], chosen, strict=True))
    if statement.domain == "nat" or any(n not in binders for n in names):
        # naturals read best as n, m, k; sum indices as i, j
        nat_pool = iter(("n", "m", "k"))
        idx_pool = iter(("i", "j"))
        for n in names:
            if n not in binders:
                out[n] = next(idx_pool)
            elif statement.domain == "nat":
                out[n] = next(nat_pool)
    return out


def generate(
    n: int,
    seed: int = 0,
    *,
    families: Sequence[str] | None = None,
    levels: Sequence[int] | None = None,
    heldout_fraction: float = 0.1,
    max_tries_per_theorem: int = 200,
) -> list[SynthTheorem]:
    """Draw ``n`` distinct theorems (distinct up to renaming), deterministically for ``seed``.

    Args:
        n: How many theorems.
        seed: Seed of every draw.
        families: Families to draw from (default: all of :data:`FAMILIES`), uniformly.
        levels: Difficulty levels allowed (default: each family's own).
        heldout_fraction: Share of canonical forms assigned to ``heldout``.
        max_tries_per_theorem: Give up when this many draws in a row give duplicates.

    Raises:
        ValueError: Unknown family or level, or the families cannot give ``n`` distinct ones.
    """
    names = list(families or FAMILIES)
    unknown = [f for f in names if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown families {unknown}: choose from {', '.join(FAMILIES)}")
    rng = random.Random(seed)
    out: list[SynthTheorem] = []
    seen: set[str] = set()
    misses = 0
    while len(out) < n:
        family = rng.choice(names)
        draw, allowed = FAMILIES[family]
        choices = [lv for lv in allowed if levels is None or lv in levels]
        if not choices:
            raise ValueError(f"family {family} has levels {allowed}, none of {list(levels or [])}")
        level = rng.choice(choices)
        statement = draw(rng, level)
        key = canonical_key(statement)
        if key in seen:
            misses += 1
            if misses > max_tries_per_theorem:
                raise ValueError(
                    f"only {len(out)} distinct theorems after {misses} duplicate draws in a row: "
                    "allow more families or levels, or ask for fewer"
                )
            continue
        misses = 0
        seen.add(key)
        digest = hashlib.sha256(key.encode()).hexdigest()[:10]
        name = f"{family}_{digest}"
        surface = _surface_names(statement, rng)
        out.append(
            SynthTheorem(
                name=name,
                family=family,
                level=level,
                key=key,
                split=split_of(key, heldout_fraction),
                coq=render_coq(statement, name, surface),
                lean=render_lean(statement, name, surface),
            )
        )
    return out


def iter_split(theorems: Sequence[SynthTheorem], split: str) -> Iterator[SynthTheorem]:
    """The theorems of one split."""
    return (t for t in theorems if t.split == split)
