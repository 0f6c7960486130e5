"""Training for prover-gym (synthetic data, SFT warm start, curriculum, RL on Ray).

Not implemented yet: this package is reserved by the layout (see the README's roadmap).
"""
