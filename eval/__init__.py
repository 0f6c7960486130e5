"""Evaluation for prover-gym: pass@k, and running an agent with a search over a suite.

:func:`evaluate` writes one JSON line per theorem and a summary with pass@k; it resumes from a
partial results file. :class:`RayEvaluator` runs the same on Ray actors (imported on first use,
so ``import eval`` does not import Ray).
"""

from __future__ import annotations

from eval.passk import pass_at_k, suite_pass_at_k
from eval.report import pass_rate_by_budget, plot_curves, write_report
from eval.runner import EvalConfig, evaluate, load_results, prove_theorem, summarize
from prover_env._lazy import lazy_exports

__all__ = [
    "EvalConfig",
    "ProverPool",
    "RayEvaluator",
    "evaluate",
    "load_results",
    "pass_at_k",
    "pass_rate_by_budget",
    "plot_curves",
    "prove_theorem",
    "suite_pass_at_k",
    "summarize",
    "write_report",
]
__getattr__ = lazy_exports(__name__, {"ProverPool": "pool", "RayEvaluator": "ray_runner"})


def __dir__() -> list[str]:
    return __all__
