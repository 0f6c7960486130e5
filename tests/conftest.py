"""Shared fixtures: a real Coq backend, MiniF2F data from ../shared/datasets, and the size of
the hostile-input tests.

Profiles of the fuzzing (tests/test_fuzz.py) and the hostile batteries (tests/test_hostile.py):

* ``ci`` (the default): few, derandomized Hypothesis examples (the same ones on every run) and
  the batteries' quick checks; the two files take about a minute;
* ``nightly``: ``pytest --long`` (or ``PROVER_GYM_FUZZ=long pytest``): many random examples
  per property, and every battery case also finished and re-verified; tens of minutes.

``--hypothesis-profile NAME`` still wins over both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

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


# -- profiles of the hostile-input tests ------------------------------------------------------

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
# Deadlines are off: a prover step has its own time limit, and the tests assert it themselves.
settings.register_profile(
    "ci",
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_OK,
)
settings.register_profile(
    "nightly",
    max_examples=1000,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_OK,
)


class FuzzProfile:
    """The selected profile of the hostile-input tests (set by :func:`pytest_configure`).

    Attributes:
        long: The ``nightly`` profile (``--long`` or ``PROVER_GYM_FUZZ=long``).
    """

    long = os.environ.get("PROVER_GYM_FUZZ", "").strip().lower() in ("long", "nightly")

    @property
    def name(self) -> str:
        """``"nightly"`` or ``"ci"``."""
        return "nightly" if self.long else "ci"

    def examples(self, ci: int, nightly: int) -> int:
        """How many Hypothesis examples a property runs in this profile."""
        return nightly if self.long else ci


FUZZ = FuzzProfile()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="run the hostile-input fuzzing and batteries in their long (nightly) profile; "
        "same as PROVER_GYM_FUZZ=long",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--long"):
        FuzzProfile.long = True
    if not config.getoption("hypothesis_profile", default=None):
        settings.load_profile(FUZZ.name)


def pytest_report_header(config: pytest.Config) -> str:
    return f"prover-gym fuzz profile: {FUZZ.name} (--long for nightly)"
