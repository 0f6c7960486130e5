"""A difficulty curriculum over theorems: sample from the current band, promote on success.

:class:`Curriculum` sorts theorems by a difficulty number (higher is harder) and cuts them into
difficulty bands of about equal size (band 0 the easiest) at the ``k / bands`` quantiles. Theorems
of equal difficulty always share a band: a cut inside a run of equal difficulties moves to the
nearest end of the run, and cuts that meet merge, so there may be fewer bands than asked for (all
theorems equally hard: one band).

Episodes are drawn from the current band; with probability ``replay`` from the bands already
passed (uniformly over their theorems), and with probability ``lookahead`` from the next band.
Each outcome reported with :meth:`Curriculum.update` counts towards its theorem's band; once at
least ``min_episodes`` outcomes of the current band were reported while it was current and the
success rate of the last ``window`` of them reaches ``promote_at``, the next band becomes current
(after the last band: :attr:`Curriculum.completed`, and sampling stays on the last band).

The curriculum plugs into :class:`~prover_env.env.ProverEnv` as its ``sampler``: the env draws
each episode's theorem with ``sample(env.np_random)`` and reports ``update(name, proved)`` when the
episode ends::

    curriculum = Curriculum(theorems, difficulty, CurriculumConfig(bands=3))
    env = ProverEnv(curriculum.theorems, sampler=curriculum)

Its state (band, outcome window, counters, its own RNG) round-trips through
:meth:`Curriculum.state_dict` / :meth:`Curriculum.load_state_dict`, or :meth:`Curriculum.save` /
:meth:`Curriculum.load`, so a training run can resume where it stopped.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import os
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from prover_env.types import Theorem
from training.dataset import THEOREMS, coq_theorems, read_theorems

__all__ = ["Curriculum", "CurriculumConfig", "curriculum_from_dataset"]

_STATE_VERSION = 1


@dataclass(frozen=True)
class CurriculumConfig:
    """How a :class:`Curriculum` bands, samples and promotes.

    Attributes:
        bands: Difficulty bands to cut the theorems into (at most; ties are kept together).
        window: Promotion looks at the success rate of the last ``window`` outcomes of the
            current band.
        promote_at: Success rate (0 to 1) at which the next band becomes current.
        min_episodes: Outcomes of the current band needed (while it is current) before promoting.
        replay: Probability of drawing from an easier band already passed (from the current
            band while in band 0).
        lookahead: Probability of drawing from the next band (from the current band while in
            the last one).
        seed: Seed of the curriculum's own RNG (used when ``sample`` gets no generator);
            ``None``: fresh entropy.
    """

    bands: int = 4
    window: int = 20
    promote_at: float = 0.7
    min_episodes: int = 20
    replay: float = 0.2
    lookahead: float = 0.0
    seed: int | None = 0

    def __post_init__(self) -> None:
        for name in ("bands", "window", "min_episodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"CurriculumConfig.{name} must be an int, not {value!r}")
        if self.bands < 1:
            raise ValueError(f"CurriculumConfig.bands must be at least 1, not {self.bands}")
        if self.window < 1:
            raise ValueError(f"CurriculumConfig.window must be at least 1, not {self.window}")
        if self.min_episodes < 0:
            raise ValueError(f"CurriculumConfig.min_episodes must be >= 0, not {self.min_episodes}")
        for name in ("promote_at", "replay", "lookahead"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0.0 <= value <= 1.0
            ):
                raise ValueError(
                    f"CurriculumConfig.{name} must be a number in [0, 1], not {value!r}"
                )
        if self.replay + self.lookahead > 1.0:
            raise ValueError(
                f"CurriculumConfig.replay + lookahead must be at most 1, not "
                f"{self.replay} + {self.lookahead}"
            )
        if self.seed is not None and not _is_int(self.seed):
            raise ValueError(f"CurriculumConfig.seed must be an int or None, not {self.seed!r}")


def _assign_bands(values: Sequence[float], bands: int) -> list[int]:
    """Bands of ascending ``values``: cut at the ``k / bands`` quantiles, ties kept together.

    Each cut moves to the nearest place where the value changes (the earlier one when two are
    as near); cuts that land on the same place merge, so no band is empty and there may be
    fewer than ``bands`` bands.
    """
    n = len(values)
    boundaries = [i for i in range(1, n) if values[i] != values[i - 1]]
    cuts: set[int] = set()
    for k in range(1, bands):
        if not boundaries:
            break
        # nearest boundary to k * n / bands, compared exactly in integers
        at = bisect.bisect_left(boundaries, k * n / bands)
        near = boundaries[max(at - 1, 0) : at + 1]
        cuts.add(min(near, key=lambda b: (abs(b * bands - k * n), b)))
    out: list[int] = []
    band = 0
    for i in range(n):
        if i in cuts:
            band += 1
        out.append(band)
    return out


class Curriculum:
    """Samples theorems band by band, easiest first, promoting on sustained success.

    Args:
        theorems: The theorems (unique names).
        difficulty: Difficulty of each theorem by name (a finite number; higher is harder).
            Names not in ``theorems`` are ignored.
        config: Banding, sampling and promotion settings (default: :class:`CurriculumConfig`).

    Raises:
        ValueError: No theorems, repeated names, or a theorem without a finite difficulty.
    """

    def __init__(
        self,
        theorems: Sequence[Theorem],
        difficulty: Mapping[str, float],
        config: CurriculumConfig | None = None,
    ) -> None:
        self.config = config if config is not None else CurriculumConfig()
        if not isinstance(self.config, CurriculumConfig):
            raise TypeError(f"config must be a CurriculumConfig, not {type(self.config).__name__}")
        items = list(theorems)
        if not items:
            raise ValueError("a Curriculum needs at least one theorem")
        for t in items:
            if not isinstance(t, Theorem):
                raise TypeError(f"theorems must be Theorem objects, not {type(t).__name__}")
        names = [t.name for t in items]
        if len(set(names)) != len(names):
            dups = sorted(n for n, k in Counter(names).items() if k > 1)
            raise ValueError(f"theorem names must be unique in a Curriculum; repeated: {dups[:5]}")
        missing = [n for n in names if n not in difficulty]
        if missing:
            raise ValueError(
                f"no difficulty for {len(missing)} theorem(s), e.g. {missing[:5]}: pass a "
                "difficulty for every theorem (or leave those theorems out)"
            )
        level: dict[str, float] = {}
        for n in names:
            try:
                value = float(difficulty[n])
            except (TypeError, ValueError) as e:
                raise ValueError(f"difficulty of {n!r} is not a number: {difficulty[n]!r}") from e
            if not math.isfinite(value):
                raise ValueError(f"difficulty of {n!r} must be finite, not {value}")
            level[n] = value
        order = sorted(range(len(items)), key=lambda i: (level[names[i]], i))
        self._sorted: tuple[Theorem, ...] = tuple(items[i] for i in order)
        assigned = _assign_bands([level[t.name] for t in self._sorted], self.config.bands)
        self._num_bands = assigned[-1] + 1
        # Band b holds self._sorted[self._start[b]:self._start[b + 1]].
        self._start = [0] * (self._num_bands + 1)
        for b in assigned:
            self._start[b + 1] += 1
        for b in range(self._num_bands):
            self._start[b + 1] += self._start[b]
        self._theorems = tuple(items)
        self._difficulty = level
        self._band_of = {t.name: b for t, b in zip(self._sorted, assigned, strict=True)}
        self._fingerprint = self._compute_fingerprint()
        self._rng = np.random.default_rng(self.config.seed)
        self._band = 0
        self._completed = False
        self._window: list[bool] = []
        self._episodes = 0
        self._attempts = [0] * self._num_bands
        self._successes = [0] * self._num_bands

    # -- structure -----------------------------------------------------------------------------

    @property
    def theorems(self) -> tuple[Theorem, ...]:
        """The theorems, in the order given (pass them to ``ProverEnv(theorems=...)``)."""
        return self._theorems

    @property
    def num_bands(self) -> int:
        """Number of difficulty bands (at most ``config.bands``; fewer when ties force it)."""
        return self._num_bands

    @property
    def band(self) -> int:
        """The current band (0 = easiest)."""
        return self._band

    @property
    def completed(self) -> bool:
        """Whether the last band met the promotion criterion."""
        return self._completed

    def band_of(self, name: str) -> int:
        """The band of theorem ``name``.

        Raises:
            KeyError: ``name`` is not in the curriculum.
        """
        if name not in self._band_of:
            raise KeyError(f"theorem {name!r} is not in this curriculum")
        return self._band_of[name]

    def band_theorems(self, band: int) -> tuple[Theorem, ...]:
        """The theorems of ``band``, easiest first."""
        if not 0 <= band < self._num_bands:
            raise IndexError(f"band must be in 0..{self._num_bands - 1}, not {band}")
        return self._sorted[self._start[band] : self._start[band + 1]]

    # -- sampling and outcomes -----------------------------------------------------------------

    def sample(self, rng: np.random.Generator | None = None) -> Theorem:
        """Draw a theorem: from the current band, or (``replay``) an easier one, or
        (``lookahead``) the next one.

        Args:
            rng: Generator to draw with (the env passes its ``np_random``); ``None``: the
                curriculum's own RNG (seeded by ``config.seed``, saved in :meth:`state_dict`).
        """
        gen = self._rng if rng is None else rng
        u = float(gen.random())
        band = self._band
        lo, hi = self._start[band], self._start[band + 1]
        if u < self.config.replay:
            if band > 0:
                lo, hi = 0, self._start[band]
        elif u < self.config.replay + self.config.lookahead and band + 1 < self._num_bands:
            lo, hi = self._start[band + 1], self._start[band + 2]
        return self._sorted[lo + int(gen.integers(hi - lo))]

    def update(self, name: str, success: bool) -> bool:
        """Record the outcome of an episode on theorem ``name``.

        Every outcome counts in its band's :meth:`stats`; only outcomes of the current band count
        towards promotion.

        Returns:
            Whether this outcome promoted the curriculum (or completed the last band).

        Raises:
            ValueError: ``name`` is not in the curriculum.
        """
        band = self._band_of.get(name)
        if band is None:
            raise ValueError(
                f"theorem {name!r} is not in this curriculum ({len(self._theorems)} theorems): "
                "report outcomes only for theorems the curriculum sampled"
            )
        ok = bool(success)
        self._attempts[band] += 1
        self._successes[band] += ok
        if band != self._band or self._completed:
            return False
        self._window.append(ok)
        if len(self._window) > self.config.window:
            del self._window[0]
        self._episodes += 1
        if self._episodes < self.config.min_episodes:
            return False
        if sum(self._window) < self.config.promote_at * len(self._window):
            return False
        if self._band + 1 < self._num_bands:
            self._band += 1
            self._window = []
            self._episodes = 0
        else:
            self._completed = True
        return True

    def stats(self) -> list[dict[str, Any]]:
        """Per band: ``band``, ``theorems``, difficulty range ``easiest``/``hardest``,
        ``attempts``, ``successes`` and ``rate`` (``None`` before any attempt)."""
        out = []
        for b in range(self._num_bands):
            members = self.band_theorems(b)
            attempts, successes = self._attempts[b], self._successes[b]
            out.append(
                {
                    "band": b,
                    "theorems": len(members),
                    "easiest": self._difficulty[members[0].name],
                    "hardest": self._difficulty[members[-1].name],
                    "attempts": attempts,
                    "successes": successes,
                    "rate": successes / attempts if attempts else None,
                }
            )
        return out

    # -- persistence ---------------------------------------------------------------------------

    def _compute_fingerprint(self) -> str:
        digest = hashlib.sha256()
        for t in sorted(self._sorted, key=lambda t: t.name):
            row = [t.name, t.language, t.header, t.statement, self._band_of[t.name]]
            digest.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
            digest.update(b"\n")
        return digest.hexdigest()

    def state_dict(self) -> dict[str, Any]:
        """The curriculum's progress as a JSON-serializable dict (see :meth:`load_state_dict`)."""
        return {
            "version": _STATE_VERSION,
            "fingerprint": self._fingerprint,
            "num_theorems": len(self._theorems),
            "num_bands": self._num_bands,
            "config": asdict(self.config),
            "band": self._band,
            "completed": self._completed,
            "window": list(self._window),
            "episodes_in_band": self._episodes,
            "attempts": list(self._attempts),
            "successes": list(self._successes),
            "rng": self._rng.bit_generator.state,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore progress saved by :meth:`state_dict` (checked whole before anything changes).

        Raises:
            ValueError: ``state`` is malformed, was saved for a different theorem set or band
                split (other theorems, statements or difficulties), or with another config
                (``seed`` aside).
        """
        if not isinstance(state, Mapping):
            raise ValueError(f"a curriculum state is a dict, not {type(state).__name__}")
        keys = (
            "version",
            "fingerprint",
            "config",
            "band",
            "completed",
            "window",
            "episodes_in_band",
            "attempts",
            "successes",
            "rng",
        )
        missing = [k for k in keys if k not in state]
        if missing:
            raise ValueError(f"curriculum state lacks {missing}: pass a dict from state_dict()")
        if state["version"] != _STATE_VERSION:
            raise ValueError(
                f"curriculum state version {state['version']!r} is not supported "
                f"(this code reads version {_STATE_VERSION})"
            )
        if state["fingerprint"] != self._fingerprint:
            raise ValueError(
                "this curriculum state was saved for a different theorem set "
                f"({state.get('num_theorems', '?')} theorems in {state.get('num_bands', '?')} "
                f"bands; here {len(self._theorems)} in {self._num_bands}, or the same count with "
                "other names, statements or difficulty bands): build the Curriculum with the "
                "theorems, difficulties and config it was saved with"
            )
        saved = state["config"]
        mine = asdict(self.config)
        if not isinstance(saved, Mapping):
            raise ValueError("curriculum state: 'config' must be a dict")
        differ = sorted(k for k in mine if k != "seed" and saved.get(k) != mine[k])
        if differ:
            raise ValueError(
                f"curriculum state was saved with another config ({', '.join(differ)}: "
                f"{[saved.get(k) for k in differ]} there, {[mine[k] for k in differ]} here): "
                "build the Curriculum with the saved config (Curriculum.load does)"
            )
        band = state["band"]
        if not _is_int(band) or not 0 <= band < self._num_bands:
            raise ValueError(f"curriculum state: band must be in 0..{self._num_bands - 1}")
        if not isinstance(state["completed"], bool):
            raise ValueError("curriculum state: 'completed' must be true or false")
        window = state["window"]
        if not isinstance(window, list) or not all(isinstance(x, bool) for x in window):
            raise ValueError("curriculum state: 'window' must be a list of true/false")
        if len(window) > self.config.window:
            raise ValueError(f"curriculum state: window longer than {self.config.window}")
        episodes = state["episodes_in_band"]
        if not _is_int(episodes) or episodes < 0:
            raise ValueError("curriculum state: 'episodes_in_band' must be an int >= 0")
        attempts, successes = state["attempts"], state["successes"]
        for name, counts in (("attempts", attempts), ("successes", successes)):
            if (
                not isinstance(counts, list)
                or len(counts) != self._num_bands
                or not all(_is_int(c) and c >= 0 for c in counts)
            ):
                raise ValueError(
                    f"curriculum state: {name!r} must be {self._num_bands} ints >= 0 (one a band)"
                )
        if any(s > a for s, a in zip(successes, attempts, strict=True)):
            raise ValueError("curriculum state: more successes than attempts in a band")
        rng_state = state["rng"]
        kind = type(self._rng.bit_generator)
        if not isinstance(rng_state, Mapping) or rng_state.get("bit_generator") != kind.__name__:
            raise ValueError(f"curriculum state: 'rng' must be a {kind.__name__} state")
        try:
            bit_generator = kind()
            bit_generator.state = dict(rng_state)
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"curriculum state: bad 'rng' state ({e})") from e
        self._rng = np.random.Generator(bit_generator)
        self._band = band
        self._completed = state["completed"]
        self._window = list(window)
        self._episodes = episodes
        self._attempts = list(attempts)
        self._successes = list(successes)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`state_dict` to ``path`` as JSON (atomically)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.state_dict(), indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        theorems: Sequence[Theorem],
        difficulty: Mapping[str, float],
    ) -> Curriculum:
        """A curriculum over ``theorems`` with the config and progress saved at ``path``.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ValueError: The file is not a curriculum state, or was saved for other theorems.
        """
        path = Path(path)
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not a curriculum state (invalid JSON: {e.msg})") from e
        if not isinstance(state, dict) or not isinstance(state.get("config"), dict):
            raise ValueError(f"{path}: not a curriculum state (no 'config'): use Curriculum.save")
        names = {f.name for f in fields(CurriculumConfig)}
        unknown = set(state["config"]) - names
        if unknown:
            raise ValueError(f"{path}: unknown config field(s) {sorted(unknown)}")
        curriculum = cls(theorems, difficulty, CurriculumConfig(**state["config"]))
        try:
            curriculum.load_state_dict(state)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e
        return curriculum


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def curriculum_from_dataset(
    dataset_dir: str | os.PathLike[str],
    split: str = "train",
    config: CurriculumConfig | None = None,
) -> Curriculum:
    """A curriculum over the Coq theorems of a dataset directory (see :mod:`training.dataset`).

    Reads ``theorems.jsonl``: every record of ``split`` with a ``coq`` statement and a
    ``difficulty`` becomes a Coq :class:`Theorem` (header: ``manifest.json``'s ``coq_header``, or
    ``""``). Records of the split without either are left out, with a warning.

    Raises:
        DataNotFoundError: ``dataset_dir`` has no ``theorems.jsonl``.
        ValueError: No record of ``split`` has both a Coq statement and a difficulty.
    """
    path = Path(dataset_dir) / THEOREMS
    theorems: list[Theorem] = []
    difficulty: dict[str, float] = {}
    splits = {r.split for r in read_theorems(path)} if path.is_file() else set()
    left_out = 0
    for record, theorem in coq_theorems(dataset_dir):
        if record.split != split:
            continue
        if record.difficulty is None:
            left_out += 1
            continue
        theorems.append(theorem)
        difficulty[record.name] = record.difficulty
    left_out += sum(
        1 for r in (read_theorems(path) if path.is_file() else ()) if r.split == split and not r.coq
    )
    if not theorems:
        raise ValueError(
            f"{path}: no theorem of split {split!r} has a Coq statement and a difficulty "
            f"(splits there: {sorted(splits)}; {left_out} of {split!r} lack one): "
            "pick another split or trace the theorems first"
        )
    if left_out:
        warnings.warn(
            f"{path}: {left_out} theorem(s) of split {split!r} have no Coq statement or no "
            "difficulty and are left out of the curriculum",
            stacklevel=2,
        )
    return Curriculum(theorems, difficulty, config)
