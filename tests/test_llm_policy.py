"""The LLM tactic policy (tiny offline model) and best-first search with it, on CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("transformers")

from agents import SearchConfig, best_first_search
from agents.llm import LLMPolicy, byte_tokenizer, format_prompt
from prover_env import CoqBackend, ProofState, builtin_coq_theorems

STATE = ProofState(1, "x, y : R\nh1 : x + y = 2\n⊢ x = 1", 1, "t")


@pytest.fixture(scope="module")
def policy() -> LLMPolicy:
    return LLMPolicy("tiny", max_new_tokens=12, seed=0)


def test_prompt_format_and_tokenizer_round_trip() -> None:
    tok = byte_tokenizer()
    text = format_prompt("x : ℝ\n⊢ 0 ≤ x ^ 2") + "nlinarith [sq_nonneg x]"
    assert tok.decode(tok(text)["input_ids"]) == text  # every byte, unicode included
    assert text.startswith("[GOALS]\n") and "\n[PROOFSTEP]\n" in text


def test_batched_candidates_with_log_probs(policy: LLMPolicy) -> None:
    batch = policy.propose_batch([STATE, STATE], 6)
    assert len(batch) == 2
    for cands in batch:
        assert 1 <= len(cands) <= 6 and len({c.tactic for c in cands}) == len(cands)
        scores = [c.score for c in cands]
        assert scores == sorted(scores, reverse=True) and all(s < 0 for s in scores)
    n_params = sum(p.numel() for p in policy.model.parameters())
    assert 1_000_000 < n_params < 10_000_000


def test_save_and_load_in_hugging_face_format(policy: LLMPolicy, tmp_path: Path) -> None:
    policy.save(tmp_path)
    assert (tmp_path / "config.json").exists() and (tmp_path / "tokenizer.json").exists()
    loaded = LLMPolicy(str(tmp_path), max_new_tokens=12, seed=0)
    import torch

    ids = loaded.tokenizer(format_prompt(STATE.goals), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        a = policy.model(ids).logits
        b = loaded.model(ids).logits
    assert torch.allclose(a, b, atol=1e-5)


def test_best_first_search_with_the_llm_policy_end_to_end(policy: LLMPolicy) -> None:
    theorems = builtin_coq_theorems()[:2]
    with CoqBackend(timeout=5) as coq:
        for theorem in theorems:
            res = best_first_search(
                coq, theorem, policy, SearchConfig(max_expansions=2, candidates=4)
            )
            assert res.expansions >= 1 and res.tactic_calls >= 1
            assert res.reason in ("budget", "exhausted", "proved")
            if res.proved:  # random weights rarely prove anything, but a proof must be real
                assert res.verdict is not None and res.verdict.ok
