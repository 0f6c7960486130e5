"""Build a synthetic dataset: generate theorems, trace them on Coq, write JSONL (``prover-gym
synth``).

Records are appended as each theorem's trace arrives (its steps first, then its theorem line,
which marks it done), so an interrupted build resumes: theorems already in ``theorems.jsonl``
are skipped and step lines of a theorem that never got its theorem line are dropped.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from training.dataset import (
    MANIFEST,
    STEPS,
    THEOREMS,
    StepRecord,
    TheoremRecord,
    append_jsonl,
    read_jsonl,
    write_jsonl,
)
from training.synth import COQ_HEADER, LEAN_HEADER, SynthTheorem, generate
from training.trace import TraceConfig, trace_theorem

__all__ = ["SynthConfig", "build_dataset", "records_of"]


@dataclass(frozen=True)
class SynthConfig:
    """Settings of ``prover-gym synth``.

    Attributes:
        out: Output directory.
        n: Theorems to generate.
        seed: Generator seed.
        families: Families to draw from (``None``: all).
        levels: Levels allowed (``None``: all).
        heldout_fraction: Share of canonical forms in the held-out split.
        agent: Tracing agent name (``steps``, ``automation``, ``llm``).
        agent_kwargs: Its arguments (e.g. ``{"model": PATH}`` for ``llm``).
        workers: Ray workers (1: trace in this process, no Ray).
        address: Ray cluster address (``None``: a local cluster).
        trace: Settings of each theorem's search.
        tactic_timeout: Per-tactic limit of the backend, seconds.
    """

    out: str
    n: int = 2000
    seed: int = 0
    families: tuple[str, ...] | None = None
    levels: tuple[int, ...] | None = None
    heldout_fraction: float = 0.1
    agent: str = "steps"
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    workers: int = 2
    address: str | None = None
    trace: TraceConfig = field(default_factory=TraceConfig)
    tactic_timeout: float = 2.0


def records_of(
    theorem: SynthTheorem, traced: dict[str, Any]
) -> tuple[TheoremRecord, list[StepRecord]]:
    """The dataset lines for one theorem's trace."""
    difficulty = traced["difficulty"]
    steps = [
        StepRecord(**s, source="synth", split=theorem.split, family=theorem.family,
                   difficulty=difficulty)
        for s in traced["steps"]
    ]  # fmt: skip
    record = TheoremRecord(
        name=theorem.name,
        family=theorem.family,
        level=theorem.level,
        key=theorem.key,
        split=theorem.split,
        coq=theorem.coq,
        lean=theorem.lean,
        proved=traced["proved"],
        proof=tuple(traced["proof"]),
        reason=traced["reason"],
        labels=traced["labels"],
        difficulty=difficulty,
    )
    return record, steps


def _resume(out: Path) -> set[str]:
    """Names already traced; drops step lines of theorems that were cut off mid-write."""
    if not (out / THEOREMS).exists():
        for name in (STEPS, THEOREMS):
            (out / name).unlink(missing_ok=True)
        return set()
    done = {r["name"] for r in read_jsonl(out / THEOREMS)}
    write_jsonl(out / THEOREMS, [r for r in read_jsonl(out / THEOREMS)])  # drop a torn tail
    if (out / STEPS).exists():
        write_jsonl(out / STEPS, [s for s in read_jsonl(out / STEPS) if s["theorem"] in done])
    return done


def _check_same_run(out: Path, config: SynthConfig) -> None:
    path = out / MANIFEST
    if not path.exists():
        return
    old = json.loads(path.read_text(encoding="utf-8")).get("config", {})
    for key in ("n", "seed", "families", "levels", "heldout_fraction"):
        new = asdict(config)[key]
        new = list(new) if isinstance(new, tuple) else new
        if key in old and old[key] != new:
            raise ValueError(
                f"{out} holds a dataset built with {key}={old[key]!r}, not {new!r}: use another "
                "--out, or the same settings to resume it"
            )


def build_dataset(config: SynthConfig, progress: bool = True) -> dict[str, Any]:
    """Generate, trace and write a dataset; returns (and writes) its manifest."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    _check_same_run(out, config)
    started = time.monotonic()
    theorems = generate(
        config.n,
        config.seed,
        families=config.families,
        levels=config.levels,
        heldout_fraction=config.heldout_fraction,
    )
    by_name = {t.name: t for t in theorems}
    done = _resume(out)
    todo = [t for t in theorems if t.name not in done]

    def keep(theorem_name: str, traced: dict[str, Any]) -> None:
        record, steps = records_of(by_name[theorem_name], traced)
        append_jsonl(out / STEPS, steps)
        append_jsonl(out / THEOREMS, [record])

    trace_cfg = config.trace
    backend_kwargs = {"timeout": config.tactic_timeout}
    if config.workers <= 1:
        _trace_here(todo, config, backend_kwargs, keep, progress)
    else:
        from eval.pool import ProverPool

        with ProverPool(
            config.agent,
            trace_theorem,
            trace_cfg,
            agent_kwargs=config.agent_kwargs,
            backend_kwargs=backend_kwargs,
            workers=config.workers,
            address=config.address,
        ) as pool:
            pool.map(
                [t.coq_theorem() for t in todo],
                lambda th, rec: keep(th.name, rec),
                progress,
                desc="tracing",
            )
    manifest = _manifest(out, config, time.monotonic() - started, len(todo))
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _trace_here(
    todo: Sequence[SynthTheorem],
    config: SynthConfig,
    backend_kwargs: dict[str, Any],
    keep: Any,
    progress: bool,
) -> None:
    from tqdm import tqdm

    from agents.factory import make_agent
    from prover_env.env import make_backend

    agent = make_agent(config.agent, **config.agent_kwargs)
    with make_backend("coq", **backend_kwargs) as backend:
        for theorem in tqdm(todo, desc="tracing", unit="thm", disable=not progress):
            keep(theorem.name, trace_theorem(backend, theorem.coq_theorem(), agent, config.trace))


def _manifest(out: Path, config: SynthConfig, seconds: float, traced_now: int) -> dict[str, Any]:
    theorems = list(read_jsonl(out / THEOREMS))
    steps = list(read_jsonl(out / STEPS)) if (out / STEPS).exists() else []
    kinds = Counter(s["kind"] for s in steps)
    cfg = json.loads(json.dumps(asdict(config), default=str))
    return {
        "config": cfg,
        "theorems": len(theorems),
        "proved": sum(t["proved"] for t in theorems),
        "unusable": sum(t["reason"] == "unusable" for t in theorems),
        "splits": dict(Counter(t["split"] for t in theorems)),
        "families": {
            f: {
                "theorems": sum(t["family"] == f for t in theorems),
                "proved": sum(t["family"] == f and t["proved"] for t in theorems),
            }
            for f in sorted({t["family"] for t in theorems})
        },
        "steps": kinds.get("step", 0),
        "corrections": kinds.get("correction", 0),
        "traced_this_run": traced_now,
        "seconds_this_run": round(seconds, 1),
        "coq_header": COQ_HEADER,
        "lean_header": LEAN_HEADER,
        "schema": "training.dataset: steps.jsonl (StepRecord), theorems.jsonl (TheoremRecord)",
    }
