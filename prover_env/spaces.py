"""Text spaces for proof states and tactics.

Gymnasium's default ``Text`` charset is alphanumeric; provers print much more: ASCII
punctuation and layout, Unicode logic and arithmetic (∀ → ⊢ ≤ ≠ ∑ √), Greek letters, blackboard
bold (ℕ ℤ ℝ), sub- and superscripts. ``PROOF_CHARSET`` covers all of that; anything else a
prover prints is shown as ``\\ufffd`` in observations (``info["goals"]`` keeps the exact text).
"""

from __future__ import annotations

import re

from gymnasium import spaces

__all__ = ["PROOF_CHARSET", "REPLACEMENT", "proof_text_space", "sanitize"]

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


def sanitize(text: str, max_length: int) -> str:
    """Map ``text`` into the proof text space: unknown characters become U+FFFD, long text is
    cut to ``max_length`` with a final ``…``."""
    out = _OUTSIDE.sub(REPLACEMENT, text)
    if len(out) > max_length:
        out = out[: max_length - 1] + "…"
    return out


def proof_text_space(max_length: int, min_length: int = 0) -> spaces.Text:
    """A ``Text`` space over :data:`PROOF_CHARSET`."""
    return spaces.Text(max_length=max_length, min_length=min_length, charset=PROOF_CHARSET)
