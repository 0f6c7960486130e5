"""prover-gym: interactive theorem provers as Gymnasium environments.

``import prover_env`` registers the environments (``ProverEnv/Coq-v0``,
``ProverEnv/MiniF2F-Coq-v0``) and imports nothing heavy (no torch, ray or transformers).

Example:
    >>> import gymnasium as gym, prover_env                           # doctest: +SKIP
    >>> env = gym.make("ProverEnv/Coq-v0")
    >>> obs, info = env.reset(options={"theorem": "r_linear_system"})
    >>> obs, reward, terminated, truncated, info = env.step("intros x y h1 h2. lra.")
"""

from __future__ import annotations

from prover_env.backend import Backend
from prover_env.checker import check_backend
from prover_env.coq.backend import CoqBackend, CoqConfig
from prover_env.env import ProverEnv, make_backend
from prover_env.error import (
    BackendCheckError,
    BackendNotAvailableError,
    DataNotFoundError,
    ProverCrashedError,
    ProverError,
    ProverGymError,
    ProverTimeoutError,
    TheoremError,
    UnknownTheoremError,
)
from prover_env.registration import ENV_IDS, register_envs
from prover_env.suites import (
    builtin_coq_theorems,
    check_suite,
    load_coq_dir,
    load_minif2f_coq,
    parse_coq_source,
)
from prover_env.types import ProofFinished, ProofState, TacticError, TacticResult, Theorem, Verdict

__version__ = "0.1.0"

__all__ = [
    "ENV_IDS",
    "Backend",
    "BackendCheckError",
    "BackendNotAvailableError",
    "CoqBackend",
    "CoqConfig",
    "DataNotFoundError",
    "ProofFinished",
    "ProofState",
    "ProverCrashedError",
    "ProverEnv",
    "ProverError",
    "ProverGymError",
    "ProverTimeoutError",
    "TacticError",
    "TacticResult",
    "Theorem",
    "TheoremError",
    "UnknownTheoremError",
    "Verdict",
    "builtin_coq_theorems",
    "check_backend",
    "check_suite",
    "load_coq_dir",
    "load_minif2f_coq",
    "make_backend",
    "parse_coq_source",
    "register_envs",
]

register_envs()
