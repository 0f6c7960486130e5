"""Evaluation on Ray: one actor per worker, each owning its prover processes and its agent.

The driver hands out theorems one at a time, appends each record to ``results.jsonl`` as soon
as it arrives (so a crash of anything loses no finished result), and when a worker dies
(``RayActorError``) it starts a replacement and gives its theorem to another worker.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.runner import (
    RESULTS,
    SUMMARY,
    EvalConfig,
    _append,
    _drop_torn_tail,
    load_results,
    summarize,
)
from prover_env.types import Theorem

__all__ = ["RayEvaluator"]


class RayEvaluator:
    """Runs ``eval.runner.prove_theorem`` on Ray actors.

    Args:
        agent: Agent name for :func:`agents.factory.make_agent`, with ``agent_kwargs``.
        backend: Backend name for :func:`prover_env.env.make_backend`, with ``backend_kwargs``.
        config: What to run on each theorem.
        workers: Number of actors (one CPU each).
        address: A Ray cluster address (``"auto"``, ``"ray://host:10001"``); ``None`` starts a
            local cluster on loopback.
    """

    def __init__(
        self,
        agent: str,
        config: EvalConfig,
        *,
        agent_kwargs: dict[str, Any] | None = None,
        backend: str = "coq",
        backend_kwargs: dict[str, Any] | None = None,
        workers: int = 2,
        address: str | None = None,
    ) -> None:
        import ray

        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._ray = ray
        self.spec = (agent, dict(agent_kwargs or {}), backend, dict(backend_kwargs or {}), config)
        self.config = config
        self.workers = workers
        self._owns_cluster = not ray.is_initialized()
        if self._owns_cluster:
            kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
            if address is None:
                kwargs.update(num_cpus=workers, _node_ip_address="127.0.0.1")
                kwargs["object_store_memory"] = 80 * 2**20
            ray.init(address=address, **kwargs)
        self._actor_cls = ray.remote(num_cpus=1, max_restarts=0)(_ProverActor)
        self.actors = [self._new_actor() for _ in range(workers)]
        self.replaced = 0

    def _new_actor(self) -> Any:
        return self._actor_cls.remote(*self.spec)

    def worker_pids(self) -> list[int]:
        """Process ids of the live actors."""
        return self._ray.get([a.pid.remote() for a in self.actors])

    def run(
        self,
        theorems: Sequence[Theorem],
        out_dir: str | os.PathLike[str],
        on_record: Callable[[dict[str, Any], RayEvaluator], None] | None = None,
        progress: bool = True,
    ) -> dict[str, Any]:
        """Prove every theorem not already in ``out_dir/results.jsonl``; returns the summary."""
        from tqdm import tqdm

        ray = self._ray
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(out / RESULTS)
        done = {r["theorem"] for r in load_results(out)}
        queue = deque(t for t in theorems if t.name not in done)
        pending: dict[Any, tuple[Theorem, int]] = {}
        bar = tqdm(total=len(queue), desc="theorems", unit="thm", disable=not progress)
        idle = list(range(len(self.actors)))
        proved = 0
        while queue or pending:
            while queue and idle:
                slot = idle.pop()
                theorem = queue.popleft()
                pending[self.actors[slot].prove.remote(theorem)] = (theorem, slot)
            ready, _ = ray.wait(list(pending), num_returns=1)
            ref = ready[0]
            theorem, slot = pending.pop(ref)
            try:
                record = ray.get(ref)
            except ray.exceptions.RayActorError:
                # The worker died: nothing of this theorem was written; retry it elsewhere.
                queue.appendleft(theorem)
                self.actors[slot] = self._new_actor()
                self.replaced += 1
                idle.append(slot)
                continue
            _append(out / RESULTS, record)
            proved += record["proved"]
            bar.update(1)
            bar.set_postfix(proved=proved)
            idle.append(slot)
            if on_record is not None:
                on_record(record, self)
        bar.close()
        wanted = {t.name for t in theorems}
        records = [r for r in load_results(out) if r["theorem"] in wanted]
        summary = summarize(records, self.config)
        summary["workers"] = self.workers
        (out / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return summary

    def close(self) -> None:
        """Stop the actors (their provers die with them) and the local cluster if we made it."""
        for actor in self.actors:
            with contextlib.suppress(
                self._ray.exceptions.RayError
            ):  # a dead actor: nothing to close
                self._ray.get(actor.close.remote(), timeout=30)
            self._ray.kill(actor)
        self.actors = []
        if self._owns_cluster:
            self._ray.shutdown()

    def __enter__(self) -> RayEvaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ProverActor:
    """One worker: its own backend (prover processes) and agent, reused for every theorem."""

    def __init__(
        self,
        agent: str,
        agent_kwargs: dict[str, Any],
        backend: str,
        backend_kwargs: dict[str, Any],
        config: EvalConfig,
    ) -> None:
        from agents.factory import make_agent
        from prover_env.env import make_backend

        self.agent = make_agent(agent, **agent_kwargs)
        self.backend = make_backend(backend, **backend_kwargs)
        self.config = config

    def prove(self, theorem: Theorem) -> dict[str, Any]:
        from eval.runner import prove_theorem

        return prove_theorem(self.backend, theorem, self.agent, self.config)

    def pid(self) -> int:
        return os.getpid()

    def close(self) -> None:
        self.backend.close()
