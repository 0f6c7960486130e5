"""An LLM tactic policy on Hugging Face ``transformers``: goals in, sampled tactics out.

Any causal LM id or local path works (``AutoModelForCausalLM``); ``"tiny"`` builds a small
Llama-style model (about 3M parameters) with a byte-level tokenizer, entirely offline, for tests
and CPU pipelines (its weights are random until trained: see the SFT trainer).

Prompt formats (documented, shared with the SFT trainer, :mod:`training.sft`)::

    [GOALS]
    <the goals, as the prover prints them>
    [PROOFSTEP]
    <one tactic><eos>

and, when a tactic already failed at these goals (the correction format, trained on the
``kind == "correction"`` records of :mod:`training.dataset`)::

    [GOALS]
    <the goals>
    [FAILED]
    <the tactic the prover rejected>
    [ERROR]
    <the prover's error message>
    [PROOFSTEP]
    <one tactic><eos>

``format_prompt(goals)`` gives the first, ``format_prompt(goals, failed, error)`` the second.
Prompts longer than the token budget are cut from the left (the end of the goals and the
``[PROOFSTEP]`` marker are what the model needs most). A checkpoint directory written by the SFT
trainer (``OUT/final``, ``OUT/checkpoint-STEP``) loads with ``LLMPolicy(path)``.

Candidates carry the sequence log-probability of the sampled tactic (sum over its tokens, at
temperature 1, EOS included), so best-first search can rank paths by cumulative log-prob.
Heavy imports (torch, transformers) happen when a policy is built, not when this module is
imported.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from agents.base import Candidate
from prover_env.types import ProofState

__all__ = [
    "CORRECTION_PROMPT",
    "PROMPT",
    "LLMPolicy",
    "build_tiny_model",
    "byte_tokenizer",
    "format_prompt",
    "load_causal_lm",
    "load_tokenizer",
]

PROMPT = "[GOALS]\n{goals}\n[PROOFSTEP]\n"
CORRECTION_PROMPT = "[GOALS]\n{goals}\n[FAILED]\n{failed}\n[ERROR]\n{error}\n[PROOFSTEP]\n"
_SPECIALS = {"pad_token": "<pad>", "eos_token": "</s>", "bos_token": "<s>", "unk_token": "<unk>"}


def format_prompt(goals: str, failed: str | None = None, error: str | None = None) -> str:
    """The prompt for a proof state's goals (see the module docstring for both formats).

    Args:
        goals: The goals, as the prover prints them.
        failed: A tactic the prover rejected at these goals (correction format).
        error: The prover's message for ``failed`` (correction format).

    Raises:
        ValueError: Only one of ``failed`` and ``error`` was given.
    """
    if failed is None and error is None:
        return PROMPT.format(goals=goals)
    if failed is None or error is None:
        raise ValueError("the correction prompt needs both failed and error (or neither)")
    return CORRECTION_PROMPT.format(goals=goals, failed=failed, error=error)


def byte_tokenizer() -> Any:
    """A byte-level tokenizer (256 byte tokens + specials) that needs no download or training."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(_SPECIALS.values())}
    for ch in sorted(alphabet):
        vocab.setdefault(ch, len(vocab))
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=_SPECIALS["unk_token"]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=core, padding_side="left", **_SPECIALS)


