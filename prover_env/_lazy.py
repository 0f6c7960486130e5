"""Lazy package exports: ``from training import train_rl`` without importing torch at
``import training``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for names that live in submodules.

    Args:
        package: The package's ``__name__``.
        exports: Exported name -> submodule (relative to ``package``) that defines it.

    Returns:
        The ``__getattr__`` to assign at the package's top level; a name is imported from its
        submodule on first access.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)
    return __getattr__
