"""Agents for prover-gym environments (LLM tactic policy, proof search, baselines).

Not implemented yet: this package is reserved by the layout (see the README's roadmap).
"""