def build_tiny_model(tokenizer: Any, seed: int = 0) -> Any:
    """A small Llama-style causal LM (hidden 256, 4 layers, 4 heads) with random weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


def load_tokenizer(name: str) -> Any:
    """``"tiny"``: :func:`byte_tokenizer`; else ``AutoTokenizer`` for a Hugging Face id or a
    folder, with pad := EOS when it has no pad token."""
    if name == "tiny":
        return byte_tokenizer()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(name: str, tokenizer: Any, seed: int = 0) -> Any:
    """``"tiny"``: :func:`build_tiny_model` for ``tokenizer`` (weights from ``seed``); else
    ``AutoModelForCausalLM`` for a Hugging Face id or a folder (a checkpoint)."""
    if name == "tiny":
        return build_tiny_model(tokenizer, seed)
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(name)


class LLMPolicy:
    """Samples tactics from a causal LM.

    Args:
        model: ``"tiny"`` (offline default), a Hugging Face model id, or a local path.
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``...
        temperature: Sampling temperature (log-probs are reported at temperature 1).
        max_new_tokens: Longest tactic, in tokens.
        max_prompt_tokens: Goals longer than this are cut from the left.
        seed: Seed of the tiny model's weights and of sampling.
    """

    def __init__(
        self,
        model: str = "tiny",
        *,
        device: str = "auto",
        temperature: float = 1.0,
        max_new_tokens: int = 48,
        max_prompt_tokens: int = 1024,
        seed: int = 0,
    ) -> None:
        import torch

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.max_prompt_tokens = max_prompt_tokens
        self._generator = torch.Generator(device="cpu").manual_seed(seed)
        self.tokenizer = load_tokenizer(model)
        self.model = load_causal_lm(model, self.tokenizer, seed)
        self.tokenizer.padding_side = "left"  # generate() continues after the last prompt token
        self.tokenizer.truncation_side = "left"  # long goals lose their start, not [PROOFSTEP]
        self.model.to(device).eval()
        self.name = model

    # -- the agent interface -------------------------------------------------------------------

    def propose(self, state: ProofState, k: int) -> list[Candidate]:
        """Up to ``k`` distinct tactics for ``state``, best log-prob first."""
        return self.propose_batch([state], k)[0]

    def propose_batch(self, states: Sequence[ProofState], k: int) -> list[list[Candidate]]:
        """Sample ``k`` tactics for each state in one batched ``generate`` call."""
        import torch

        if not states:
            return []
        prompts = [format_prompt(s.goals) for s in states]
        enc = self.tokenizer(
            prompts,
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_prompt_tokens,
        ).to(self.device)
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=self._generator)))
        with torch.no_grad():
            out = self.model.generate(
                **enc,
                do_sample=True,
                temperature=self.temperature,
                top_k=0,  # transformers applies top-k 50 unless told otherwise
                top_p=1.0,
                num_return_sequences=k,
                max_new_tokens=self.max_new_tokens,
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=self.tokenizer.pad_token_id,
                return_dict_in_generate=True,
                output_logits=True,
            )
        new = out.sequences[:, enc["input_ids"].shape[1] :]
        logprobs = self._sequence_logprobs(out.logits, new)
        batch: list[list[Candidate]] = []
        for i in range(len(states)):
            best: dict[str, float] = {}
            for j in range(i * k, (i + 1) * k):
                tactic = self._decode(new[j]).strip()
                if tactic and logprobs[j] > best.get(tactic, -math.inf):
                    best[tactic] = logprobs[j]
            ranked = sorted(best.items(), key=lambda kv: kv[1], reverse=True)
            batch.append([Candidate(t, s) for t, s in ranked])
        return batch

    # -- helpers ------------------------------------------------------------------------------

    def _decode(self, ids: Any) -> str:
        eos, pad = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        kept = []
        for t in ids.tolist():
            if t == eos:
                break
            if t != pad:
                kept.append(t)
        return self.tokenizer.decode(kept, skip_special_tokens=True)

    def _sequence_logprobs(self, logits: Sequence[Any], new: Any) -> list[float]:
        """Log-prob (temperature 1) of each sampled continuation, up to and including EOS."""
        import torch

        eos = self.tokenizer.eos_token_id
        total = torch.zeros(new.shape[0])
        alive = torch.ones(new.shape[0], dtype=torch.bool)
        for step, step_logits in enumerate(logits):
            tokens = new[:, step]
            lp = torch.log_softmax(step_logits.float().cpu(), dim=-1)
            picked = lp.gather(1, tokens.cpu().unsqueeze(1)).squeeze(1)
            total += torch.where(alive, picked, torch.zeros_like(picked))
            alive &= tokens.cpu() != eos
        return total.tolist()

    def load_weights(self, state_dict: dict[str, Any]) -> None:
        """Replace the model's weights (a ``state_dict`` of the same architecture), e.g. fresh
        weights a learner broadcasts to rollout workers."""
        self.model.load_state_dict(state_dict)
        self.model.eval()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save model and tokenizer in Hugging Face format (``from_pretrained`` loads them)."""
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
