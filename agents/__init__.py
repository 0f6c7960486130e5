"""Agents for prover-gym environments: the agent interface, baselines and proof search.

``import agents`` is light; the LLM policy (torch + transformers) lives in ``agents.llm`` and
is imported only when used.
"""

from __future__ import annotations

from agents.base import Agent, Candidate, propose_batch
from agents.baselines import DEFAULT_AUTOMATION, AutomationAgent, RandomAgent, StepAgent
from agents.search import SearchConfig, SearchResult, best_first_search, sample_proofs

__all__ = [
    "DEFAULT_AUTOMATION",
    "Agent",
    "AutomationAgent",
    "Candidate",
    "RandomAgent",
    "SearchConfig",
    "SearchResult",
    "StepAgent",
    "best_first_search",
    "propose_batch",
    "sample_proofs",
]
