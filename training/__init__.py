"""Training for prover-gym: synthetic theorems traced on a real prover, SFT warm start,
curriculum, and RL from prover feedback on Ray.

Modules (each imported on use; ``import training`` is light):

- :mod:`training.synth` (+ :mod:`training.expr`): parameterized theorem families, Coq and Lean 4.
- :mod:`training.trace`: proofs traced step by step, failed attempts and corrections.
- :mod:`training.build`: ``prover-gym synth`` (generate + trace in parallel, resumable JSONL).
- :mod:`training.dataset`: the JSONL schema; :mod:`training.leandojo`: LeanDojo importer.
- :mod:`training.sft`: ``prover-gym sft``; :mod:`training.curriculum`: difficulty bands.
- :mod:`training.rollout` + :mod:`training.grpo`: GRPO and expert iteration on Ray actors.
- :mod:`training.rllib_env` + :mod:`training.rllib_module` + :mod:`training.ppo`: RLlib PPO.
- :mod:`training.pipeline`: synth -> SFT -> RL -> eval (``prover-gym demo``).
"""
