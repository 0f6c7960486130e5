"""RLlib-ready views of :class:`~prover_env.env.ProverEnv`: token ids in, tokens or a choice out.

RLlib rejects ``Text`` spaces, and its default encoders cannot embed integer token ids, so
these wrappers expose fixed-shape integer spaces for a custom RLModule
(:mod:`training.rllib_module`):

``TokenizedProverEnv`` (``wrapper="tokens"``)
    observation: ``Dict(input_ids=Box(0, V-1, (L,), int64), attention_mask=Box(0, 1, (L,),
    int64))``: the prompt ``agents.llm.format_prompt(goals)`` tokenized like the SFT trainer
    does (BOS if the tokenizer adds one, then the prompt cut from the left), left-padded to
    ``L = max_prompt_tokens``. action: ``MultiDiscrete([V] * A)``, ``A = max_action_tokens``:
    a token sequence, decoded up to its first EOS (or pad) into the tactic sent to ``step``.
``CandidateProverEnv`` (``wrapper="candidates"``)
    action: ``Discrete(K)``, an index into up to ``K`` tactics that an agent
    (:mod:`agents.baselines`, or any ``agents.base.Agent``) proposes for the current state.
    observation: the prompt's ``input_ids``/``attention_mask`` as above, plus
    ``action_mask`` (``Box(0, 1, (K,), float32)``, 1 where a candidate exists, RLlib's
    action-masking convention) and ``candidate_ids`` (``Box(0, V-1, (K, A), int64)``: each
    candidate's tokens and EOS, pad after), so a policy can score candidates by their text.
    A masked choice makes no prover call: the state stays, ``info["error"]`` says why, and it
    counts as a step (so a policy that only picks masked entries still gets truncated).
    ``info["candidates"]`` lists the tactics; once the episode is over the mask is all 0.

Why a ``Dict`` of ``Box`` and not one ``Box``: the new API stack batches nested observations
with ``tree`` and hands the module a dict of tensors, so each part keeps its own bounds and
dtype (the mask is exact, not inferred from pad ids, which some tokenizers share with EOS).

Reward, ``terminated``, ``truncated`` and ``info`` are ProverEnv's (reward 1 only after the
kernel re-checked the proof), with ``info["tactic"]``, the text that was sent. The terminal
observation still holds the prompt (``[GOALS]`` with no goals), never all padding.

``env_config`` keys (all optional) of :func:`env_creator`:

- ``wrapper``: ``"tokens"`` (default) or ``"candidates"``.
- ``tokenizer``: ``"tiny"`` (default: the byte tokenizer of ``agents.llm``) or a Hugging Face
  id/path, e.g. an SFT checkpoint ``OUT/final``. Must be the policy model's tokenizer.
- ``max_prompt_tokens``: ``L`` (default 256). ``max_action_tokens``: ``A`` (default 32).
- ``theorems``: ``"builtin"`` (default), ``{"synth": DIR, "split": "train"}`` (a dataset
  folder of ``prover-gym synth``; split ``None``: all), or a list of Coq source strings (each
  may hold several theorems) or ``Theorem`` objects.
- ``backend``: ``"coq"`` (default) or ``"lean"``; ``backend_kwargs``: its settings.
- ``max_steps``: tactics per episode before truncation (default 8).
- ``tactic_timeout``: seconds per tactic (default 5.0). ``step_penalty``: default 0.0.
- ``seed``: seeds the first ``reset()`` that gets no seed (RLlib passes none unless
  ``config.debugging(seed=...)`` is set), plus ``1000 * worker_index`` plus the count of envs
  this process built before, so env runners and vector slots draw different theorems;
  default ``None``.
- ``agent``: candidates only: ``"automation"`` (default), ``"steps"``, ``"random"`` or
  ``"llm"`` (:func:`agents.factory.make_agent`); ``agent_kwargs``: its keyword arguments.
- ``num_candidates``: ``K``, candidates only (default 8).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

from agents.base import Agent
from agents.llm import format_prompt
from prover_env.env import ProverEnv
from prover_env.types import ProofState, Theorem

__all__ = [
    "ENV_CONFIG_DEFAULTS",
    "CandidateProverEnv",
    "PromptCodec",
    "TokenizedProverEnv",
    "env_creator",
    "load_tokenizer",
    "register_rllib_env",
]

#: Every ``env_config`` key :func:`env_creator` reads, with its default.
ENV_CONFIG_DEFAULTS: dict[str, Any] = {
    "wrapper": "tokens",
    "tokenizer": "tiny",
    "max_prompt_tokens": 256,
    "max_action_tokens": 32,
    "theorems": "builtin",
    "backend": "coq",
    "backend_kwargs": None,
    "max_steps": 8,
    "tactic_timeout": 5.0,
    "step_penalty": 0.0,
    "seed": None,
    "agent": "automation",
    "agent_kwargs": None,
    "num_candidates": 8,
}
# Keys RLlib itself may add to env_config (gymnasium's vector entry point).
_RLLIB_KEYS = frozenset({"num_envs"})
_CREATED = itertools.count()  # envs built in this process: vector slots get distinct seeds


def load_tokenizer(name: str) -> Any:
    """:func:`agents.llm.load_tokenizer`, refusing a tokenizer without EOS (a tactic of the
    token action space ends at EOS)."""
    from agents.llm import load_tokenizer as load

    tokenizer = load(name)
    if tokenizer.eos_token_id is None:
        raise ValueError(f"tokenizer {name!r} has no EOS token: tactics could never end")
    return tokenizer


class PromptCodec:
    """Goals to fixed-length prompt ids, tactics to and from fixed-length token sequences.

    Args:
        tokenizer: A Hugging Face tokenizer (see :func:`load_tokenizer`).
        max_prompt_tokens: ``L``, the prompt length (left-padded, cut from the left).
        max_action_tokens: ``A``, the action length (EOS, then pad).
    """

    def __init__(self, tokenizer: Any, max_prompt_tokens: int, max_action_tokens: int) -> None:
        if max_prompt_tokens < 8 or max_action_tokens < 2:
            raise ValueError("max_prompt_tokens must be >= 8 and max_action_tokens >= 2")
        self.tokenizer = tokenizer
        self.length, self.action_length = int(max_prompt_tokens), int(max_action_tokens)
        self.vocab_size = len(tokenizer)
        self.eos_id, self.pad_id = int(tokenizer.eos_token_id), int(tokenizer.pad_token_id)
        # Special tokens the tokenizer puts first (BOS), as the SFT trainer's encode() keeps.
        self._prefix = [t for t in tokenizer("")["input_ids"] if t != self.eos_id]

    def prompt_spaces(self) -> dict[str, spaces.Box]:
        """The ``input_ids`` and ``attention_mask`` spaces."""
        return {
            "input_ids": spaces.Box(0, self.vocab_size - 1, (self.length,), np.int64),
            "attention_mask": spaces.Box(0, 1, (self.length,), np.int64),
        }

    def encode_prompt(self, goals: str) -> dict[str, np.ndarray]:
        """The prompt of ``goals``: ids and mask, left-padded to ``L`` (long goals lose their
        start, never ``[PROOFSTEP]``)."""
        ids = self.tokenizer(format_prompt(goals), add_special_tokens=False)["input_ids"]
        ids = self._prefix + ids[max(0, len(ids) - (self.length - len(self._prefix))) :]
        out = np.full(self.length, self.pad_id, dtype=np.int64)
        mask = np.zeros(self.length, dtype=np.int64)
        out[self.length - len(ids) :], mask[self.length - len(ids) :] = ids, 1
        return {"input_ids": out, "attention_mask": mask}

    def encode_tactic(self, tactic: str) -> np.ndarray:
        """``tactic``'s tokens, then EOS, then pad, cut to ``A`` (a cut tactic has no EOS)."""
        ids = [*self.tokenizer(tactic, add_special_tokens=False)["input_ids"], self.eos_id]
        out = np.full(self.action_length, self.pad_id, dtype=np.int64)
        ids = ids[: self.action_length]
        out[: len(ids)] = ids
        return out

    def decode_action(self, tokens: Any) -> str:
        """The tactic spelled by ``tokens``: up to the first EOS or pad, specials dropped."""
        kept: list[int] = []
        for t in np.asarray(tokens).reshape(-1).tolist():
            if t in (self.eos_id, self.pad_id):
                break
            kept.append(int(t))
        return self.tokenizer.decode(kept, skip_special_tokens=True).strip()


