"""Proof-step datasets as JSON lines: one schema for synthetic traces and imported corpora.

A dataset directory holds (any file may be absent):

``steps.jsonl``
    One :class:`StepRecord` per line. ``kind == "step"``: the tactic ``tactic`` took the proof
    from ``state_before`` to ``state_after`` (``""`` when it closed the last goal).
    ``kind == "correction"``: at ``state_before`` the tactic ``failed_tactic`` was tried and the
    prover answered ``error``; ``tactic`` is the one that then worked from that same state, on
    the path of the proof that was found (the corrective feedback a model can learn from).
``theorems.jsonl``
    One :class:`TheoremRecord` per line: the statement in each language, its split, whether the
    tracer proved it, the proof, and difficulty labels measured while tracing.
``manifest.json``
    How the dataset was made (generator seed, counts, timings, the Coq header, ...).

Goals are rendered the way the backends print them (hypotheses, then ``⊢ conclusion``, goals
separated by a blank line), so a model trained on these records sees what the env shows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from prover_env._io import append_durably
from prover_env.error import DataNotFoundError, ResultsWriteError
from prover_env.types import Theorem

__all__ = [
    "MANIFEST",
    "STEPS",
    "THEOREMS",
    "StepRecord",
    "TheoremRecord",
    "append_jsonl",
    "coq_theorems",
    "read_jsonl",
    "read_steps",
    "read_theorems",
    "write_jsonl",
]

STEPS = "steps.jsonl"
THEOREMS = "theorems.jsonl"
MANIFEST = "manifest.json"

StepKind = Literal["step", "correction"]


@dataclass(frozen=True)
class StepRecord:
    """One training example: a proof state and the tactic that made progress there.

    Attributes:
        theorem: Name of the theorem the step belongs to.
        state_before: Goals before the tactic.
        tactic: The tactic that worked (the training target).
        state_after: Goals after ``tactic`` (``""``: no goals left).
        kind: ``"step"`` or ``"correction"`` (see the module docstring).
        failed_tactic: For corrections: the tactic the prover rejected at ``state_before``.
        error: For corrections: the prover's message for ``failed_tactic``.
        step: Position of ``tactic`` in the proof (0 = first tactic).
        language: ``"coq"`` or ``"lean4"``.
        source: Where the record comes from (``"synth"``, ``"leandojo"``, ...).
        split: ``"train"``, ``"heldout"``, or a corpus's own split name.
        family: Generator family of the theorem, if synthetic.
        difficulty: Difficulty of the theorem (see :mod:`training.trace`), if known.
    """

    theorem: str
    state_before: str
    tactic: str
    state_after: str = ""
    kind: StepKind = "step"
    failed_tactic: str | None = None
    error: str | None = None
    step: int = 0
    language: str = "coq"
    source: str = "synth"
    split: str | None = None
    family: str | None = None
    difficulty: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("step", "correction"):
            raise ValueError(f"kind must be 'step' or 'correction', not {self.kind!r}")
        if self.kind == "correction" and (self.failed_tactic is None or self.error is None):
            raise ValueError("a correction record needs failed_tactic and error")


@dataclass(frozen=True)
class TheoremRecord:
    """A theorem of a dataset and what tracing it found.

    Attributes:
        name: Theorem name (unique in the dataset).
        family: Generator family (``None`` for imported corpora).
        level: Difficulty knob the generator used (1 = easiest).
        key: Canonical form of the statement up to renaming (de-duplication and splitting).
        split: ``"train"`` or ``"heldout"``.
        coq: The Coq statement (``Theorem name : ... .``), if rendered.
        lean: The Lean 4 statement (``theorem name : ...``), if rendered.
        proved: The tracer found a proof the kernel accepted.
        proof: That proof's tactics.
        reason: Why tracing stopped (``"proved"``, ``"budget"``, ``"unusable"``, ...).
        labels: Measured while tracing: ``steps``, ``expansions``, ``tactic_calls``,
            ``errors``, ``seconds``, ``tactics`` (the head tactics the proof needed).
        difficulty: One number from the labels (higher is harder; see :mod:`training.trace`).
    """

    name: str
    family: str | None = None
    level: int = 1
    key: str = ""
    split: str = "train"
    coq: str | None = None
    lean: str | None = None
    proved: bool = False
    proof: tuple[str, ...] = ()
    reason: str = ""
    labels: dict[str, Any] = field(default_factory=dict)
    difficulty: float | None = None


def _to_json(record: StepRecord | TheoremRecord | dict[str, Any]) -> str:
    data = record if isinstance(record, dict) else asdict(record)
    return json.dumps(data, ensure_ascii=False)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _lines(records: Iterable[StepRecord | TheoremRecord | dict[str, Any]]) -> Iterator[bytes]:
    """The records as JSON-line bytes, in chunks of about 1 MiB."""
    chunk: list[str] = []
    size = 0
    for record in records:
        line = _to_json(record) + "\n"
        chunk.append(line)
        size += len(line)
        if size >= 1 << 20:
            yield "".join(chunk).encode()
            chunk, size = [], 0
    if chunk:
        yield "".join(chunk).encode()


def write_jsonl(
    path: str | os.PathLike[str], records: Iterable[StepRecord | TheoremRecord | dict[str, Any]]
) -> int:
    """Write ``records`` to ``path`` (replacing it atomically); returns how many were written.

    Raises:
        ResultsWriteError: The disk is full (or another write error): ``path`` is left as it
            was, and no temporary file remains.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    n = 0

    def counted() -> Iterator[StepRecord | TheoremRecord | dict[str, Any]]:
        nonlocal n
        for record in records:
            n += 1
            yield record

    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    except OSError as e:
        raise ResultsWriteError.from_os_error(path, "the dataset file", e) from e
    try:
        try:
            for data in _lines(counted()):  # reading the records is not writing: not wrapped
                try:
                    _write_all(fd, data)
                except OSError as e:
                    raise ResultsWriteError.from_os_error(path, "the dataset file", e) from e
            try:
                os.fsync(fd)
            except OSError as e:
                raise ResultsWriteError.from_os_error(path, "the dataset file", e) from e
        finally:
            os.close(fd)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


