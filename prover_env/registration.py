"""Environment ids and their factories (string entry points, so registering imports nothing)."""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym

__all__ = [
    "ENV_IDS",
    "make_lean",
    "make_minif2f_coq",
    "make_minif2f_lean",
    "register_envs",
]

#: Every id prover-gym registers, and its entry point (imported only when the env is made).
ENV_IDS: dict[str, str] = {
    "ProverEnv/Coq-v0": "prover_env.env:ProverEnv",
    "ProverEnv/MiniF2F-Coq-v0": "prover_env.registration:make_minif2f_coq",
    "ProverEnv/Lean-v0": "prover_env.registration:make_lean",
    "ProverEnv/MiniF2F-Lean-v0": "prover_env.registration:make_minif2f_lean",
}


def make_minif2f_coq(
    split: str = "valid", data_dir: str | os.PathLike[str] | None = None, **kwargs: Any
) -> gym.Env:
    """``ProverEnv`` over MiniF2F in Coq.

    Args:
        split: ``"valid"`` or ``"test"``.
        data_dir: The MiniF2F-rocq root (``<data_dir>/<split>/*.v``); default:
            ``$PROVER_GYM_DATA/minif2f-rocq``.
        **kwargs: Passed to :class:`~prover_env.env.ProverEnv`.
    """
    from prover_env.env import ProverEnv
    from prover_env.suites import load_minif2f_coq

    return ProverEnv(load_minif2f_coq(split, data_dir), **kwargs)


def _lean_kwargs(lean_project: str | os.PathLike[str] | None, kwargs: dict[str, Any]) -> None:
    backend_kwargs = dict(kwargs.pop("backend_kwargs", None) or {})
    if lean_project is not None:
        backend_kwargs["project"] = os.fspath(lean_project)
    kwargs["backend_kwargs"] = backend_kwargs
    kwargs.setdefault("backend", "lean")


def make_lean(
    theorems: Any = None, lean_project: str | os.PathLike[str] | None = None, **kwargs: Any
) -> gym.Env:
    """``ProverEnv`` on the Lean 4 REPL.

    Args:
        theorems: ``Theorem`` objects or Lean source (default: the built-in Lean theorems).
        lean_project: The Lean project (with the REPL) to run in; default
            ``$PROVER_GYM_LEAN_PROJECT`` or the current directory.
        **kwargs: Passed to :class:`~prover_env.env.ProverEnv`.
    """
    from prover_env.env import ProverEnv

    _lean_kwargs(lean_project, kwargs)
    return ProverEnv(theorems, **kwargs)


def make_minif2f_lean(
    split: str = "valid",
    data_dir: str | os.PathLike[str] | None = None,
    lean_project: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> gym.Env:
    """``ProverEnv`` over MiniF2F in Lean 4 (a Mathlib project is needed to run it).

    Args:
        split: ``"valid"`` or ``"test"``.
        data_dir: The MiniF2F-Lean root; default ``$PROVER_GYM_DATA/minif2f-lean4``.
        lean_project: A Lean project with Mathlib (toolchain v4.24.0) and the REPL.
        **kwargs: Passed to :class:`~prover_env.env.ProverEnv`.
    """
    from prover_env.env import ProverEnv
    from prover_env.lean.suites import load_minif2f_lean

    _lean_kwargs(lean_project, kwargs)
    return ProverEnv(load_minif2f_lean(split, data_dir), **kwargs)


def register_envs() -> None:
    """Register prover-gym's environments with Gymnasium (idempotent)."""
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gym.registry:
            # nondeterministic: time limits make a step's outcome depend on wall-clock time.
            gym.register(id=env_id, entry_point=entry_point, nondeterministic=True)
