"""Shared fixtures: a real Coq backend, and MiniF2F data from ../shared/datasets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from prover_env import CoqBackend, Theorem

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "datasets"

if not os.environ.get("PROVER_GYM_DATA") and SHARED_DATA.is_dir():
    os.environ["PROVER_GYM_DATA"] = str(SHARED_DATA)

REALS = "Require Import Reals.\nOpen Scope R_scope."
LINEAR = Theorem(
    "lin", "Theorem lin : forall x y : R, x + y = 2 -> x - y = 0 -> x = 1.", header=REALS
)


def minif2f_available() -> bool:
    """Whether the MiniF2F-rocq valid split can be found."""
    data = os.environ.get("PROVER_GYM_DATA")
    return bool(data) and (Path(data) / "minif2f-rocq" / "valid").is_dir()


needs_minif2f = pytest.mark.skipif(
    not minif2f_available(),
    reason="MiniF2F-rocq not found: set PROVER_GYM_DATA to a folder holding minif2f-rocq/",
)


@pytest.fixture(scope="module")
def coq() -> Iterator[CoqBackend]:
    """One real coqidetop-backed backend per test module."""
    with CoqBackend(timeout=10.0) as backend:
        yield backend


def coqidetop_pids() -> list[int]:
    """Pids of coqidetop processes that are children of this test process."""
    import psutil

    me = psutil.Process()
    return [
        p.pid
        for p in me.children(recursive=True)
        if "coqidetop" in p.name() and p.status() != psutil.STATUS_ZOMBIE
    ]
