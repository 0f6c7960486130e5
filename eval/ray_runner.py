"""Evaluation on Ray: one actor per worker, each owning its prover processes and its agent.

The driver hands out theorems one at a time (:class:`eval.pool.ProverPool`), appends each
record to ``results.jsonl`` as soon as it arrives (so a crash of anything loses no finished
result), and when a worker dies it starts a replacement and gives its theorem to another worker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.pool import ProverPool
from eval.runner import (
    RESULTS,
    EvalConfig,
    _append,
    _drop_torn_tail,
    _finish,
    load_results,
    prove_theorem,
)
from prover_env.types import Theorem

__all__ = ["RayEvaluator"]


class RayEvaluator(ProverPool):
    """Runs ``eval.runner.prove_theorem`` on Ray actors (a :class:`eval.pool.ProverPool`).

    Args:
        agent: Agent name for :func:`agents.factory.make_agent`.
        config: What to run on each theorem.
        **pool: ``agent_kwargs``, ``backend``, ``backend_kwargs``, ``workers``, ``address``:
            as for :class:`eval.pool.ProverPool`.
    """

    def __init__(self, agent: str, config: EvalConfig, **pool: Any) -> None:
        super().__init__(agent, prove_theorem, config, **pool)

    def run(
        self,
        theorems: Sequence[Theorem],
        out_dir: str | os.PathLike[str],
        on_record: Callable[[dict[str, Any], RayEvaluator], None] | None = None,
        progress: bool = True,
    ) -> dict[str, Any]:
        """Prove every theorem not already in ``out_dir/results.jsonl``; returns the summary."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(out / RESULTS)
        done = {r["theorem"] for r in load_results(out)}

        def keep(_theorem: Theorem, record: dict[str, Any]) -> None:
            _append(out / RESULTS, record)
            if on_record is not None:
                on_record(record, self)

        self.map([t for t in theorems if t.name not in done], keep, progress)
        return _finish(out, theorems, self.config, workers=self.workers)
