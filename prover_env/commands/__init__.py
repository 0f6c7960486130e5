"""Implementations of the ``prover-gym`` subcommands (imported on demand)."""
