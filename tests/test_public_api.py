"""The public API is what ``__all__`` says, in every module, and importing it stays light."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest

PACKAGES = ("prover_env", "agents", "eval", "training")
# Modules that import an optional dependency at their top (the ``rl`` extra).
NEEDS = {"training.rllib_module": "ray.rllib", "training.ppo": "ray.rllib"}


def modules() -> list[str]:
    names = list(PACKAGES)
    for package in PACKAGES:
        path = importlib.import_module(package).__path__
        names += [m.name for m in pkgutil.walk_packages(path, f"{package}.")]
    return sorted(names)


@pytest.mark.parametrize("name", modules())
def test_module_lists_its_public_api(name: str) -> None:
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not have: {missing}"
    defined = [
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(v) or inspect.isfunction(v))
        and v.__module__ == name
    ]
    unlisted = sorted(set(defined) - set(exported))
    assert not unlisted, f"{name} defines public {unlisted} outside __all__ (export or _prefix)"


def test_packages_export_lazily() -> None:
    """``from training import train_rl`` works; ``import training`` imports no torch or Ray."""
    code = (
        "import sys, prover_env, prover_env.lean, agents, eval, training;"
        "heavy = [m for m in ('torch', 'ray', 'transformers', 'lean_dojo') if m in sys.modules];"
        "assert not heavy, heavy;"
        "assert set(dir(training)) == set(training.__all__);"
        "from training import SFTConfig, Curriculum;"
        "from eval import RayEvaluator, evaluate"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_lazy_name_is_an_attribute_error() -> None:
    import training

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        training.nope  # noqa: B018
    assert not hasattr(training, "nope")