class _PromptWrapper(gym.Wrapper):
    """What both wrappers share: the codec, the first-reset seed, the prompt observation."""

    def __init__(self, env: ProverEnv, codec: PromptCodec, seed: int | None) -> None:
        if not isinstance(env.unwrapped, ProverEnv):
            raise TypeError(f"wrap a ProverEnv, not {type(env.unwrapped).__name__}")
        super().__init__(env)
        self.codec = codec
        self._first_seed = seed

    def _seed(self, seed: int | None) -> int | None:
        if seed is None and self._first_seed is not None:
            seed, self._first_seed = self._first_seed, None
        return seed


class TokenizedProverEnv(_PromptWrapper):
    """Prompt token ids in, a tactic's token ids out (see the module docstring).

    Args:
        env: The ProverEnv to wrap (closed with this wrapper).
        codec: Tokenizer and lengths ``L`` and ``A``.
        seed: Seed of the first ``reset()`` that is given none.
    """

    def __init__(self, env: ProverEnv, codec: PromptCodec, seed: int | None = None) -> None:
        super().__init__(env, codec, seed)
        self.observation_space = spaces.Dict(codec.prompt_spaces())
        self.action_space = spaces.MultiDiscrete(
            np.full(codec.action_length, codec.vocab_size, dtype=np.int64)
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset the ProverEnv; the observation is the first state's prompt."""
        _, info = self.env.reset(seed=self._seed(seed), options=options)
        return self.codec.encode_prompt(info["goals"]), info

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Decode ``action`` (``A`` token ids) and run the tactic it spells."""
        tokens = np.asarray(action)
        if tokens.shape != (self.codec.action_length,) or not np.issubdtype(
            tokens.dtype, np.integer
        ):
            raise ValueError(
                f"action must be {self.codec.action_length} integer token ids, got "
                f"{tokens.dtype} of shape {tokens.shape}"
            )
        if tokens.min() < 0 or tokens.max() >= self.codec.vocab_size:
            raise ValueError(f"token ids must be in [0, {self.codec.vocab_size}): {tokens}")
        tactic = self.codec.decode_action(tokens)
        _, reward, terminated, truncated, info = self.env.step(tactic)
        info["tactic"] = tactic
        return self.codec.encode_prompt(info["goals"]), reward, terminated, truncated, info


class CandidateProverEnv(_PromptWrapper):
    """Choose one of up to ``K`` tactics an agent proposes (see the module docstring).

    Args:
        env: The ProverEnv to wrap (closed with this wrapper).
        agent: Proposes the candidates (``agent.propose(state, K)``), e.g. ``AutomationAgent()``.
        codec: Tokenizer and lengths ``L`` and ``A``.
        num_candidates: ``K``.
        seed: Seed of the first ``reset()`` that is given none.
    """

    def __init__(
        self,
        env: ProverEnv,
        agent: Agent,
        codec: PromptCodec,
        num_candidates: int = 8,
        seed: int | None = None,
    ) -> None:
        if not callable(getattr(agent, "propose", None)):
            raise TypeError(f"agent must have propose(state, k), not {type(agent).__name__}")
        if num_candidates < 1:
            raise ValueError("num_candidates must be at least 1")
        super().__init__(env, codec, seed)
        self.agent, self.num_candidates = agent, int(num_candidates)
        k, a, v = self.num_candidates, codec.action_length, codec.vocab_size
        self.observation_space = spaces.Dict(
            {
                **codec.prompt_spaces(),
                "action_mask": spaces.Box(0.0, 1.0, (k,), np.float32),
                "candidate_ids": spaces.Box(0, v - 1, (k, a), np.int64),
            }
        )
        self.action_space = spaces.Discrete(k)
        self.candidates: list[str] = []
        self._info: dict[str, Any] = {}
        self._masked_steps = self._prover_steps = 0
        self._done = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset the ProverEnv and ask the agent for the first state's candidates."""
        _, info = self.env.reset(seed=self._seed(seed), options=options)
        self._masked_steps, self._prover_steps, self._done = 0, 0, False
        return self._observe(info, done=False), info

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Run candidate ``action``; a masked one is refused without calling the prover."""
        if self._done:
            raise gym.error.ResetNeeded("the episode is over: call reset()")
        index = int(np.asarray(action).reshape(-1)[0]) if np.size(action) == 1 else -1
        if not 0 <= index < self.num_candidates:
            raise ValueError(f"action must be one index in [0, {self.num_candidates}): {action}")
        prover = self.env.unwrapped
        if index >= len(self.candidates):
            self._masked_steps += 1
            steps = self._prover_steps + self._masked_steps
            truncated = steps >= prover.max_steps
            self._done = truncated
            info = {
                **self._info,
                "steps": steps,
                "tactic": None,
                "elapsed": 0.0,
                "timeout": False,
                "rejected_by_guard": False,
                "error": f"candidate {index} is masked (action_mask is 0): only "
                f"{len(self.candidates)} candidates here; choose an index whose "
                "observation['action_mask'] is 1",
                "masked_action": True,
            }
            obs = self._observe(self._info, done=truncated, propose=False)
            return obs, -prover.step_penalty, False, truncated, info
        tactic = self.candidates[index]
        _, reward, terminated, truncated, info = self.env.step(tactic)
        # Masked choices count as steps too: the episode ends once max_steps are spent.
        self._prover_steps = info["steps"]
        info["steps"] = self._prover_steps + self._masked_steps
        truncated = not terminated and (truncated or info["steps"] >= prover.max_steps)
        info["tactic"], info["masked_action"] = tactic, False
        self._done = terminated or truncated
        return self._observe(info, done=self._done), reward, terminated, truncated, info

    def _observe(
        self, info: dict[str, Any], *, done: bool, propose: bool = True
    ) -> dict[str, np.ndarray]:
        state = self.env.unwrapped.state
        if propose:
            self.candidates = []
            if not done and isinstance(state, ProofState):
                for c in self.agent.propose(state, self.num_candidates):
                    if c.tactic not in self.candidates:
                        self.candidates.append(c.tactic)
                self.candidates = self.candidates[: self.num_candidates]
        self._info = {**info, "candidates": list(self.candidates)}
        info["candidates"] = list(self.candidates)
        k, a = self.num_candidates, self.codec.action_length
        mask = np.zeros(k, dtype=np.float32)
        ids = np.full((k, a), self.codec.pad_id, dtype=np.int64)
        for i, tactic in enumerate(self.candidates):
            mask[i], ids[i] = 1.0, self.codec.encode_tactic(tactic)
        return {
            **self.codec.encode_prompt(info["goals"]),
            "action_mask": mask,
            "candidate_ids": ids,
        }


def _theorems(source: Any) -> Sequence[Theorem | str] | None:
    if source is None or source == "builtin":
        return None
    if isinstance(source, Mapping):
        unknown = set(source) - {"synth", "split"}
        if "synth" not in source or unknown:
            raise ValueError(
                "theorems as a dict must be {'synth': DATASET_DIR, 'split': 'train'}, "
                f"got keys {sorted(source)}"
            )
        from training.dataset import coq_theorems

        found = [t for _, t in coq_theorems(source["synth"], source.get("split", "train"))]
        if not found:
            raise ValueError(
                f"no Coq theorem of split {source.get('split', 'train')!r} in "
                f"{source['synth']}: pick another split (None: all)"
            )
        return found
    if isinstance(source, str) or not isinstance(source, Sequence):
        raise ValueError(
            "env_config['theorems'] must be 'builtin', {'synth': DIR, 'split': 'train'} or a "
            f"list of Coq source strings (wrap one source in a list), not {source!r:.80}"
        )
    return list(source)


def env_creator(env_config: Mapping[str, Any] | None = None) -> gym.Env:
    """Build a wrapped ProverEnv from RLlib's ``env_config`` (keys: the module docstring).

    Raises:
        ValueError: An unknown key or a bad value (the message names the fix).
    """
    given = dict(env_config or {})
    unknown = set(given) - set(ENV_CONFIG_DEFAULTS) - _RLLIB_KEYS
    if unknown:
        raise ValueError(
            f"unknown env_config keys {sorted(unknown)}: use {', '.join(ENV_CONFIG_DEFAULTS)}"
        )
    cfg = {**ENV_CONFIG_DEFAULTS, **{k: v for k, v in given.items() if k not in _RLLIB_KEYS}}
    if cfg["wrapper"] not in ("tokens", "candidates"):
        raise ValueError(
            f"env_config['wrapper'] must be 'tokens' or 'candidates': {cfg['wrapper']!r}"
        )
    seed = cfg["seed"]
    if seed is not None:  # distinct per env runner (RLlib's EnvContext) and per vector slot
        seed = int(seed) + 1000 * int(getattr(env_config, "worker_index", 0)) + next(_CREATED)
    codec = PromptCodec(
        load_tokenizer(str(cfg["tokenizer"])), cfg["max_prompt_tokens"], cfg["max_action_tokens"]
    )
    env = ProverEnv(
        _theorems(cfg["theorems"]),
        backend=cfg["backend"],
        max_steps=int(cfg["max_steps"]),
        step_penalty=float(cfg["step_penalty"]),
        tactic_timeout=None if cfg["tactic_timeout"] is None else float(cfg["tactic_timeout"]),
        backend_kwargs=cfg["backend_kwargs"],
    )
    # Step outcomes depend on time limits (and info on timings): say so, as gym.make's ids do.
    env.spec = EnvSpec(
        "ProverGym-Tokens-v0" if cfg["wrapper"] == "tokens" else "ProverGym-Candidates-v0",
        entry_point="training.rllib_env:env_creator",
        nondeterministic=True,
        kwargs={"env_config": given},
    )
    if cfg["wrapper"] == "tokens":
        return TokenizedProverEnv(env, codec, seed=seed)
    from agents.factory import make_agent

    agent = make_agent(str(cfg["agent"]), **dict(cfg["agent_kwargs"] or {}))
    return CandidateProverEnv(env, agent, codec, int(cfg["num_candidates"]), seed=seed)


def register_rllib_env(name: str = "ProverGym-Tokens-v0") -> str:
    """Register :func:`env_creator` with Ray Tune under ``name`` (then
    ``config.environment(name, env_config={...})``); returns ``name``."""
    from ray.tune.registry import register_env

    register_env(name, env_creator)
    return name
