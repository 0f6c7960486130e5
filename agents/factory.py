"""Agents by name, so that a worker process can build its own (``make_agent("llm", model=...)``)."""

from __future__ import annotations

from typing import Any

from agents.base import Agent

__all__ = ["AGENT_NAMES", "make_agent"]

AGENT_NAMES = ("automation", "steps", "random", "llm")


def make_agent(name: str, **kwargs: Any) -> Agent:
    """Build an agent by name (``automation``, ``steps``, ``random``, ``llm``); kwargs go to it."""
    if name == "automation":
        from agents.baselines import AutomationAgent

        return AutomationAgent(**kwargs)
    if name == "steps":
        from agents.baselines import StepAgent

        return StepAgent(**kwargs)
    if name == "random":
        from agents.baselines import RandomAgent

        return RandomAgent(**kwargs)
    if name == "llm":
        from agents.llm import LLMPolicy

        return LLMPolicy(**kwargs)
    raise ValueError(f"unknown agent {name!r}: use one of {', '.join(AGENT_NAMES)}")
