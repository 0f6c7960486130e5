"""PPO on RLlib's new API stack with a causal LM as the policy: tactics as token sequences.

Read top to bottom: the compact action distribution, the RLModule (sampling, greedy decoding,
teacher-forced training pass, value head), the learner tweak, and :func:`build_ppo_config`.

The environment is :class:`training.rllib_env.TokenizedProverEnv` (observation: the prompt's
``input_ids``/``attention_mask``, left-padded; action: ``MultiDiscrete([V] * A)``). A tactic is
``A`` tokens sampled autoregressively at ``temperature``; the tokens after the first EOS are
padding and carry no probability.

Action distribution. PPO needs ``logp(action)`` for the exact ratio and an entropy; RLlib would
ship the distribution inputs of every step from the env runners to the learner. A dense
``A x V`` logits tensor per step is megabytes at a real vocabulary, so
:class:`SampledTokensDistribution`'s inputs are ``2 * A`` floats: the log-prob of each token of
*this* action (0 after the first EOS) and the entropy of the next-token distribution at each
of its positions (0 after EOS). Hence:

- ``logp(actions)`` is the sum of the token log-probs: exact, for the actions these inputs were
  computed for (the batch's own actions: the training pass teacher-forces them). It cannot
  score other actions, and it cannot ``sample()`` (the module samples itself).
- ``entropy()`` is the sum of the per-position entropies along the action: by the chain rule
  an unbiased one-sample estimate of the sequence entropy when the action was drawn from this
  policy; its gradient is the usual token-level entropy bonus (it ignores how the path itself
  would change).
- ``kl(other)`` estimates ``KL(self || other)`` from the one action both were computed for
  (drawn from ``self``, the old policy): ``r - 1 - log r`` with ``r = p_other / p_self``, the
  non-negative, unbiased "k3" estimator.

The LM always runs in eval mode (no dropout), so with the same weights the training pass
reproduces the sampling pass and the first PPO ratio is 1 (up to float error, ~1e-5).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import torch
import tree
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.torch.torch_distribution import TorchDistribution
from ray.rllib.core.rl_module.apis import ValueFunctionAPI
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.core.rl_module.torch import TorchRLModule

from training.rllib_env import load_tokenizer, register_rllib_env

__all__ = [
    "DropMaskedRows",
    "LLMPPOLearner",
    "LLMPolicyModule",
    "SampledTokensDistribution",
    "build_ppo_config",
]


# -- the action distribution ------------------------------------------------------------------


class SampledTokensDistribution(TorchDistribution):
    """A token sequence's distribution, seen only through one sequence (module docstring).

    Args:
        inputs: ``(B, 2 * A)``: per-token log-probs, then per-position entropies, both 0 after
            the first EOS.
    """

    def __init__(self, inputs: torch.Tensor) -> None:
        if inputs.shape[-1] % 2:
            raise ValueError(f"inputs must be (B, 2 * A) floats, got shape {tuple(inputs.shape)}")
        super().__init__(inputs)
        self.token_logp, self.token_entropy = inputs.chunk(2, dim=-1)

    def _get_torch_distribution(self, inputs: torch.Tensor) -> None:
        return None  # no dense distribution exists: that is the point

    @classmethod
    def from_logits(cls, logits: torch.Tensor, **kwargs: Any) -> SampledTokensDistribution:
        """RLlib's constructor: ``logits`` are the ``2 * A`` inputs."""
        return cls(logits)

    @staticmethod
    def required_input_dim(space: gym.Space, **kwargs: Any) -> int:
        """``2 * A`` for ``MultiDiscrete([V] * A)``."""
        return 2 * len(space.nvec)

    def logp(self, value: Any = None, **kwargs: Any) -> torch.Tensor:
        """Sequence log-prob of the action the inputs were computed for (``value`` is that
        action; it is not re-scored)."""
        return self.token_logp.sum(-1)

    def entropy(self, **kwargs: Any) -> torch.Tensor:
        """One-sample estimate of the sequence entropy (sum of per-position entropies)."""
        return self.token_entropy.sum(-1)

    def kl(self, other: SampledTokensDistribution, **kwargs: Any) -> torch.Tensor:
        """k3 estimate of ``KL(self || other)`` on the shared action."""
        log_ratio = other.logp() - self.logp()
        return torch.expm1(log_ratio) - log_ratio

    def sample(self, **kwargs: Any) -> torch.Tensor:
        raise NotImplementedError(
            "SampledTokensDistribution cannot sample: LLMPolicyModule returns Columns.ACTIONS "
            "from its forward passes itself"
        )

    rsample = sample

    def to_deterministic(self) -> SampledTokensDistribution:
        return self


