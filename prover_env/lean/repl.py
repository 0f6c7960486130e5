"""A client for the Lean 4 REPL (github.com/leanprover-community/repl), ``lake exe repl``.

The protocol is JSON: a request is one JSON object followed by a blank line; a response is one
JSON object (pretty-printed over several lines) followed by a blank line. Requests:

* command mode: ``{"cmd": TEXT, "env": N}`` (``allTactics``, ``infotree``, ``rootGoals`` optional)
  and file mode ``{"path": FILE, "allTactics": true}``;
* tactic mode: ``{"tactic": TEXT, "proofState": N}``;
* pickling: ``{"pickleTo": FILE, "env": N}`` / ``{"pickleTo": FILE, "proofState": N}``,
  ``{"unpickleEnvFrom": FILE}``, ``{"unpickleProofStateFrom": FILE}``.

Responses are parsed into frozen :class:`ReplResponse` objects that keep every field the REPL
sends (:meth:`ReplResponse.to_json` gives the exact JSON back). The REPL cannot cancel a
command, so a time limit kills the process (the caller restarts it).
"""

from __future__ import annotations

import json
import os
import select
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prover_env._process import PipeProcess
from prover_env.error import (
    BackendNotAvailableError,
    ProverCrashedError,
    ProverError,
    ProverTimeoutError,
)

__all__ = [
    "LeanRepl",
    "Pos",
    "ReplMessage",
    "ReplProtocolError",
    "ReplResponse",
    "ReplSorry",
    "ReplTactic",
]

_DECODER = json.JSONDecoder(strict=False)  # the REPL accepts raw newlines inside strings


class ReplProtocolError(ProverError):
    """The REPL process answered something that is not a protocol response."""


@dataclass(frozen=True)
class Pos:
    """A position in Lean source (line 1-based, column 0-based)."""

    line: int
    column: int

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None) -> Pos | None:
        return None if data is None else cls(int(data["line"]), int(data["column"]))

    def to_json(self) -> dict[str, int]:
        return {"line": self.line, "column": self.column}


def _pos_json(out: dict[str, Any], key: str, pos: Pos | None) -> None:
    if pos is not None:
        out[key] = pos.to_json()


@dataclass(frozen=True)
class ReplMessage:
    """A message Lean reported (``severity``: ``"error"``, ``"warning"`` or ``"info"``)."""

    severity: str
    data: str
    pos: Pos | None = None
    end_pos: Pos | None = None

    @classmethod
    def parse(cls, d: Mapping[str, Any]) -> ReplMessage:
        return cls(d["severity"], d["data"], Pos.parse(d.get("pos")), Pos.parse(d.get("endPos")))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity}
        _pos_json(out, "pos", self.pos)
        _pos_json(out, "endPos", self.end_pos)
        out["data"] = self.data
        return out


