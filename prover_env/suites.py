"""Theorem suites: MiniF2F (Coq layout), user files and the built-in theorems.

A suite is a directory ``<root>/<split>/<name>.v`` with one theorem per file (the MiniF2F-rocq
layout). ``data_dir`` names one suite's root; the ``PROVER_GYM_DATA`` environment variable names
a folder that holds suites side by side (``minif2f-rocq/``, ``minif2f-lean4/``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from prover_env.coq.sentences import split_sentences, strip_comments
from prover_env.error import DataNotFoundError, TheoremError
from prover_env.types import Theorem

__all__ = [
    "DATA_ENV_VAR",
    "SuiteReport",
    "builtin_coq_theorems",
    "check_suite",
    "load_coq_dir",
    "load_minif2f_coq",
    "parse_coq_source",
    "resolve_suite_dir",
]

#: Environment variable naming a folder that holds suites side by side.
DATA_ENV_VAR = "PROVER_GYM_DATA"

_SUITE_HINTS = {
    "minif2f-rocq": "git clone https://github.com/LLM4Rocq/miniF2F-rocq minif2f-rocq",
    "minif2f-lean4": "git clone https://github.com/yangky11/miniF2F-lean4 minif2f-lean4",
}
_STATEMENT = re.compile(
    r"^(?:#\[[^\]]*\]\s*)?(?:Local\s+|Global\s+)?"
    r"(Theorem|Lemma|Fact|Remark|Corollary|Proposition|Property|Example)\s+([A-Za-z_][\w']*)"
)
_PROOF_END = re.compile(r"^(Qed|Defined|Admitted|Abort|Save)\b")


def parse_coq_source(
    text: str, *, split: str | None = None, source: str | None = None
) -> list[Theorem]:
    """Read every theorem of a Coq file.

    A theorem's header is everything before it, except earlier theorems whose proofs do not end
    in ``Qed``/``Defined`` (they would add axioms). Proofs in the file are ignored.

    Args:
        text: Coq source.
        split: Split to record on the theorems.
        source: Path to record on the theorems.

    Returns:
        The theorems, in file order.
    """
    sentences = [s for s in map(strip_comments, split_sentences(text)) if s]
    prefix: list[str] = []
    theorems: list[Theorem] = []
    i = 0
    while i < len(sentences):
        sentence = sentences[i]
        m = _STATEMENT.match(sentence)
        if not m:
            prefix.append(sentence)
            i += 1
            continue
        theorems.append(Theorem(m.group(2), sentence, "\n".join(prefix), "coq", split, source))
        j = i + 1
        while j < len(sentences) and not _PROOF_END.match(sentences[j]):
            if _STATEMENT.match(sentences[j]):
                break
            j += 1
        ended = sentences[j] if j < len(sentences) else ""
        if ended.startswith(("Qed", "Defined")):
            prefix.extend(sentences[i : j + 1])
        i = j + 1 if _PROOF_END.match(ended) else j
    return theorems


def builtin_coq_theorems() -> list[Theorem]:
    """Small theorems shipped with the package (the default of ``ProverEnv/Coq-v0``)."""
    text = resources.files("prover_env").joinpath("data/builtin.v").read_text(encoding="utf-8")
    return parse_coq_source(text, split="builtin", source="prover_env/data/builtin.v")


def resolve_suite_dir(suite: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Find a suite's root directory.

    Args:
        suite: Folder name of the suite under ``PROVER_GYM_DATA`` (``"minif2f-rocq"``).
        data_dir: The suite's root (or a folder holding it); overrides the environment.

    Raises:
        DataNotFoundError: Nothing found; the message says where to get the data.
    """
    candidates: list[Path] = []
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        candidates += [root / suite, root]
    elif os.environ.get(DATA_ENV_VAR):
        candidates.append(Path(os.environ[DATA_ENV_VAR]).expanduser() / suite)
    for candidate in candidates:
        if candidate.is_dir() and any(p.is_dir() for p in candidate.iterdir()):
            return candidate
    where = ", ".join(str(c) for c in candidates) or f"${DATA_ENV_VAR} is not set"
    raise DataNotFoundError(
        f"suite {suite!r} not found ({where}). Pass data_dir=<root with one folder per split>, "
        f"or set {DATA_ENV_VAR} to a folder that holds {suite}/. To get it: "
        f"{_SUITE_HINTS.get(suite, 'see the README')}"
    )


def load_coq_dir(root: str | os.PathLike[str], split: str) -> list[Theorem]:
    """Load ``<root>/<split>/*.v``, one theorem per file (the last one if a file has several).

    Raises:
        DataNotFoundError: The split's folder does not exist or holds no ``.v`` file.
    """
    folder = Path(root) / split
    files = sorted(folder.glob("*.v")) if folder.is_dir() else []
    if not files:
        have = (
            sorted(p.name for p in Path(root).iterdir() if p.is_dir())
            if Path(root).is_dir()
            else []
        )
        raise DataNotFoundError(
            f"no .v files in {folder} (splits present: {', '.join(have) or 'none'})"
        )
    theorems = []
    for path in files:
        found = parse_coq_source(path.read_text(encoding="utf-8"), split=split, source=str(path))
        if found:
            by_name = {t.name: t for t in found}
            theorems.append(by_name.get(path.stem, found[-1]))
    return theorems


def load_minif2f_coq(
    split: str = "valid", data_dir: str | os.PathLike[str] | None = None
) -> list[Theorem]:
    """MiniF2F in Coq (the MiniF2F-rocq layout): ``split`` is ``"valid"`` or ``"test"``."""
    return load_coq_dir(resolve_suite_dir("minif2f-rocq", data_dir), split)


@dataclass
class SuiteReport:
    """Which theorems of a suite elaborate on the installed prover."""

    usable: list[str] = field(default_factory=list)
    unusable: dict[str, str] = field(default_factory=dict)  # name -> prover's message


def check_suite(
    theorems: Sequence[Theorem],
    backend: object,
    progress: Callable[[Iterable[Theorem]], Iterable[Theorem]] | None = None,
) -> SuiteReport:
    """Start every theorem once and report those that do not elaborate (never raises for them).

    Args:
        theorems: The suite.
        backend: A backend with ``start(theorem)``.
        progress: Optional wrapper for a progress bar (``tqdm``).
    """
    report = SuiteReport()
    for theorem in progress(theorems) if progress else theorems:
        try:
            backend.start(theorem)  # type: ignore[attr-defined]
        except TheoremError as e:
            report.unusable[theorem.name] = e.message
        else:
            report.usable.append(theorem.name)
    return report
