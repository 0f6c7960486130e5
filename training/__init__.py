"""Training for prover-gym: synthetic theorems traced on a real prover, SFT warm start,
curriculum, and RL from prover feedback on Ray.

``import training`` is light: each name below is imported from its module on first use
(``from training import train_rl`` imports torch and Ray then).

- :mod:`training.synth` (+ :mod:`training.expr`): parameterized theorem families, Coq and Lean 4.
- :mod:`training.trace`: proofs traced step by step, failed attempts and corrections.
- :mod:`training.build`: ``prover-gym synth`` (generate + trace in parallel, resumable JSONL).
- :mod:`training.dataset`: the JSONL schema; :mod:`training.leandojo`: LeanDojo importer.
- :mod:`training.sft`: ``prover-gym sft``; :mod:`training.curriculum`: difficulty bands.
- :mod:`training.rollout` + :mod:`training.grpo`: GRPO and expert iteration on Ray actors.
- :mod:`training.rllib_env` + :mod:`training.rllib_module` + :mod:`training.ppo`: RLlib PPO.
- :mod:`training.pipeline`: synth -> SFT -> RL -> eval (``prover-gym demo``).
"""

from __future__ import annotations

from prover_env._lazy import lazy_exports

_EXPORTS = {
    "FAMILIES": "synth",
    "CandidateProverEnv": "rllib_env",
    "Curriculum": "curriculum",
    "CurriculumConfig": "curriculum",
    "LLMPolicyModule": "rllib_module",
    "PPORunConfig": "ppo",
    "PipelineConfig": "pipeline",
    "RLConfig": "grpo",
    "RolloutConfig": "rollout",
    "SFTConfig": "sft",
    "StepRecord": "dataset",
    "SynthConfig": "build",
    "SynthTheorem": "synth",
    "TheoremRecord": "dataset",
    "TokenizedProverEnv": "rllib_env",
    "TraceConfig": "trace",
    "build_dataset": "build",
    "build_ppo_config": "rllib_module",
    "coq_theorems": "dataset",
    "curriculum_from_dataset": "curriculum",
    "env_creator": "rllib_env",
    "evaluate_policy": "pipeline",
    "generate": "synth",
    "import_leandojo": "leandojo",
    "load_model": "sft",
    "read_steps": "dataset",
    "read_theorems": "dataset",
    "register_rllib_env": "rllib_env",
    "rollout_task": "rollout",
    "run_pipeline": "pipeline",
    "trace_theorem": "trace",
    "train_ppo": "ppo",
    "train_rl": "grpo",
    "train_sft": "sft",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return __all__
