"""Import LeanDojo Benchmark 4 into prover-gym's proof-step dataset format.

LeanDojo Benchmark 4 (https://zenodo.org/doi/10.5281/zenodo.8040109) ships each split as one JSON
file: a list of theorems, each with ``url``, ``commit``, ``file_path``, ``full_name``, ``start``,
``end`` and ``traced_tactics`` (``tactic``, ``annotated_tactic``, ``state_before``,
``state_after``). :func:`import_leandojo` turns one such file into a dataset directory (see
:mod:`training.dataset`):

* ``steps.jsonl``: one :class:`~training.dataset.StepRecord` (``kind="step"``,
  ``language="lean4"``, ``source="leandojo"``) per traced tactic; LeanDojo's ``"no goals"`` becomes
  ``""``, the schema's "no goals left";
* ``theorems.jsonl``: one :class:`~training.dataset.TheoremRecord` per theorem with at least one
  traced tactic (``proved=True``, ``reason="traced"``, the tactics as its proof);
* ``manifest.json``: where the data came from and the counts.

The benchmark carries no statement text, so ``TheoremRecord.lean`` is ``None``; the first goal
(the statement as Lean prints it) is the record's ``key``. To run a theorem in the env, build it
with :func:`prover_env.lean.dojo_refs.dojo_theorem` from ``labels["url"]``, ``labels["commit"]``,
``labels["file_path"]`` and the name.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.dataset import MANIFEST, STEPS, THEOREMS, StepRecord, TheoremRecord, write_jsonl

__all__ = ["NO_GOALS", "import_leandojo", "leandojo_difficulty", "tactic_head"]

#: How LeanDojo prints a state with no goals left.
NO_GOALS = "no goals"

_THEOREM_KEYS = ("url", "commit", "file_path", "full_name", "traced_tactics")
_TACTIC_KEYS = ("tactic", "state_before", "state_after")
_HEAD = re.compile(r"[A-Za-z_][A-Za-z0-9_'!?]*")


@dataclass(frozen=True)
class _Theorem:
    name: str
    url: str
    commit: str
    file_path: str
    tactics: tuple[tuple[str, str, str], ...]  # (tactic, state_before, state_after)


def tactic_head(tactic: str) -> str:
    """The name of the tactic a Lean 4 tactic text starts with.

    Focusing dots are dropped: ``"· simp [foo]"`` -> ``"simp"``, ``"rw [h] at h2"`` -> ``"rw"``,
    ``"exact?"`` -> ``"exact?"``. Text that does not start with a name gives its first word.
    """
    text = tactic.strip().lstrip("·.").strip()
    match = _HEAD.match(text)
    if match:
        return match.group(0)
    return text.split(None, 1)[0] if text else ""


def leandojo_difficulty(steps: int) -> float:
    """Difficulty of a traced LeanDojo proof: its number of tactics (higher is harder)."""
    return float(steps)


def _state(text: str) -> str:
    return "" if text.strip() == NO_GOALS else text


def _check_theorem(raw: Any, where: str) -> _Theorem:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a JSON object (a theorem), got {type(raw).__name__}")
    missing = [k for k in _THEOREM_KEYS if k not in raw]
    if missing:
        raise ValueError(
            f"{where}: missing key(s) {missing}; a LeanDojo Benchmark 4 theorem has "
            f"{', '.join(_THEOREM_KEYS)} (is this a LeanDojo Benchmark 4 split file?)"
        )
    for key in ("url", "commit", "file_path", "full_name"):
        if not isinstance(raw[key], str) or not raw[key]:
            raise ValueError(f"{where}: {key!r} must be a non-empty string, not {raw[key]!r}")
    traced = raw["traced_tactics"]
    if not isinstance(traced, list):
        raise ValueError(
            f"{where} ({raw['full_name']}): 'traced_tactics' must be a list, "
            f"not {type(traced).__name__}"
        )
    tactics: list[tuple[str, str, str]] = []
    for j, step in enumerate(traced):
        at = f"{where} ({raw['full_name']}), traced_tactics[{j}]"
        if not isinstance(step, dict):
            raise ValueError(f"{at}: expected a JSON object, got {type(step).__name__}")
        missing = [k for k in _TACTIC_KEYS if k not in step]
        if missing:
            raise ValueError(f"{at}: missing key(s) {missing} (needs {', '.join(_TACTIC_KEYS)})")
        bad = [k for k in _TACTIC_KEYS if not isinstance(step[k], str)]
        if bad:
            raise ValueError(f"{at}: {bad} must be strings")
        if not step["tactic"].strip():
            raise ValueError(f"{at}: empty 'tactic'")
        tactics.append((step["tactic"], step["state_before"], _state(step["state_after"])))
    return _Theorem(
        name=raw["full_name"],
        url=raw["url"],
        commit=raw["commit"],
        file_path=raw["file_path"],
        tactics=tuple(tactics),
    )


def _load(path: Path) -> list[Any]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file; pass a LeanDojo Benchmark 4 split file "
            "(e.g. leandojo_benchmark_4/random/test.json)"
        )
    try:
        with path.open("r", encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
        ) from e
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason})") from e
    if not isinstance(data, list):
        raise ValueError(
            f"{path}: expected a JSON list of theorems (LeanDojo Benchmark 4 split file), "
            f"got a JSON {type(data).__name__}"
        )
    return data


def _step_records(theorems: list[_Theorem], split: str) -> Iterator[StepRecord]:
    for theorem in theorems:
        difficulty = leandojo_difficulty(len(theorem.tactics))
        for i, (tactic, before, after) in enumerate(theorem.tactics):
            yield StepRecord(
                theorem=theorem.name,
                state_before=before,
                tactic=tactic,
                state_after=after,
                kind="step",
                step=i,
                language="lean4",
                source="leandojo",
                split=split,
                difficulty=difficulty,
            )


def _theorem_records(theorems: list[_Theorem], split: str) -> Iterator[TheoremRecord]:
    for theorem in theorems:
        heads = dict.fromkeys(tactic_head(t) for t, _, _ in theorem.tactics)
        yield TheoremRecord(
            name=theorem.name,
            key=" ".join(theorem.tactics[0][1].split()),
            split=split,
            proved=True,
            proof=tuple(t for t, _, _ in theorem.tactics),
            reason="traced",
            labels={
                "steps": len(theorem.tactics),
                "tactics": [h for h in heads if h],
                "file_path": theorem.file_path,
                "url": theorem.url,
                "commit": theorem.commit,
            },
            difficulty=leandojo_difficulty(len(theorem.tactics)),
        )


def import_leandojo(
    json_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, split: str | None = None
) -> dict[str, int]:
    """Convert a LeanDojo Benchmark 4 split file into a dataset directory.

    The whole file is checked before anything is written, so a bad file leaves ``out_dir`` as it
    was. Existing ``steps.jsonl``, ``theorems.jsonl`` and ``manifest.json`` in ``out_dir`` are
    replaced.

    Args:
        json_path: The benchmark file (e.g. ``leandojo_benchmark_4/random/test.json``).
        out_dir: Where to write the dataset (created if missing).
        split: Split name for the records (default: the file's stem, e.g. ``"test"``).

    Returns:
        Counts: ``records`` (theorems in the file), ``theorems`` (written), ``steps`` (written),
        ``skipped_no_tactics`` (theorems without traced tactics, not written) and
        ``skipped_duplicates`` (repeats of a ``full_name`` already seen, not written).

    Raises:
        FileNotFoundError: ``json_path`` does not exist.
        ValueError: The file is not a LeanDojo Benchmark 4 split (not JSON, not a list, or a
            record with missing or mistyped keys: the message names the file and the index).
    """
    started = time.perf_counter()
    path = Path(json_path)
    if split is not None and (not isinstance(split, str) or not split.strip()):
        raise ValueError(f"split must be a non-empty name or None (the file's stem), not {split!r}")
    split_name = split if split is not None else path.stem
    data = _load(path)
    theorems: list[_Theorem] = []
    seen: set[str] = set()
    no_tactics = duplicates = 0
    for i, raw in enumerate(data):
        theorem = _check_theorem(raw, f"{path}: record {i}")
        if not theorem.tactics:
            no_tactics += 1
        elif theorem.name in seen:
            duplicates += 1
        else:
            seen.add(theorem.name)
            theorems.append(theorem)
    del data
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_steps = write_jsonl(out / STEPS, _step_records(theorems, split_name))
    n_theorems = write_jsonl(out / THEOREMS, _theorem_records(theorems, split_name))
    counts = {
        "records": n_theorems + no_tactics + duplicates,
        "theorems": n_theorems,
        "steps": n_steps,
        "skipped_no_tactics": no_tactics,
        "skipped_duplicates": duplicates,
    }
    manifest = {
        "source": "leandojo",
        "format": "LeanDojo Benchmark 4",
        "input": str(path.resolve()),
        "split": split_name,
        "language": "lean4",
        "counts": counts,
        "repos": sorted({f"{t.url}@{t.commit}" for t in theorems}),
        "seconds": round(time.perf_counter() - started, 3),
    }
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out / MANIFEST)
    return counts