def append_jsonl(
    path: str | os.PathLike[str], records: Iterable[StepRecord | TheoremRecord | dict[str, Any]]
) -> None:
    """Append ``records`` to ``path`` and flush them to disk (all of them, or none).

    Raises:
        ResultsWriteError: The disk is full (or another write error): ``path`` was cut back to
            its size before the call, so no torn line is left, and the message says to free
            space and rerun (the build resumes).
    """
    append_durably(path, b"".join(_lines(records)), "dataset records")


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines file; a torn last line (a crash mid-write) is skipped.

    Raises:
        ValueError: A line other than the last is not valid JSON (the file is not a dataset).
    """
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as e:
            if i == len(lines) - 1:
                return
            raise ValueError(f"{path}:{i + 1}: not a JSON line ({e.msg})") from e


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)} for {cls.__name__}")
    try:
        return cls(**data)
    except TypeError as e:
        raise ValueError(f"{where}: {e}") from e


def read_steps(path: str | os.PathLike[str]) -> Iterator[StepRecord]:
    """The :class:`StepRecord` lines of ``path`` (a file, or a dataset directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / STEPS
    for i, data in enumerate(read_jsonl(path)):
        yield _build(StepRecord, data, f"{path}:{i + 1}")


def read_theorems(path: str | os.PathLike[str]) -> Iterator[TheoremRecord]:
    """The :class:`TheoremRecord` lines of ``path`` (a file, or a dataset directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / THEOREMS
    for i, data in enumerate(read_jsonl(path)):
        data = {**data, "proof": tuple(data.get("proof", ()))}
        yield _build(TheoremRecord, data, f"{path}:{i + 1}")


def coq_theorems(
    dataset_dir: str | os.PathLike[str], split: str | None = None
) -> list[tuple[TheoremRecord, Theorem]]:
    """The theorems of a dataset directory that have a Coq statement, as Coq :class:`Theorem`
    objects (header: ``manifest.json``'s ``coq_header``, else ``""``), with their records.

    Args:
        dataset_dir: A folder holding ``theorems.jsonl`` (and ``manifest.json``).
        split: Only this split (``None``: all).

    Raises:
        DataNotFoundError: No ``theorems.jsonl`` there.
        ValueError: A malformed ``theorems.jsonl`` or ``manifest.json``.
    """
    root = Path(dataset_dir)
    path = root / THEOREMS
    if not path.is_file():
        raise DataNotFoundError(
            f"{path} not found: pass a dataset directory holding {THEOREMS} (made by "
            "`prover-gym synth` or `prover-gym import-leandojo`)"
        )
    header = ""
    if (root / MANIFEST).is_file():
        try:
            manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{root / MANIFEST}: invalid JSON ({e.msg})") from e
        value = manifest.get("coq_header") if isinstance(manifest, dict) else None
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{root / MANIFEST}: 'coq_header' must be a string")
        header = value or ""
    return [
        (r, Theorem(r.name, r.coq, header, "coq", r.split, str(path)))
        for r in read_theorems(path)
        if r.coq and (split is None or r.split == split)
    ]
