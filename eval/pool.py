"""A pool of Ray actors, each owning its prover processes and its agent, mapping a task over
theorems.

The driver hands out theorems one at a time and gets one JSON-ready record back per theorem;
when a worker dies (``RayActorError``) it starts a replacement and gives the theorem to another
worker, so a crash loses at most the theorem in flight, and that one is retried. Evaluation
(:class:`eval.ray_runner.RayEvaluator`) and tracing (``prover-gym synth``) both run on it.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from agents.base import Agent
from prover_env.backend import Backend
from prover_env.types import Theorem

__all__ = ["ProverPool", "Task"]

_Pool = TypeVar("_Pool", bound="ProverPool")

#: What a worker runs per theorem: ``task(backend, theorem, agent, config) -> record``. It must
#: be a module-level function (Ray pickles it by reference).
Task = Callable[[Backend, Theorem, Agent, Any], dict[str, Any]]


class ProverPool:
    """Ray actors that each own a backend and an agent and run ``task`` on theorems.

    Args:
        agent: Agent name for :func:`agents.factory.make_agent`, with ``agent_kwargs``.
        task: The per-theorem function.
        config: Passed to ``task`` as its last argument.
        backend: Backend name for :func:`prover_env.env.make_backend`, with ``backend_kwargs``.
        workers: Number of actors (one CPU each).
        address: A Ray cluster address (``"auto"``, ``"ray://host:10001"``); ``None`` starts a
            local cluster on loopback.
    """

    def __init__(
        self,
        agent: str,
        task: Task,
        config: Any,
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
        self.spec = (agent, dict(agent_kwargs or {}), backend, dict(backend_kwargs or {}))
        self.task = task
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
        self._broadcasts: dict[str, tuple[Any, ...]] = {}
        self.actors = [self._new_actor() for _ in range(workers)]
        self.replaced = 0

    def _new_actor(self) -> Any:
        actor = self._actor_cls.remote(*self.spec, self.task, self.config)
        for method, args in self._broadcasts.items():  # a replacement gets the latest state
            actor.call_agent.remote(method, *args)
        return actor

    def broadcast(self, method: str, *args: Any) -> None:
        """Call ``agent.method(*args)`` on every worker and wait; replacements started later
        get the same call (the latest per method), e.g. ``broadcast("load_weights", ref)``."""
        self._broadcasts[method] = args
        self._ray.get([a.call_agent.remote(method, *args) for a in self.actors])

    def worker_pids(self) -> list[int]:
        """Process ids of the live actors."""
        return self._ray.get([a.pid.remote() for a in self.actors])

    def map(
        self,
        theorems: Sequence[Theorem],
        on_result: Callable[[Theorem, dict[str, Any]], None],
        progress: bool = True,
        desc: str = "theorems",
    ) -> None:
        """Run the task on every theorem; ``on_result`` gets each record as it arrives.

        Args:
            theorems: What to run, in order of dispatch.
            on_result: Called in the driver with the theorem and its record (write it there).
            progress: Show a progress bar.
            desc: The progress bar's label.
        """
        from tqdm import tqdm

        ray = self._ray
        queue = deque(theorems)
        pending: dict[Any, tuple[Theorem, int]] = {}
        idle = list(range(len(self.actors)))
        with tqdm(total=len(queue), desc=desc, unit="thm", disable=not progress) as bar:
            while queue or pending:
                while queue and idle:
                    slot = idle.pop()
                    theorem = queue.popleft()
                    pending[self.actors[slot].run.remote(theorem)] = (theorem, slot)
                ready, _ = ray.wait(list(pending), num_returns=1)
                theorem, slot = pending.pop(ready[0])
                try:
                    record = ray.get(ready[0])
                except ray.exceptions.RayActorError:
                    # The worker died: nothing of this theorem was kept; retry it elsewhere.
                    queue.appendleft(theorem)
                    self.actors[slot] = self._new_actor()
                    self.replaced += 1
                    idle.append(slot)
                    continue
                idle.append(slot)
                on_result(theorem, record)
                bar.update(1)

    def close(self) -> None:
        """Stop the actors (their provers die with them) and the local cluster if we made it."""
        for actor in self.actors:
            with contextlib.suppress(self._ray.exceptions.RayError):  # dead: nothing to close
                self._ray.get(actor.close.remote(), timeout=30)
            self._ray.kill(actor)
        self.actors = []
        if self._owns_cluster:
            self._ray.shutdown()

    def __enter__(self: _Pool) -> _Pool:
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
        task: Task,
        config: Any,
    ) -> None:
        from agents.factory import make_agent
        from prover_env.env import make_backend

        self.agent = make_agent(agent, **agent_kwargs)
        self.backend = make_backend(backend, **backend_kwargs)
        self.task = task
        self.config = config

    def run(self, theorem: Theorem) -> dict[str, Any]:
        return self.task(self.backend, theorem, self.agent, self.config)

    def call_agent(self, method: str, *args: Any) -> Any:
        return getattr(self.agent, method)(*args)

    def pid(self) -> int:
        return os.getpid()

    def close(self) -> None:
        self.backend.close()
