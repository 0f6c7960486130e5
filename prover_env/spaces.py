"""Text spaces for proof states and tactics.

Gymnasium's default ``Text`` charset is alphanumeric; provers print much more: ASCII
punctuation and layout, Unicode logic and arithmetic (∀ → ⊢ ≤ ≠ ∑ √), Greek letters, blackboard
bold (ℕ ℤ ℝ), sub- and superscripts. ``PROOF_CHARSET`` covers all of that; anything else a
prover prints is shown as ``\\ufffd`` in observations (``info["goals"]`` keeps the exact text).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

__all__ = ["PROOF_CHARSET", "REPLACEMENT", "ProofText", "proof_text_space", "sanitize"]

REPLACEMENT = "\ufffd"

_RANGES = [
    (0x20, 0x7E),  # printable ASCII
    (0xA0, 0x24F),  # Latin-1 supplement, Latin extended
    (0x370, 0x3FF),  # Greek
    (0x1D00, 0x1DBF),  # phonetic extensions (small capitals, modifier letters)
    (0x2000, 0x206F),  # general punctuation
    (0x2070, 0x209F),  # superscripts and subscripts
    (0x20D0, 0x20FF),  # combining marks for symbols
    (0x2100, 0x214F),  # letterlike symbols (ℕ ℤ ℚ ℝ ℂ)
    (0x2150, 0x218F),  # number forms
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators
    (0x2300, 0x23FF),  # miscellaneous technical (⌊ ⌋ ⌈ ⌉)
    (0x2500, 0x257F),  # box drawing
    (0x25A0, 0x25FF),  # geometric shapes
    (0x2600, 0x26FF),  # miscellaneous symbols
    (0x27C0, 0x27EF),  # miscellaneous mathematical symbols A (⟨ ⟩)
    (0x27F0, 0x27FF),  # supplemental arrows A
    (0x2900, 0x297F),  # supplemental arrows B
    (0x2980, 0x29FF),  # miscellaneous mathematical symbols B
    (0x2A00, 0x2AFF),  # supplemental mathematical operators
    (0x2B00, 0x2BFF),  # miscellaneous symbols and arrows
    (0x1D400, 0x1D7FF),  # mathematical alphanumeric symbols (𝔽 𝒪 ...)
]

#: Characters allowed in observations and actions.
PROOF_CHARSET: frozenset[str] = frozenset(
    "\n\t" + REPLACEMENT + "".join(chr(c) for lo, hi in _RANGES for c in range(lo, hi + 1))
)


_OUTSIDE = re.compile(
    "[^\n\t"
    + "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in _RANGES)
    + re.escape(REPLACEMENT)
    + "]"
)

_SORTED_CHARSET = "".join(sorted(PROOF_CHARSET))


def sanitize(text: str, max_length: int) -> str:
    """Map ``text`` into the proof text space: unknown characters become U+FFFD, long text is
    cut to ``max_length`` with a final ``…``."""
    out = _OUTSIDE.sub(REPLACEMENT, text)
    if len(out) > max_length:
        out = out[: max_length - 1] + "…"
    return out


class ProofText(spaces.Text):
    """``Text`` over :data:`PROOF_CHARSET` that works in async vector envs' shared memory.

    Two gymnasium details break ``Text`` observations in ``make_vec(..., "async")``: ``Text``
    numbers characters in the order of the charset it is given (a set's order changes with each
    process's hash seed, so workers and the parent disagree), and the parent decodes the shared
    buffer into a tuple of strings once, at construction, then returns that tuple on every
    step. This space is built from the sorted charset, and its shared-memory reader returns a
    view that decodes the buffer when it is read (and when the vector env copies it).
    """

    def __init__(self, max_length: int, min_length: int = 0) -> None:
        super().__init__(max_length=max_length, min_length=min_length, charset=_SORTED_CHARSET)


class _SharedTexts(Sequence[str]):
    """The strings in an async vector env's shared buffer, decoded on access."""

    def __init__(self, space: spaces.Text, buffer: Any, n: int) -> None:
        self._space, self._buffer, self._n = space, buffer, n

    def _decode(self) -> tuple[str, ...]:
        data = np.frombuffer(self._buffer.get_obj(), dtype=np.int32)
        data = data.reshape((self._n, self._space.max_length))
        chars, size = self._space.character_list, len(self._space.character_list)
        return tuple("".join(chars[v] for v in row if v < size) for row in data)

    def __getitem__(self, index: Any) -> Any:
        return self._decode()[index]

    def __len__(self) -> int:
        return self._n

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return self._decode()

    def __eq__(self, other: object) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None  # type: ignore[assignment]


_READER_REGISTERED = False


def proof_text_space(max_length: int, min_length: int = 0) -> spaces.Text:
    """A :class:`ProofText` space (``Text`` over :data:`PROOF_CHARSET`)."""
    global _READER_REGISTERED
    if not _READER_REGISTERED:  # teach gymnasium's async vector env to read it (once)
        from gymnasium.vector.utils import read_from_shared_memory

        @read_from_shared_memory.register(ProofText)
        def _read(space: ProofText, shared_memory: Any, n: int = 1) -> _SharedTexts:
            return _SharedTexts(space, shared_memory, n)

        _READER_REGISTERED = True
    return ProofText(max_length=max_length, min_length=min_length)
