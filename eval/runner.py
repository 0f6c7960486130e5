"""Evaluate an agent with a search on a suite: one JSON line per theorem, a summary with pass@k.

Results are appended (and flushed to disk) as each theorem finishes, so an interrupted run
resumes where it stopped: theorems already in ``results.jsonl`` are skipped. A write that fails
(a full disk) leaves no torn line behind and stops the run with a
:class:`~prover_env.error.ResultsWriteError` that says to free space and rerun. This is the
sequential runner (one process); the Ray runner distributes the same per-theorem function.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.base import Agent
from agents.search import SearchConfig, SearchResult, best_first_search, sample_proofs
from eval.passk import suite_pass_at_k
from prover_env._io import append_durably
from prover_env.backend import Backend
from prover_env.error import ResultsWriteError
from prover_env.types import Theorem

__all__ = [
    "EvalConfig",
    "evaluate",
    "load_results",
    "prove_theorem",
    "summarize",
]

RESULTS = "results.jsonl"
SUMMARY = "summary.json"


@dataclass(frozen=True)
class EvalConfig:
    """Settings of an evaluation run.

    Attributes:
        search: ``"bfs"`` (best-first, one search per attempt) or ``"sample"`` (whole-proof
            sampling, ``attempts`` rollouts).
        attempts: Attempts per theorem (``n`` of pass@k).
        ks: The ``k`` values to report (each at most ``attempts``).
        budget: Budgets of each search.
    """

    search: str = "bfs"
    attempts: int = 1
    ks: tuple[int, ...] = (1,)
    budget: SearchConfig = field(default_factory=SearchConfig)

    def __post_init__(self) -> None:
        if self.search not in ("bfs", "sample"):
            raise ValueError(f"search must be 'bfs' or 'sample', not {self.search!r}")
        if self.attempts < 1 or any(not 1 <= k <= self.attempts for k in self.ks):
            raise ValueError(f"need 1 <= k <= attempts (attempts={self.attempts}, ks={self.ks})")


def prove_theorem(
    backend: Backend, theorem: Theorem, agent: Agent, config: EvalConfig
) -> dict[str, Any]:
    """Run the configured search on one theorem; the JSON record of what happened."""
    started = time.monotonic()
    successes = 0
    best: SearchResult | None = None
    results: list[SearchResult] = []
    if config.search == "sample":
        best, successes = sample_proofs(backend, theorem, agent, config.attempts, config.budget)
        results.append(best)
    else:
        for _ in range(config.attempts):
            res = best_first_search(backend, theorem, agent, config.budget)
            results.append(res)
            successes += res.proved
            if res.proved and best is None:
                best = res
        best = best or results[-1]
    # Every found proof is checked once more, from scratch, before it is recorded as proved.
    verdict = backend.verify(theorem, best.proof) if best.proved else None
    proved = bool(verdict and verdict.ok)
    if best.proved and not proved:
        successes = 0  # a proof that does not check again counts for nothing
    return {
        "theorem": theorem.name,
        "split": theorem.split,
        "proved": proved,
        "proof": list(best.proof) if proved else [],
        "script": verdict.script if proved and verdict else None,
        "axioms": list(verdict.axioms) if proved and verdict else [],
        "reverify_failed": bool(best.proved and not proved),
        "attempts": config.attempts,
        "successes": successes,
        "expansions": sum(r.expansions for r in results),
        "tactic_calls": sum(r.tactic_calls for r in results),
        "errors": sum(r.errors for r in results),
        "rejected_finishes": sum(r.rejected_finishes for r in results),
        "reason": best.reason,
        "unusable": best.messages[0] if best.reason == "unusable" and best.messages else None,
        "seconds": round(time.monotonic() - started, 3),
    }


def load_results(out_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records already written in ``out_dir/results.jsonl`` (a torn last line is dropped)."""
    path = Path(out_dir) / RESULTS
    records = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash: that theorem is run again
    return records


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that a crash left without its newline (it is not a whole record)."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def _append(path: Path, record: dict[str, Any]) -> None:
    """Append one record as a JSON line and fsync it: once this returns, it survives a crash.

    Raises:
        ResultsWriteError: The line could not be written whole (e.g. the disk is full). The
            file was cut back to its size before the call (no torn line is left for a resume
            to trip on) and the message says to free space and rerun.
    """
    append_durably(path, (json.dumps(record, ensure_ascii=False) + "\n").encode(), "a result")


def _write_summary(path: Path, summary: dict[str, Any]) -> None:
    """Write ``summary.json`` atomically; a failure keeps the old one (it is rebuilt on rerun)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ResultsWriteError.from_os_error(path, "the summary", e) from e


def summarize(records: Sequence[dict[str, Any]], config: EvalConfig) -> dict[str, Any]:
    """Counts and pass@k over the usable theorems."""
    usable = [r for r in records if r["reason"] != "unusable"]
    pairs = [(r["attempts"], r["successes"]) for r in usable]
    return {
        "theorems": len(records),
        "usable": len(usable),
        "unusable": len(records) - len(usable),
        "proved": sum(r["proved"] for r in usable),
        "search": config.search,
        "attempts": config.attempts,
        "budget": asdict(config.budget),
        **{f"pass@{k}": round(suite_pass_at_k(pairs, k), 4) for k in config.ks},
        "seconds": round(sum(r["seconds"] for r in records), 1),
    }


def evaluate(
    theorems: Sequence[Theorem],
    agent: Agent,
    backend_factory: Callable[[], Backend],
    config: EvalConfig,
    out_dir: str | os.PathLike[str],
    progress: Callable[[Iterable[Theorem]], Iterable[Theorem]] | None = None,
) -> dict[str, Any]:
    """Evaluate ``agent`` on ``theorems``, resuming from what ``out_dir`` already holds.

    Returns:
        The summary (also written to ``out_dir/summary.json``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _drop_torn_tail(out / RESULTS)
    done = {r["theorem"] for r in load_results(out)}
    todo = [t for t in theorems if t.name not in done]
    if todo:
        with backend_factory() as backend:
            for theorem in progress(todo) if progress else todo:
                _append(out / RESULTS, prove_theorem(backend, theorem, agent, config))
    return _finish(out, theorems, config)


def _finish(
    out: Path, theorems: Sequence[Theorem], config: EvalConfig, **extra: Any
) -> dict[str, Any]:
    """Summarize the records of ``theorems`` in ``out`` and write ``summary.json`` atomically."""
    wanted = {t.name for t in theorems}
    records = [r for r in load_results(out) if r["theorem"] in wanted]
    summary = {**summarize(records, config), **extra}
    _write_summary(out / SUMMARY, summary)
    return summary
