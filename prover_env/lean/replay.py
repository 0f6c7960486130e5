"""A stand-in for ``lake exe repl`` that answers from real Lean REPL transcripts.

Usage::

    python -m prover_env.lean.replay TRANSCRIPTS_DIR [--exit-after N] [--hang-after N]
                                                      [--garbage-after N] [--fault-once MARKER]

``TRANSCRIPTS_DIR`` holds ``NAME.in`` (requests sent to a real REPL, blank-line separated) and
``NAME.expected.out`` (what the real REPL answered). The process reads requests on stdin as the
REPL does and answers the k-th request with the k-th recorded response of every transcript whose
first k requests equal (as JSON) what it received so far. A request that no transcript recorded
is an error: the process says so on stderr and exits with code 3, so a client that sends
anything the real Lean did not see fails loudly. Nothing is invented: every answer is a real one.

The ``--*-after`` options break the process on purpose after N answers (exit, never answer,
answer non-JSON), for testing how clients survive a broken REPL.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["Transcript", "load_transcripts", "main", "split_json_stream"]

_DECODER = json.JSONDecoder(strict=False)  # the REPL accepts raw newlines inside strings


def split_json_stream(text: str) -> list[Any]:
    """The JSON values of a blank-line separated stream, in order."""
    out: list[Any] = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        value, i = _DECODER.raw_decode(text, i)
        out.append(value)


def _as_lean_reads(text: str) -> str:
    """Drop raw line breaks inside JSON strings, as the REPL's JSON parser does.

    A request file may hold a raw newline inside a string (invalid JSON that Lean accepts):
    Lean reads ``"by<newline>sorry"`` as ``"bysorry"`` (fixture ``invalid_line_break``).
    """
    out: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            elif ch in "\r\n":
                continue
        elif ch == '"':
            in_string = True
        out.append(ch)
    return "".join(out)


class Transcript:
    """One recorded REPL session: requests and the real responses, in order."""

    def __init__(self, name: str, requests: list[Any], responses: list[Any]) -> None:
        self.name = name
        self.requests = requests
        self.responses = responses

    def __repr__(self) -> str:
        return f"Transcript({self.name!r}, {len(self.requests)} requests)"


def load_transcripts(folder: str | Path) -> list[Transcript]:
    """Every ``NAME.in`` with a ``NAME.expected.out`` in ``folder`` (sorted by name)."""
    out = []
    for path in sorted(Path(folder).glob("*.in")):
        expected = path.with_name(path.name[: -len(".in")] + ".expected.out")
        if not expected.exists():
            continue
        requests = split_json_stream(_as_lean_reads(path.read_text(encoding="utf-8")))
        responses = split_json_stream(expected.read_text(encoding="utf-8"))
        out.append(Transcript(path.name[: -len(".in")], requests, responses))
    return out


def _requests(stream: Any) -> Iterator[Any]:
    """Requests on ``stream``, one JSON object per blank-line separated paragraph."""
    lines: list[str] = []
    for line in stream:
        if line.strip():
            lines.append(line)
            continue
        if lines:
            yield _DECODER.decode("".join(lines))
            lines = []
    if lines:
        yield _DECODER.decode("".join(lines))


def main(argv: list[str] | None = None) -> int:
    """Serve requests from stdin until it closes."""
    ap = argparse.ArgumentParser(prog="python -m prover_env.lean.replay", description=__doc__)
    ap.add_argument("transcripts", help="folder of NAME.in / NAME.expected.out")
    ap.add_argument("--exit-after", type=int, default=None, help="exit after N answers")
    ap.add_argument("--hang-after", type=int, default=None, help="never answer after N answers")
    ap.add_argument("--garbage-after", type=int, default=None, help="answer non-JSON after N")
    ap.add_argument(
        "--fault-once",
        metavar="MARKER",
        default=None,
        help="break only if MARKER does not exist, and create it (the restarted process works)",
    )
    args = ap.parse_args(argv)
    if args.fault_once and Path(args.fault_once).exists():
        args.exit_after = args.hang_after = args.garbage_after = None
    candidates = load_transcripts(args.transcripts)
    if not candidates:
        print(f"replay: no transcripts in {args.transcripts}", file=sys.stderr)
        return 2
    out = sys.stdout
    for k, request in enumerate(_requests(sys.stdin)):
        faults = (args.exit_after, args.hang_after, args.garbage_after)
        if args.fault_once and any(f is not None and k >= f for f in faults):
            Path(args.fault_once).touch()
        if args.exit_after is not None and k >= args.exit_after:
            return 1
        if args.hang_after is not None and k >= args.hang_after:
            while True:
                time.sleep(3600)
        if args.garbage_after is not None and k >= args.garbage_after:
            out.write("this is not JSON {\n\n")
            out.flush()
            continue
        candidates = [t for t in candidates if len(t.requests) > k and t.requests[k] == request]
        if not candidates:
            print(f"replay: no transcript recorded request #{k}: {request!r}", file=sys.stderr)
            return 3
        out.write(json.dumps(candidates[0].responses[k], ensure_ascii=False, indent=1))
        out.write("\n\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
