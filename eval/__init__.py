"""Evaluation for prover-gym (pass@k on suites, parallel on Ray, reports).

Not implemented yet: this package is reserved by the layout (see the README's roadmap).
"""
