"""``ProverEnv``: an interactive theorem prover as a Gymnasium environment.

* observation: the goals, as text (hypotheses, then ``⊢ conclusion``; a blank line between goals);
* action: tactic text (one or more sentences, e.g. ``"intros x. lra."``);
* reward: ``1.0`` on the step that finishes the proof, only after the backend's ``verify``
  re-checked the whole proof in a fresh context; minus ``step_penalty`` on every step;
* ``terminated`` when no goals remain (verified or not: ``info["verdict"]`` says which);
  ``truncated`` after ``max_steps`` steps.

A tactic the prover rejects leaves the state unchanged and is reported in ``info["error"]``; it
never raises. Steps are deterministic except through time limits (a tactic near its limit may
succeed once and time out once) and ``info["elapsed"]``, so the env is registered as
``nondeterministic``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from prover_env.backend import Backend
from prover_env.error import TheoremError, UnknownTheoremError
from prover_env.spaces import proof_text_space, sanitize
from prover_env.types import ProofFinished, ProofState, TacticError, Theorem, Verdict

__all__ = ["ProverEnv", "TheoremSampler", "make_backend"]

#: Draws in a row that a sampler may spend on theorems known not to elaborate.
_MAX_UNUSABLE_DRAWS = 100


@runtime_checkable
class TheoremSampler(Protocol):
    """Picks each episode's theorem (e.g. :class:`training.curriculum.Curriculum`).

    It may also have ``update(name: str, success: bool)``: the env calls it once per sampled
    episode, when the episode ends, with whether the kernel accepted the proof.
    """

    def sample(self, rng: np.random.Generator) -> Theorem:
        """A theorem of the env's theorem list, drawn with ``rng`` (the env's ``np_random``)."""
        ...


def make_backend(name: str, **kwargs: Any) -> Backend:
    """Build a backend by name (``"coq"``); keyword arguments go to its config."""
    if name == "coq":
        from prover_env.coq.backend import CoqBackend

        return CoqBackend(**kwargs)
    if name in ("lean", "lean4", "lean-repl"):
        from prover_env.lean.backend import LeanReplBackend

        return LeanReplBackend(**kwargs)
    if name in ("leandojo", "lean-dojo"):
        from prover_env.lean.dojo import LeanDojoBackend

        return LeanDojoBackend(**kwargs)
    raise ValueError(f"unknown backend {name!r}: use 'coq', 'lean' or 'leandojo'")


def _as_theorems(theorems: Sequence[Theorem | str] | None, language: str) -> list[Theorem]:
    if language == "lean4":
        from prover_env.lean.suites import builtin_lean_theorems as builtin
        from prover_env.lean.suites import parse_lean_source as parse
    else:
        from prover_env.suites import builtin_coq_theorems as builtin
        from prover_env.suites import parse_coq_source as parse

    if theorems is None:
        return builtin()
    out: list[Theorem] = []
    for item in theorems:
        if isinstance(item, Theorem):
            if item.language != language:
                raise ValueError(f"theorem {item.name} is {item.language}, the backend {language}")
            out.append(item)
        elif isinstance(item, str):
            found = parse(item)
            if not found:
                raise ValueError(f"no theorem statement found in {item[:80]!r}")
            out.extend(found)
        else:
            raise TypeError(f"theorems must be Theorem objects or Coq source, not {type(item)}")
    if not out:
        raise ValueError("ProverEnv needs at least one theorem")
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise ValueError("theorem names must be unique within an environment")
    return out


class ProverEnv(gym.Env[str, str]):
    """A theorem prover as a Gymnasium environment.

    Args:
        theorems: Theorems to sample from: :class:`Theorem` objects or source strings in the
            backend's language (each may hold several theorems). ``None``: the built-in
            theorems of that language.
        backend: ``"coq"``, ``"lean"`` or a :class:`Backend` instance (shared, not closed by
            the env).
        max_steps: Steps before ``truncated``.
        step_penalty: Subtracted from the reward on every step.
        tactic_timeout: Seconds per action (``None``: the backend's default).
        max_obs_chars: Longest observation; longer goals are cut (``info["goals"]`` is whole).
        max_tactic_chars: Longest action in the action space.
        render_mode: ``"ansi"`` (``render()`` returns text) or ``"human"`` (prints).
        backend_kwargs: Settings for a backend built by name (e.g. ``{"prelude": ...}``).
        sampler: Picks the theorem of each ``reset()`` without ``options["theorem"]``:
            ``sampler.sample(env.np_random)`` instead of uniformly. It must return one of the
            env's ``theorems`` (same name and statement; the env does not add theorems), e.g.
            ``ProverEnv(curriculum.theorems, sampler=curriculum)``. If it has
            ``update(name, success)``, the env calls it once per sampled episode, at its end
            (terminated or truncated), with whether the proof was verified. Draws of theorems
            that do not elaborate are skipped (listed in ``env.unusable``).
    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        theorems: Sequence[Theorem | str] | None = None,
        backend: str | Backend = "coq",
        *,
        max_steps: int = 50,
        step_penalty: float = 0.0,
        tactic_timeout: float | None = None,
        max_obs_chars: int = 16384,
        max_tactic_chars: int = 4096,
        render_mode: str | None = None,
        backend_kwargs: Mapping[str, Any] | None = None,
        sampler: TheoremSampler | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        if sampler is not None and not callable(getattr(sampler, "sample", None)):
            raise TypeError(
                f"sampler must have a sample(rng) -> Theorem method, not {type(sampler).__name__}"
            )
        language = (
            (
                "lean4"
                if backend in ("lean", "lean4", "lean-repl", "leandojo", "lean-dojo")
                else "coq"
            )
            if isinstance(backend, str)
            else backend.language
        )
        self.theorems = _as_theorems(theorems, language)
        self._by_name = {t.name: t for t in self.theorems}
        self.unusable: dict[str, str] = {}
        self.max_steps = max_steps
        self.step_penalty = float(step_penalty)
        self.tactic_timeout = tactic_timeout
        self.max_obs_chars = max_obs_chars
        self.render_mode = render_mode
        self.observation_space = proof_text_space(max_obs_chars)
        self.action_space = proof_text_space(max_tactic_chars, min_length=1)
        self._owns_backend = isinstance(backend, str)
        self._backend_spec = backend
        self._backend_kwargs = {"max_tactic_chars": max_tactic_chars, **(backend_kwargs or {})}
        self._backend: Backend | None = None if isinstance(backend, str) else backend
        self.theorem: Theorem | None = None
        self.state: ProofState | ProofFinished | None = None
        self._steps = 0
        self._done = False
        self._last: dict[str, Any] = {}
        self._history: list[ProofState | ProofFinished] = []
        self.sampler = sampler
        self._report_outcome = False

    # -- Gymnasium API -------------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        """The prover backend (started on first use)."""
        if self._backend is None:
            self._backend = make_backend(str(self._backend_spec), **self._backend_kwargs)
        return self._backend

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start an episode.

        Args:
            seed: Seeds the theorem sampler.
            options: ``{"theorem": NAME}`` picks a theorem by name instead of sampling (the
                sampler, if any, is neither asked nor told the outcome).

        Raises:
            UnknownTheoremError: ``options["theorem"]``, or the sampler's theorem, is not in the
                env.
            TheoremError: The requested theorem does not elaborate (sampled ones that do not
                are skipped and listed in ``env.unusable``).
        """
        super().reset(seed=seed)
        started = time.perf_counter()
        skipped: list[str] = []
        name = (options or {}).get("theorem")
        if name is not None:
            if name not in self._by_name:
                raise UnknownTheoremError(
                    f"unknown theorem {name!r}: this env has {len(self.theorems)} theorems, "
                    f"e.g. {', '.join(t.name for t in self.theorems[:5])}"
                )
            theorem = self._by_name[name]
            state = self.backend.start(theorem)
        else:
            draws = 0
            while True:
                usable = [t for t in self.theorems if t.name not in self.unusable]
                if not usable:
                    raise TheoremError(
                        "*",
                        "no theorem of this env elaborates: "
                        + "; ".join(f"{k}: {v}" for k, v in list(self.unusable.items())[:3]),
                    )
                if self.sampler is None:
                    theorem = usable[int(self.np_random.integers(len(usable)))]
                else:
                    theorem = self._sampled_theorem()
                    draws += 1
                    if theorem.name in self.unusable:
                        if draws >= _MAX_UNUSABLE_DRAWS:
                            raise TheoremError(
                                theorem.name,
                                f"the sampler drew {draws} theorems in a row that do not "
                                f"elaborate ({', '.join(sorted(self.unusable)[:5])}, ...): "
                                "drop them from the sampler",
                            )
                        continue
                try:
                    state = self.backend.start(theorem)
                    break
                except TheoremError as e:
                    self.unusable[theorem.name] = e.message
                    skipped.append(theorem.name)
        self.theorem, self.state = theorem, state
        self._steps, self._done, self._history = 0, False, []
        self._report_outcome = name is None and self.sampler is not None
        info = self._info(state, None, time.perf_counter() - started)
        if skipped:
            info["skipped_unusable"] = skipped
        self._last = {"action": None, **info}
        return sanitize(state.goals, self.max_obs_chars), info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Run one tactic. A rejected tactic is reported in ``info["error"]``, never raised."""
        if self.state is None or self.theorem is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._done:
            raise gym.error.ResetNeeded("the episode is over: call reset()")
        started = time.perf_counter()
        result = self.backend.run_tactic(self.state, action, self.tactic_timeout)
        self._steps += 1
        reward = -self.step_penalty if self.step_penalty else 0.0
        terminated = False
        verdict: Verdict | None = None
        error: TacticError | None = None
        if isinstance(result, TacticError):
            error = result
        else:
            self._history.append(self.state)
            self.state = result
            if isinstance(result, ProofFinished):
                terminated = True
                verdict = self.backend.verify(self.theorem, result.proof)
                if verdict.ok:
                    reward += 1.0
        truncated = not terminated and self._steps >= self.max_steps
        self._done = terminated or truncated
        if self._done and self._report_outcome:
            self._report_outcome = False  # once per episode, even if undo() reopens it
            update = getattr(self.sampler, "update", None)
            if callable(update):
                update(self.theorem.name, verdict is not None and verdict.ok)
        info = self._info(self.state, error, time.perf_counter() - started)
        if verdict is not None:
            info["verdict"] = {
                "ok": verdict.ok,
                "message": verdict.message,
                "axioms": list(verdict.axioms),
                "forbidden": list(verdict.forbidden),
            }
        self._last = {"action": action, **info}
        if self.render_mode == "human":
            print(self.render_text())
        return sanitize(self.state.goals, self.max_obs_chars), reward, terminated, truncated, info

    def render(self) -> str | None:  # type: ignore[override]
        """``ansi``: the last step as text; ``human``: printed on every step."""
        if self.render_mode == "ansi":
            return self.render_text()
        if self.render_mode == "human":
            print(self.render_text())
        return None

    def close(self) -> None:
        """Kill the prover processes (when the env built its own backend)."""
        if self._owns_backend and self._backend is not None:
            self._backend.close()
            self._backend = None
        self.state = None

    def can_undo(self) -> bool:
        """Whether :meth:`undo` has a step to go back to."""
        return bool(self._history)

    def undo(self) -> str:
        """Go back to the state before the last successful step (backends run tactics from
        any kept state); returns the observation. Counts as no step."""
        if not self._history:
            raise gym.error.ResetNeeded("nothing to undo: no step changed the state yet")
        self.state = self._history.pop()
        self._done = False
        return sanitize(self.state.goals, self.max_obs_chars)

    # -- helpers -------------------------------------------------------------------------------

    def _sampled_theorem(self) -> Theorem:
        theorem = self.sampler.sample(self.np_random)  # type: ignore[union-attr]
        if not isinstance(theorem, Theorem):
            raise TypeError(f"sampler.sample() must return a Theorem, not {type(theorem).__name__}")
        if self._by_name.get(theorem.name) != theorem:
            raise UnknownTheoremError(
                f"the sampler drew {theorem.name!r}, which is not one of this env's "
                f"{len(self.theorems)} theorems (or differs from the env's theorem of that name): "
                "pass the sampler's theorems to the env, e.g. "
                "ProverEnv(curriculum.theorems, sampler=curriculum)"
            )
        return self._by_name[theorem.name]

    def render_text(self) -> str:
        """The theorem, the last action and its outcome, and the goals."""
        if self.theorem is None or self.state is None:
            return "(no episode: call reset())"
        lines = [f"theorem {self.theorem.name}  step {self._steps}/{self.max_steps}"]
        if self._last.get("action") is not None:
            lines.append(f"> {self._last['action']}")
        if self._last.get("error"):
            lines.append(f"! {self._last['error']}")
        verdict = self._last.get("verdict")
        if verdict is not None:
            lines.append(
                "proved (kernel-checked)" if verdict["ok"] else f"NOT proved: {verdict['message']}"
            )
        lines.append(self.state.goals or "no goals")
        return "\n".join(lines)

    def _info(
        self, state: ProofState | ProofFinished, error: TacticError | None, elapsed: float
    ) -> dict[str, Any]:
        return {
            "theorem": self.theorem.name if self.theorem else None,
            "state_id": state.id,
            "num_goals": state.num_goals,
            "goals": state.goals,
            "proof": list(state.proof),
            "steps": self._steps,
            "error": error.message if error else None,
            "timeout": bool(error and error.timeout),
            "rejected_by_guard": bool(error and error.rejected_by_guard),
            "elapsed": elapsed,
        }
