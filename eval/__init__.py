"""Evaluation for prover-gym: pass@k, and running an agent with a search over a suite.

``eval.runner.evaluate`` writes one JSON line per theorem and a summary with pass@k; it
resumes from a partial results file.
"""
