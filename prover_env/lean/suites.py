"""Lean 4 theorem suites: MiniF2F in Lean 4 and user ``.lean`` files.

Two MiniF2F layouts are read:

- the flat layout of ``$PROVER_GYM_DATA/minif2f-lean4``: ``<root>/<split>/<NAME>.lean``, one
  theorem per file, each file starting with ``import Mathlib`` (plus ``<root>/lean-toolchain``);
- a clone of github.com/yangky11/miniF2F-lean4: ``<root>/MiniF2F/Valid/<NAME>.lean`` and
  ``<root>/MiniF2F/Test/<NAME>.lean`` (one theorem per file; ``MiniF2F/Valid.lean`` then only
  imports them), or, in older commits, ``MiniF2F/Valid.lean`` and ``MiniF2F/Test.lean`` holding
  every theorem of the split after ``import MiniF2F.Minif2fImport`` (that header only elaborates
  inside the miniF2F-lean4 project itself).

The parser is lexical: it knows Lean 4's comments (``--``, nested ``/- -/``, docstrings),
strings, character literals and ``«»`` names, and the commands that start a declaration, which
is all it needs to cut a file into commands and a theorem into statement and proof. Nothing here
runs Lean.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from prover_env.error import DataNotFoundError
from prover_env.suites import resolve_suite_dir
from prover_env.types import Theorem

__all__ = [
    "MINIF2F_LEAN_SUITE",
    "builtin_lean_theorems",
    "lean_toolchain",
    "load_lean_file",
    "load_minif2f_lean",
    "parse_lean_source",
]

#: Folder name of MiniF2F-Lean4 under ``PROVER_GYM_DATA``.
MINIF2F_LEAN_SUITE = "minif2f-lean4"

# Keywords that always begin a command: Lean 4 reserves them, so outside comments and strings
# they cannot occur inside a term or a tactic proof.
_COMMAND_WORDS = frozenset(
    {
        "theorem",
        "lemma",
        "def",
        "abbrev",
        "instance",
        "structure",
        "inductive",
        "class",
        "example",
        "axiom",
        "opaque",
        "namespace",
        "section",
        "end",
        "variable",
        "universe",
        "import",
        "mutual",
        "noncomputable",
        "private",
        "protected",
        "unsafe",
        "partial",
        "nonrec",
        "macro_rules",
        "syntax",
        "macro",
        "elab",
        "elab_rules",
        "notation",
        "infix",
        "infixl",
        "infixr",
        "prefix",
        "postfix",
        "attribute",
        "initialize",
        "builtin_initialize",
        "declare_syntax_cat",
        "add_decl_doc",
        "omit",
        "include",
        "export",
    }
)
# Commands that also exist as tactics or terms (``open Real in simp``, ``set_option x in``):
# they start a command only at column 0.
_LINE_START = re.compile(r"(?:open|set_option)(?![\w'!?])|@\[|#[a-z]")
_MODIFIER = re.compile(
    r"(?:@\[[^\]]*\]|private|protected|noncomputable|unsafe|partial|nonrec|scoped|local)"
)
_THEOREM_WORDS = frozenset({"theorem", "lemma"})
_DROPPED_WORDS = _THEOREM_WORDS | {"example"}  # declarations that never go into a header
_WORD = re.compile(r"(?<![\w.'!?])([A-Za-z_][A-Za-z_]*)(?![\w'!?])")
_OPEN = "([{⟨⦃⟦⦋⁅"
_CLOSE = ")]}⟩⦄⟧⦌⁆"
_BINDERS = frozenset({"let", "have", "letI", "haveI"})  # terms with their own `:=`
_CHAR_LITERAL = re.compile(r"'(?:[^'\\\n]|\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.))'")
_NAME = re.compile(r"[^\s(){}\[\]⦃⦄⟨⟩:,]+")


def _is_ident_char(c: str) -> bool:
    return c.isalnum() or c in "_'!?"


def _mask(text: str) -> tuple[str, str]:
    """Blank out what the structural scan must not see.

    Returns:
        ``(code, skeleton)``, both as long as ``text`` with newlines in place: ``code`` has the
        comments replaced by spaces; ``skeleton`` also has the contents of strings and character
        literals blanked and ``«»`` names turned into ``_``.
    """
    code = list(text)
    skel = list(text)
    n = len(text)

    def blank(buf: list[str], start: int, end: int, fill: str = " ") -> None:
        for k in range(start, min(end, n)):
            if buf[k] != "\n":
                buf[k] = fill

    i = 0
    while i < n:
        c = text[i]
        if c == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(code, i, end)
            blank(skel, i, end)
            i = end
        elif c == "/" and text.startswith("/-", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/-", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("-/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(code, i, j)
            blank(skel, i, j)
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(skel, i + 1, j, "x")
            i = j + 1
        elif c == "'" and (i == 0 or not _is_ident_char(text[i - 1])):
            m = _CHAR_LITERAL.match(text, i)
            if m:
                blank(skel, i + 1, m.end() - 1, "x")
                i = m.end()
            else:
                i += 1
        elif c == "«":
            end = text.find("»", i)
            end = n if end < 0 else end
            blank(skel, i, end + 1, "_")
            i = end + 1
        else:
            i += 1
    return "".join(code), "".join(skel)


def _line_start(skel: str, text: str, pos: int) -> bool:
    """Whether ``pos`` is the first code on its line and the line is not indented."""
    bol = skel.rfind("\n", 0, pos) + 1
    return not skel[bol:pos].strip() and (pos == bol or text[bol] not in " \t")


def _command_starts(text: str, skel: str) -> list[int]:
    """Offsets where a command begins (0 included)."""
    starts = {0}
    starts.update(m.start() for m in _WORD.finditer(skel) if m.group(1) in _COMMAND_WORDS)
    for m in re.finditer(r"(?m)^[ \t]*(\S)", skel):
        pos = m.start(1)
        if _LINE_START.match(skel, pos) and _line_start(skel, text, pos):
            starts.add(pos)
    return sorted(starts)


def _only_modifiers(code: str) -> bool:
    words = re.findall(r"@\[[^\]]*\]|\S+", code)
    return bool(words) and all(_MODIFIER.fullmatch(w) for w in words)


def _ends_with_in(code: str) -> bool:
    return re.search(r"(?<![\w.'!?])in\s*$", code) is not None


@dataclass
class _Command:
    start: int
    end: int
    keyword: str | None  # the word the command starts with, if any
    is_prefix: bool  # modifiers, attributes, or `open X in`: it modifies the next command


def _commands(text: str, skel: str) -> Iterator[list[_Command]]:
    """Cut the file into commands; yield each one after the prefixes that modify it."""
    starts = _command_starts(text, skel)
    pending: list[_Command] = []
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        piece = skel[start:end].strip()
        if not piece:
            continue
        first = _WORD.match(piece)
        keyword = first.group(1) if first else None
        cmd = _Command(start, end, keyword, _only_modifiers(piece) or _ends_with_in(piece))
        pending.append(cmd)
        if not cmd.is_prefix:
            yield pending
            pending = []
    if pending:
        yield pending


def _proof_assign(skel: str, start: int, end: int) -> int | None:
    """Position of the ``:=`` that starts the proof in ``skel[start:end]``.

    It is the first ``:=`` at bracket depth 0 that does not belong to a ``let``/``have`` of the
    statement (``theorem t : let x := 1; x = 1 := by ...``).
    """
    depth = 0
    pending = 0
    i = start
    while i < end:
        c = skel[i]
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth = max(depth - 1, 0)
        elif depth == 0 and skel.startswith(":=", i):
            if pending == 0:
                return i
            pending -= 1
            i += 2
            continue
        elif depth == 0 and c.isalpha() and (i == start or not _is_ident_char(skel[i - 1])):
            m = re.match(r"[A-Za-z_][\w'!?]*", skel[i:end])
            if m:
                if m.group() in _BINDERS and skel[i - 1] != ".":
                    pending += 1
                i += len(m.group())
                continue
        i += 1
    return None


def _tidy(code: str) -> str:
    """Trailing spaces off every line, at most one blank line in a row, no outer blank lines."""
    lines = [line.rstrip() for line in code.splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _without_trailing_in(code: str) -> str:
    return re.sub(r"(?<![\w.'!?])in\s*$", "", code.rstrip()).rstrip()


def parse_lean_source(
    text: str, *, split: str | None = None, source: str | None = None
) -> list[Theorem]:
    """Read every ``theorem``/``lemma`` of a Lean 4 file.

    Each theorem's ``statement`` runs from its ``theorem`` keyword up to (not including) the
    ``:=`` that starts its proof, with the file's own line breaks (comments inside the statement
    are kept; comments after it are not). The proof itself (``by sorry``, a tactic block or a
    term) is dropped. ``header`` is every other command before the theorem, comments removed:
    imports, options, ``open``, ``namespace``, definitions...; earlier theorems, lemmas and
    examples are left out of it. Attributes and modifiers of a theorem (``@[simp]``,
    ``private``) are dropped; an ``open X in`` prefix becomes ``open X`` in its header.

    Theorems without a ``:=`` (defined by pattern matching) are skipped.

    Args:
        text: Lean 4 source.
        split: Split to record on the theorems.
        source: Path to record on the theorems.

    Returns:
        The theorems, in file order.
    """
    code, skel = _mask(text)
    header_parts: list[str] = []
    theorems: list[Theorem] = []
    for group in _commands(text, skel):
        decl = group[-1]
        if decl.keyword not in _DROPPED_WORDS:
            header_parts.extend(code[c.start : c.end] for c in group)
            continue
        if decl.keyword not in _THEOREM_WORDS:
            continue
        kw = skel.index(decl.keyword, decl.start)
        after = kw + len(decl.keyword)
        gap = len(skel[after : decl.end]) - len(skel[after : decl.end].lstrip())
        m = _NAME.match(skel, after + gap, decl.end)
        assign = _proof_assign(skel, after, decl.end)
        if not m or not gap or assign is None:
            continue
        name = text[m.start() : m.end()].removesuffix(".")  # `t.{u}`: universe parameters
        body = skel[kw:assign].rstrip()
        statement = text[kw : kw + len(body)].strip()
        scoped = [
            _without_trailing_in(code[c.start : c.end])
            for c in group[:-1]
            if not _only_modifiers(skel[c.start : c.end])
        ]
        header = _tidy("".join(header_parts) + "\n" + "\n".join(scoped))
        theorems.append(Theorem(name, statement, header, "lean4", split, source))
    return theorems


def load_lean_file(path: str | os.PathLike[str], *, split: str | None = None) -> list[Theorem]:
    """Every theorem of one ``.lean`` file (see :func:`parse_lean_source`)."""
    p = Path(path)
    return parse_lean_source(p.read_text(encoding="utf-8"), split=split, source=str(p))


def builtin_lean_theorems() -> list[Theorem]:
    """Small core-Lean theorems shipped with the package (the default of ``ProverEnv/Lean-v0``)."""
    text = resources.files("prover_env").joinpath("data/builtin.lean").read_text(encoding="utf-8")
    return parse_lean_source(text, split="builtin", source="prover_env/data/builtin.lean")


def lean_toolchain(root: str | os.PathLike[str]) -> str | None:
    """The toolchain pinned by ``<root>/lean-toolchain`` (``"leanprover/lean4:v4.24.0"``).

    Returns:
        The file's first non-empty line, or None when the file is missing or empty.
    """
    path = Path(root) / "lean-toolchain"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return next((line.strip() for line in lines if line.strip()), None)


def _child(folder: Path, name: str, *, is_dir: bool) -> Path | None:
    """``folder/name``, matching the name case-insensitively."""
    if not folder.is_dir():
        return None
    exact = folder / name
    if (exact.is_dir() if is_dir else exact.is_file()) and exact.name == name:
        return exact
    for p in sorted(folder.iterdir()):
        if p.name.lower() == name.lower() and (p.is_dir() if is_dir else p.is_file()):
            return p
    return None


def _splits_present(root: Path) -> list[str]:
    found: set[str] = set()
    for base in (root, root / "MiniF2F"):
        if base.is_dir():
            for p in base.iterdir():
                if p.is_dir() and p.name != "MiniF2F" and any(p.glob("*.lean")):
                    found.add(p.name.lower())
                elif p.suffix == ".lean" and p.stem.lower() in ("valid", "test"):
                    found.add(p.stem.lower())
    return sorted(found)


def _load_root(root: Path, split: str) -> list[Theorem]:
    label = split.lower()
    for base in (root, root / "MiniF2F"):
        folder = _child(base, split, is_dir=True)
        files = sorted(folder.glob("*.lean")) if folder else []
        if files:
            theorems = []
            for path in files:
                found = load_lean_file(path, split=label)
                if found:
                    by_name = {t.name: t for t in found}
                    theorems.append(by_name.get(path.stem, found[-1]))
            return theorems
    for base in (root / "MiniF2F", root):
        single = _child(base, f"{split}.lean", is_dir=False)
        if single:
            theorems = load_lean_file(single, split=label)
            if theorems:
                return theorems
    raise DataNotFoundError(
        f"no split {split!r} of {MINIF2F_LEAN_SUITE} in {root}: expected {root}/{split}/*.lean "
        f"or {root}/MiniF2F/{split.capitalize()}/*.lean (a clone of "
        "https://github.com/yangky11/miniF2F-lean4); splits present: "
        f"{', '.join(_splits_present(root)) or 'none'}"
    )


def load_minif2f_lean(
    split: str = "valid", data_dir: str | os.PathLike[str] | None = None
) -> list[Theorem]:
    """MiniF2F in Lean 4: ``split`` is ``"valid"`` or ``"test"`` (any case).

    Args:
        split: The split; the ``split`` recorded on the theorems is its lower-case form.
        data_dir: The suite's root (flat layout or a clone of miniF2F-lean4), or a folder holding
            ``minif2f-lean4/``; default ``$PROVER_GYM_DATA/minif2f-lean4``.

    Returns:
        The split's theorems, sorted by file name (file order within a single file).

    Raises:
        DataNotFoundError: No data, or no such split; the message says what to set or clone.
    """
    return _load_root(resolve_suite_dir(MINIF2F_LEAN_SUITE, data_dir), split)
