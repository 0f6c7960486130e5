"""Implementations of the ``prover-gym`` subcommands (imported on demand)."""

__all__: list[str] = []