@dataclass(frozen=True)
class ReplSorry:
    """A ``sorry`` in a command: its goal and the proof state that starts there."""

    goal: str
    proof_state: int | None = None
    pos: Pos | None = None
    end_pos: Pos | None = None

    @classmethod
    def parse(cls, d: Mapping[str, Any]) -> ReplSorry:
        return cls(
            d["goal"], d.get("proofState"), Pos.parse(d.get("pos")), Pos.parse(d.get("endPos"))
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.proof_state is not None:
            out["proofState"] = self.proof_state
        _pos_json(out, "pos", self.pos)
        out["goal"] = self.goal
        _pos_json(out, "endPos", self.end_pos)
        return out


@dataclass(frozen=True)
class ReplTactic:
    """One tactic of a command run with ``allTactics``: its text, goals and proof state."""

    tactic: str
    goals: str
    proof_state: int | None = None
    pos: Pos | None = None
    end_pos: Pos | None = None
    used_constants: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, d: Mapping[str, Any]) -> ReplTactic:
        used = d.get("usedConstants")
        return cls(
            d["tactic"],
            d["goals"],
            d.get("proofState"),
            Pos.parse(d.get("pos")),
            Pos.parse(d.get("endPos")),
            None if used is None else tuple(used),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tactic": self.tactic}
        if self.proof_state is not None:
            out["proofState"] = self.proof_state
        _pos_json(out, "pos", self.pos)
        out["goals"] = self.goals
        _pos_json(out, "endPos", self.end_pos)
        if self.used_constants is not None:
            out["usedConstants"] = list(self.used_constants)
        return out


_KNOWN = {
    "env", "proofState", "goals", "proofStatus", "messages", "sorries", "tactics", "traces",
    "infotree", "message",
}  # fmt: skip


@dataclass(frozen=True)
class ReplResponse:
    """One REPL response, every field typed.

    Attributes:
        env: Environment id (command mode and pickling).
        proof_state: Proof state id (tactic mode).
        goals: Goals after a tactic (each with its hypotheses and ``⊢``).
        proof_status: ``"Completed"``, ``"Incomplete: open goals remain"``,
            ``"Incomplete: contains sorry"``, ``"Error: ..."`` (tactic mode).
        messages: Lean's messages (errors, warnings, infos) with positions.
        sorries: The ``sorry``s of a command, each with the proof state that starts there.
        tactics: With ``allTactics``: every tactic of the command.
        traces: Trace output of a tactic, when the REPL sends it.
        infotree: With ``infotree``: the info trees, as JSON.
        error: A protocol-level error (``{"message": ...}``: unknown env/proof state, a
            parse error in tactic mode, ...).
        extra: Fields this client does not know (kept so that nothing is lost).
    """

    env: int | None = None
    proof_state: int | None = None
    goals: tuple[str, ...] | None = None
    proof_status: str | None = None
    messages: tuple[ReplMessage, ...] | None = None
    sorries: tuple[ReplSorry, ...] | None = None
    tactics: tuple[ReplTactic, ...] | None = None
    traces: tuple[Any, ...] | None = None
    infotree: Any = None
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, d: Mapping[str, Any]) -> ReplResponse:
        """Build from the decoded JSON object."""
        if not isinstance(d, Mapping):
            raise ReplProtocolError(f"a REPL response must be a JSON object, got {d!r:.200}")

        def seq(key: str, kind: Any) -> tuple[Any, ...] | None:
            v = d.get(key)
            return None if v is None else tuple(kind.parse(x) for x in v)

        try:
            return cls(
                env=d.get("env"),
                proof_state=d.get("proofState"),
                goals=None if d.get("goals") is None else tuple(d["goals"]),
                proof_status=d.get("proofStatus"),
                messages=seq("messages", ReplMessage),
                sorries=seq("sorries", ReplSorry),
                tactics=seq("tactics", ReplTactic),
                traces=None if d.get("traces") is None else tuple(d["traces"]),
                infotree=d.get("infotree"),
                error=d.get("message"),
                extra={k: v for k, v in d.items() if k not in _KNOWN},
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ReplProtocolError(f"malformed REPL response {dict(d)!r:.300}: {e}") from e

    def to_json(self) -> dict[str, Any]:
        """The response as the REPL sent it (same keys and values)."""
        out: dict[str, Any] = {}
        pairs: list[tuple[str, Any]] = [
            ("sorries", None if self.sorries is None else [s.to_json() for s in self.sorries]),
            ("tactics", None if self.tactics is None else [t.to_json() for t in self.tactics]),
            ("proofStatus", self.proof_status),
            ("proofState", self.proof_state),
            ("messages", None if self.messages is None else [m.to_json() for m in self.messages]),
            ("infotree", self.infotree),
            ("goals", None if self.goals is None else list(self.goals)),
            ("traces", None if self.traces is None else list(self.traces)),
            ("env", self.env),
            ("message", self.error),
        ]
        for key, value in pairs:
            if value is not None:
                out[key] = value
        out.update(self.extra)
        return out

    @property
    def errors(self) -> tuple[ReplMessage, ...]:
        """Messages of severity ``error``."""
        return tuple(m for m in self.messages or () if m.severity == "error")


def _frame(request: Mapping[str, Any]) -> bytes:
    return json.dumps(request, ensure_ascii=False).encode() + b"\n\n"


class LeanRepl(PipeProcess):
    """A ``lake exe repl`` process (or anything that speaks its protocol).

    Args:
        command: The program and its arguments (default ``lake exe repl``).
        cwd: Working directory: the Lean project whose dependencies the REPL sees.
        timeout: Default seconds per request; past it the process is killed (the REPL has no
            cancellation) and :class:`ProverTimeoutError` is raised.
        memory_limit_mb: Address-space limit of the process (``None``: none).
        env: Extra environment variables.
    """

    label = "the Lean REPL"

    def __init__(
        self,
        command: Sequence[str] = ("lake", "exe", "repl"),
        cwd: str | os.PathLike[str] | None = None,
        timeout: float = 60.0,
        memory_limit_mb: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = tuple(command)
        self.timeout = timeout
        self.requests = 0
        limit = memory_limit_mb

        def preexec() -> None:  # pragma: no cover (runs in the child)
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (limit * 2**20, limit * 2**20))  # type: ignore[operator]

        try:
            self._spawn(self.argv, cwd=cwd, env=env or {}, preexec=preexec if limit else None)
        except OSError as e:
            raise BackendNotAvailableError(
                f"cannot start {' '.join(self.argv)} in {cwd or os.getcwd()}: {e}. "
                "Install Lean (elan) and set up a project with the REPL: `prover-gym doctor` "
                "prints the steps"
            ) from e
        self._buf = b""

    # -- requests ----------------------------------------------------------------------------

    def command(
        self,
        cmd: str,
        env: int | None = None,
        *,
        all_tactics: bool = False,
        infotree: str | None = None,
        root_goals: bool = False,
        timeout: float | None = None,
    ) -> ReplResponse:
        """Elaborate Lean commands (``theorem ...``, ``#print axioms x``...) on top of ``env``."""
        request: dict[str, Any] = {"cmd": cmd}
        if env is not None:
            request["env"] = env
        if all_tactics:
            request["allTactics"] = True
        if infotree is not None:
            request["infotree"] = infotree
        if root_goals:
            request["rootGoals"] = True
        return self.send(request, timeout)

    def file(
        self,
        path: str,
        env: int | None = None,
        *,
        all_tactics: bool = False,
        timeout: float | None = None,
    ) -> ReplResponse:
        """Elaborate a whole ``.lean`` file (file mode)."""
        request: dict[str, Any] = {"path": path}
        if all_tactics:
            request["allTactics"] = True
        if env is not None:
            request["env"] = env
        return self.send(request, timeout)

    def tactic(self, tactic: str, proof_state: int, timeout: float | None = None) -> ReplResponse:
        """Run a tactic on proof state ``proof_state`` (any earlier one: branching is native)."""
        return self.send({"tactic": tactic, "proofState": proof_state}, timeout)

    def pickle(
        self,
        path: str,
        *,
        env: int | None = None,
        proof_state: int | None = None,
        timeout: float | None = None,
    ) -> ReplResponse:
        """Save an environment or a proof state to ``path`` (an ``.olean``)."""
        if (env is None) == (proof_state is None):
            raise ValueError("pickle needs exactly one of env= or proof_state=")
        request: dict[str, Any] = {"pickleTo": path}
        if env is not None:
            request["env"] = env
        else:
            request["proofState"] = proof_state
        return self.send(request, timeout)

    def unpickle_env(self, path: str, timeout: float | None = None) -> ReplResponse:
        """Load an environment saved by :meth:`pickle`; the response has its new id."""
        return self.send({"unpickleEnvFrom": path}, timeout)

    def unpickle_proof_state(
        self, path: str, env: int | None = None, timeout: float | None = None
    ) -> ReplResponse:
        """Load a proof state saved by :meth:`pickle`; the response has its new id."""
        request: dict[str, Any] = {"unpickleProofStateFrom": path}
        if env is not None:
            request["env"] = env
        return self.send(request, timeout)

    # -- transport -----------------------------------------------------------------------------

    def send(self, request: Mapping[str, Any], timeout: float | None = None) -> ReplResponse:
        """Send one request and wait for its response.

        Raises:
            ProverTimeoutError: No response within the time limit: the process was killed.
            ProverCrashedError: The process exited.
            ReplProtocolError: The answer is not a JSON object.
        """
        self.requests += 1
        self._write(_frame(request))
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            end = self._buf.find(b"\n\n")
            if end != -1:
                chunk, self._buf = self._buf[:end], self._buf[end + 2 :]
                if chunk.strip():
                    return self._decode(chunk)
                continue
            wait = deadline - time.monotonic()
            ready = select.select([self._out], [], [], max(0.0, wait))[0] if wait > 0 else []
            if not ready:
                self.kill()
                raise ProverTimeoutError(
                    f"the Lean REPL (pid {self.pid}) did not answer within {limit:g} s; it was "
                    "killed (the REPL cannot cancel a request)"
                )
            chunk = os.read(self._out, 1 << 20)
            if not chunk:
                if self._buf.strip():  # a last response without its blank line
                    last, self._buf = self._buf, b""
                    return self._decode(last)
                raise ProverCrashedError(self._died("exited"))
            self._buf += chunk

    def _decode(self, chunk: bytes) -> ReplResponse:
        try:
            obj = _DECODER.decode(chunk.decode())
        except (UnicodeDecodeError, ValueError) as e:
            self.kill()
            raise ReplProtocolError(
                f"the Lean REPL (pid {self.pid}) answered something that is not JSON "
                f"({e}): {chunk[:200]!r}; the process was killed"
            ) from e
        return ReplResponse.parse(obj)

    def _died(self, what: str) -> str:
        code = self._proc.poll()
        return (
            f"the Lean REPL (pid {self.pid}, `{' '.join(self.argv)}`) {what}"
            f"{'' if code is None else f' with code {code}'}; stderr: {self.stderr_tail()!r}"
        )