# -- the RLModule ----------------------------------------------------------------------------


class LLMPolicyModule(TorchRLModule, ValueFunctionAPI):
    """A causal LM policy with a value head on the prompt's last hidden state.

    ``model_config`` keys: ``model`` (``"tiny"``: ``agents.llm.build_tiny_model`` with the byte
    tokenizer; else a Hugging Face id or path such as an SFT ``OUT/final``, which every env
    runner must be able to read), ``temperature`` (sampling, default 1.0), ``seed`` (the tiny
    model's weights, default 0), ``torch_threads`` (``torch.set_num_threads`` in each process
    holding the module; default ``None``: leave it).
    """

    def setup(self) -> None:
        """Load the LM and tokenizer, check the spaces, add the value head."""
        cfg = dict(self.model_config or {})
        name = str(cfg.get("model", "tiny"))
        self.temperature = float(cfg.get("temperature", 1.0))
        if self.temperature <= 0:
            raise ValueError("temperature must be > 0 (greedy decoding is forward_inference)")
        if cfg.get("torch_threads"):
            torch.set_num_threads(int(cfg["torch_threads"]))
        obs, act = self.observation_space, self.action_space
        if not (
            isinstance(obs, gym.spaces.Dict) and {"input_ids", "attention_mask"} <= set(obs.spaces)
        ) or not isinstance(act, gym.spaces.MultiDiscrete):
            raise ValueError(
                "LLMPolicyModule needs training.rllib_env's tokens wrapper (Dict observation with "
                f"input_ids/attention_mask, MultiDiscrete action), got {obs} and {act}"
            )
        self.tokenizer = load_tokenizer(name)
        from agents.llm import load_causal_lm

        self.lm = load_causal_lm(name, self.tokenizer, int(cfg.get("seed", 0)))
        self.lm.eval()
        self.vocab = int(act.nvec[0])
        self.action_len = len(act.nvec)
        lm_vocab = self.lm.get_output_embeddings().out_features
        if any(int(n) != self.vocab for n in act.nvec) or self.vocab > lm_vocab:
            raise ValueError(
                f"action space {act} does not fit model {name!r} (vocab {lm_vocab}): build the env "
                "with the model's tokenizer (env_config['tokenizer'] = the model)"
            )
        self.eos_id = int(self.tokenizer.eos_token_id)
        self.pad_id = int(self.tokenizer.pad_token_id)
        banned = torch.zeros(self.vocab, dtype=torch.bool)
        banned[self.pad_id] = self.pad_id != self.eos_id  # pad only fills after EOS
        self.register_buffer("_banned", banned, persistent=False)
        params = inspect.signature(self.lm.forward).parameters  # transformers 5 renamed it
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        hidden = self.lm.get_input_embeddings().embedding_dim
        self.value_head = torch.nn.Linear(hidden, 1)
        torch.nn.init.zeros_(self.value_head.weight)
        torch.nn.init.zeros_(self.value_head.bias)
        self.action_dist_cls = SampledTokensDistribution

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        """Save the LM and tokenizer in Hugging Face format (``LLMPolicy(path)``, SFT and this
        module load it); the value head is not part of it."""
        self.lm.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    def train(self, mode: bool = True) -> LLMPolicyModule:
        """Keep the LM in eval mode (no dropout): training reproduces sampling exactly."""
        super().train(mode)
        self.lm.eval()
        return self

    # -- helpers --------------------------------------------------------------------------------

    def _prompt(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt ids and mask, without the columns that are padding in every row."""
        obs = batch[Columns.OBS]
        ids, mask = obs["input_ids"].long(), obs["attention_mask"].long().clone()
        mask[:, -1] = 1  # an all-padding row (RLlib's zero-filled obs) must not give NaNs
        first = int(mask.any(0).nonzero()[0, 0])
        return ids[:, first:], mask[:, first:]

    def _logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Log-probs at the sampling temperature, over the action space's tokens only, pad
        excluded (it would end the tactic for the env but not for the log-prob)."""
        logits = logits[..., : self.vocab].float() / self.temperature
        return torch.log_softmax(logits.masked_fill(self._banned, -1e9), dim=-1)

    @staticmethod
    def _entropy(logp: torch.Tensor) -> torch.Tensor:
        return -(logp.exp() * logp).sum(-1)

    def _alive(self, tokens: torch.Tensor) -> torch.Tensor:
        """1 for the tokens up to and including the first EOS, 0 after it."""
        eos_before = (tokens == self.eos_id).long().cumsum(-1) - (tokens == self.eos_id).long()
        return (eos_before == 0).float()

    def _decode(self, batch: Mapping[str, Any], greedy: bool) -> dict[str, Any]:
        """Generate ``A`` tokens per row with a KV cache; pad after EOS."""
        ids, mask = self._prompt(batch)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        b, dev = ids.shape[0], ids.device
        tokens = torch.full((b, self.action_len), self.pad_id, dtype=torch.long, device=dev)
        logps = torch.zeros(b, self.action_len, device=dev)
        ents = torch.zeros_like(logps)
        done = torch.zeros(b, dtype=torch.bool, device=dev)
        step_ids, cache = ids, None
        with torch.no_grad():
            for t in range(self.action_len):
                out = self.lm(
                    input_ids=step_ids,
                    attention_mask=mask,
                    position_ids=positions,
                    use_cache=True,
                    logits_to_keep=1,
                    **{self._cache_kw: cache},
                )
                cache = getattr(out, self._cache_kw)
                logp = self._logits(out.logits[:, -1])
                pick = logp.argmax(-1) if greedy else torch.multinomial(logp.exp(), 1)[:, 0]
                live = ~done
                tokens[live, t] = pick[live]
                logps[:, t] = torch.where(live, logp.gather(1, pick[:, None])[:, 0], 0.0)
                ents[:, t] = torch.where(live, self._entropy(logp), 0.0)
                done |= pick == self.eos_id
                if bool(done.all()):
                    break
                step_ids = tokens[:, t : t + 1]
                mask = torch.cat([mask, mask.new_ones(b, 1)], dim=1)
                positions = positions[:, -1:] + 1
        return {
            Columns.ACTIONS: tokens,
            Columns.ACTION_LOGP: logps.sum(-1),
            Columns.ACTION_DIST_INPUTS: torch.cat([logps, ents], dim=-1),
        }

    # -- RLModule forward passes ----------------------------------------------------------------

    def _forward_exploration(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Sample tactics at ``temperature``, with their exact log-probs."""
        return self._decode(batch, greedy=False)

    def _forward_inference(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Greedy tactics (log-probs reported at ``temperature``)."""
        return self._decode(batch, greedy=True)

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Teacher-force the batch's actions: their token log-probs and entropies (0 after
        EOS), and the prompt's last hidden state as the value embedding."""
        ids, mask = self._prompt(batch)
        actions = batch[Columns.ACTIONS].long()
        n, a = ids.shape[1], actions.shape[1]
        full_mask = torch.cat([mask, torch.ones_like(actions)], dim=1)
        out = self.lm(
            input_ids=torch.cat([ids, actions], dim=1),
            attention_mask=full_mask,
            position_ids=(full_mask.cumsum(-1) - 1).clamp(min=0),
            logits_to_keep=a + 1,  # positions n-1 .. n+a-2 predict the action tokens
            output_hidden_states=True,
            use_cache=False,
        )
        logp = self._logits(out.logits[:, :-1])
        alive = self._alive(actions)
        token_logp = logp.gather(-1, actions[..., None])[..., 0] * alive
        token_entropy = self._entropy(logp) * alive
        return {
            Columns.ACTION_DIST_INPUTS: torch.cat([token_logp, token_entropy], dim=-1),
            Columns.EMBEDDINGS: out.hidden_states[-1][:, n - 1],
        }

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        """Value of each prompt. Without ``embeddings`` (GAE's pass) the LM runs without
        gradient: the value head learns through ``_forward_train``'s embeddings."""
        if embeddings is None:
            ids, mask = self._prompt(batch)
            with torch.no_grad():
                out = self.lm(
                    input_ids=ids,
                    attention_mask=mask,
                    position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                    logits_to_keep=1,
                    output_hidden_states=True,
                    use_cache=False,
                )
            embeddings = out.hidden_states[-1][:, -1]
        return self.value_head(embeddings.float()).squeeze(-1)


# -- the learner: drop the rows PPO adds only for bootstrapping ---------------------------------


class DropMaskedRows(ConnectorV2):
    """After GAE, drop the rows whose ``LOSS_MASK`` is false (the artificial timestep PPO
    appends to every episode for its bootstrap value): they would still run forward and
    backward; with one-step episodes they are half the batch."""

    def __call__(self, *, rl_module: Any, batch: dict[str, Any], episodes: Any, **kwargs: Any):
        for module_id, data in list(batch.items()):
            mask = data.get(Columns.LOSS_MASK) if isinstance(data, dict) else None
            if mask is None or bool(mask.all()):
                continue
            keep = mask.bool()

            def take(x: Any, keep: torch.Tensor = keep) -> Any:
                is_row = isinstance(x, torch.Tensor) and x.ndim and x.shape[0] == keep.shape[0]
                return x[keep] if is_row else x

            batch[module_id] = tree.map_structure(take, data)
        return batch


class LLMPPOLearner(PPOTorchLearner):
    """PPO's torch learner with :class:`DropMaskedRows` after GAE."""

    def build(self) -> None:
        """PPO's build, then append :class:`DropMaskedRows` to the learner connector."""
        super().build()
        if self._learner_connector is not None and (
            self.config.add_default_connectors_to_learner_pipeline
        ):
            self._learner_connector.append(DropMaskedRows())


# -- the algorithm config -----------------------------------------------------------------------


def build_ppo_config(
    env_config: Mapping[str, Any] | None = None,
    model: str = "tiny",
    *,
    env_name: str = "ProverGym-Tokens-v0",
    num_env_runners: int = 1,
    num_envs_per_env_runner: int = 1,
    train_batch_size: int = 64,
    minibatch_size: int = 16,
    num_epochs: int = 1,
    lr: float = 1e-5,
    temperature: float = 1.0,
    entropy_coeff: float = 0.0,
    vf_loss_coeff: float = 0.1,
    clip_param: float = 0.2,
    gamma: float = 1.0,
    lambda_: float = 0.95,
    grad_clip: float | None = 1.0,
    torch_threads: int | None = 1,
    num_gpus_per_learner: float = 0,
    seed: int | None = None,
) -> PPOConfig:
    """PPO on the new API stack: the tokens env, :class:`LLMPolicyModule`, :class:`LLMPPOLearner`.

    Args:
        env_config: :func:`training.rllib_env.env_creator`'s keys; ``tokenizer`` defaults to
            ``model``, ``wrapper`` must be ``"tokens"``.
        model: ``"tiny"`` or a Hugging Face id/path (e.g. an SFT checkpoint ``OUT/final``).
        env_name: Name to register the env creator under.
        num_env_runners: Remote env runners (0: sample in the driver).
        num_envs_per_env_runner: Envs (prover processes) per runner, batched through the LM.
        train_batch_size: Env steps per iteration (per learner).
        minibatch_size: Rows per SGD step.
        num_epochs: Passes over each iteration's batch.
        lr: Adam learning rate.
        temperature: Sampling temperature (the policy PPO optimizes is this tempered one).
        entropy_coeff: Weight of the entropy estimate (see the module docstring).
        vf_loss_coeff: Weight of the value loss (the value head shares the LM's trunk).
        clip_param: PPO's ratio clip.
        gamma: Discount (1.0: a proof is worth the same at any depth).
        lambda_: GAE lambda.
        grad_clip: Global gradient-norm clip (``None``: none).
        torch_threads: ``torch.set_num_threads`` where the module lives (1 is fastest when
            provers share the cores).
        num_gpus_per_learner: GPUs for the (local) learner; sampling stays on CPU runners.
        seed: RLlib's seed (``config.debugging(seed=...)``).

    Returns:
        The config, with ``restart_failed_env_runners=False`` (a crashing env runner is an
        error, not a silent restart that yields empty iterations); ``.build_algo()`` it.
    """
    env_config = dict(env_config or {})
    env_config.setdefault("tokenizer", model)
    if env_config.get("wrapper", "tokens") != "tokens":
        raise ValueError("LLMPolicyModule drives the 'tokens' wrapper: set env_config['wrapper']")
    if minibatch_size > train_batch_size:
        raise ValueError("minibatch_size must be <= train_batch_size")
    register_rllib_env(env_name)
    model_config = {"model": model, "temperature": temperature, "torch_threads": torch_threads}
    return (
        PPOConfig()
        .api_stack(enable_rl_module_and_learner=True, enable_env_runner_and_connector_v2=True)
        .framework("torch")
        .environment(env_name, env_config=env_config)
        .env_runners(
            num_env_runners=num_env_runners,
            num_envs_per_env_runner=num_envs_per_env_runner,
            rollout_fragment_length="auto",
        )
        .learners(
            num_learners=0, num_gpus_per_learner=num_gpus_per_learner, learner_class=LLMPPOLearner
        )
        .rl_module(
            rl_module_spec=RLModuleSpec(module_class=LLMPolicyModule, model_config=model_config)
        )
        .training(
            train_batch_size_per_learner=train_batch_size,
            minibatch_size=minibatch_size,
            num_epochs=num_epochs,
            lr=lr,
            entropy_coeff=entropy_coeff,
            vf_loss_coeff=vf_loss_coeff,
            clip_param=clip_param,
            gamma=gamma,
            lambda_=lambda_,
            grad_clip=grad_clip,
            use_kl_loss=False,
        )
        .fault_tolerance(restart_failed_env_runners=False)
        .debugging(seed=seed)
    )
