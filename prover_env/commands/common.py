"""Helpers shared by the subcommands."""

from __future__ import annotations

from pathlib import Path

from prover_env.error import DataNotFoundError
from prover_env.suites import builtin_coq_theorems, load_coq_dir, load_minif2f_coq, parse_coq_source
from prover_env.types import Theorem

__all__ = ["load_suite"]


def load_suite(name: str, data_dir: str | None = None) -> list[Theorem]:
    """Theorems of a suite given on the command line.

    Args:
        name: ``builtin``, ``minif2f-coq:SPLIT`` or ``minif2f-lean:SPLIT`` (no split means
            ``:valid``), ``synth:DIR[:SPLIT]`` (a synthetic dataset; default split
            ``heldout``), a ``.v`` file, or a directory holding ``.v`` files (or split folders).
        data_dir: Suite root for ``minif2f-coq`` (default: ``$PROVER_GYM_DATA/minif2f-rocq``).
    """
    if name == "builtin":
        return builtin_coq_theorems()
    if name.split(":", 1)[0] in ("minif2f-lean", "minif2f-lean4"):
        from prover_env.lean.suites import load_minif2f_lean

        return load_minif2f_lean(name.split(":", 1)[1] if ":" in name else "valid", data_dir)
    if name.startswith("synth:"):
        from training.dataset import coq_theorems

        root, _, split = name[len("synth:") :].partition(":")
        return [t for _, t in coq_theorems(root, split or "heldout")]
    if name.split(":", 1)[0] in ("minif2f-coq", "minif2f-rocq"):
        split = name.split(":", 1)[1] if ":" in name else "valid"
        return load_minif2f_coq(split, data_dir)
    path = Path(name)
    if path.is_file():
        return parse_coq_source(path.read_text(encoding="utf-8"), source=str(path))
    if path.is_dir():
        if any(path.glob("*.v")):
            return load_coq_dir(path.parent, path.name)
        theorems: list[Theorem] = []
        for folder in sorted(p for p in path.iterdir() if p.is_dir() and any(p.glob("*.v"))):
            theorems += load_coq_dir(path, folder.name)
        if theorems:
            return theorems
    raise DataNotFoundError(
        f"unknown suite {name!r}: use builtin, minif2f-coq:valid|test, synth:DIR[:SPLIT], a .v "
        "file or a directory"
    )
