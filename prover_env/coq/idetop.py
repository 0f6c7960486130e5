"""A ``coqidetop`` process speaking Coq's XML protocol (version 20220205, Coq 8.16).

One call, one reply: ``Add`` parses one sentence (execution is lazy), ``Goal`` forces execution
and returns the goals, ``Edit_at`` backtracks (about 0.1 ms), ``Query`` runs a command such as
``Print Assumptions`` at a given state without changing the document. Time limits use SIGINT,
which ``coqidetop`` turns into a ``User interrupt.`` failure while staying alive; a process that
does not answer the interrupt either is killed with its whole process group.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from prover_env.error import BackendNotAvailableError, ProverCrashedError, ProverTimeoutError

__all__ = ["CoqIdeTop", "Reply", "find_coqidetop", "richpp_text"]

_NBSP = b"&nbsp;"


def find_coqidetop(executable: str | None = None) -> str:
    """Path of the ``coqidetop`` executable.

    Args:
        executable: An explicit name or path; ``None`` searches ``coqidetop`` then
            ``coqidetop.opt`` on ``PATH``.

    Raises:
        BackendNotAvailableError: Nothing found; the message says how to install Coq.
    """
    names = [executable] if executable else ["coqidetop", "coqidetop.opt"]
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise BackendNotAvailableError(
        f"{' or '.join(names)} not found on PATH: install Coq "
        "(Debian/Ubuntu: `apt-get install coq libcoq-coquelicot coinor-csdp`; opam: "
        "`opam install coq coqide-server`) or pass coqidetop=/path/to/coqidetop"
    )


def richpp_text(elem: ET.Element | None) -> str:
    """Plain text of a ``<richpp>`` (or any) element: markup dropped, no-break spaces as spaces."""
    if elem is None:
        return ""
    return "".join(elem.itertext()).replace("\xa0", " ")


@dataclass
class Reply:
    """One answer of ``coqidetop``.

    Attributes:
        ok: ``val="good"``.
        value: The ``<value>`` element.
        messages: ``(level, text)`` of the feedback messages that came with it.
        interrupted: The call ran past its time limit and was interrupted.
    """

    ok: bool
    value: ET.Element
    messages: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False

    @property
    def error(self) -> str:
        """The failure message (empty for a good reply)."""
        if self.ok:
            return ""
        text = richpp_text(self.value.find("richpp")).strip()
        if not text:
            errors = [m for lvl, m in self.messages if lvl == "error"]
            text = errors[-1] if errors else "unknown Coq error"
        return text

    @property
    def state_id(self) -> int | None:
        """The state id a failure points back to, or a good ``Add``'s new state id."""
        sid = self.value.find(".//state_id")
        return int(sid.get("val", "0")) if sid is not None else None


def _add_xml(sentence: str, state_id: int) -> bytes:
    s = escape(sentence, {'"': "&quot;"})
    return (
        f'<call val="Add"><pair><pair><pair><pair><string>{s}</string><int>0</int></pair>'
        f'<pair><state_id val="{state_id}"/><bool val="false"/></pair></pair><int>0</int></pair>'
        "<pair><int>0</int><int>0</int></pair></pair></call>"
    ).encode()


class CoqIdeTop:
    """A live ``coqidetop`` process.

    Args:
        executable: Path to ``coqidetop`` (see :func:`find_coqidetop`).
        args: Extra command-line arguments (``-R dir Lib``, ...).
        startup_timeout: Seconds allowed for the process to answer ``Init``.
        interrupt_grace: Seconds a process gets to answer after SIGINT before it is killed.
    """

    def __init__(
        self,
        executable: str,
        args: tuple[str, ...] = (),
        startup_timeout: float = 60.0,
        interrupt_grace: float = 2.0,
    ) -> None:
        self.executable = executable
        self.interrupt_grace = interrupt_grace
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process)
        cmd = [executable, "-main-channel", "stdfds", "-async-proofs", "off", "-q", *args]
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                start_new_session=True,
                bufsize=0,
            )
        except OSError as e:
            raise BackendNotAvailableError(f"cannot start {executable}: {e}") from e
        self.pid = self._proc.pid
        self._out = self._proc.stdout.fileno()  # type: ignore[union-attr]
        self._parser = ET.XMLPullParser(events=("start", "end"))
        self._parser.feed(b"<root>")
        self._depth = 0
        self._root: ET.Element | None = None
        self._carry = b""
        self._pending: list[ET.Element] = []
        self.calls = 0
        reply = self.call(b'<call val="Init"><option val="none"/></call>', startup_timeout)
        if not reply.ok:
            self.kill()
            raise BackendNotAvailableError(f"{executable} failed to initialise: {reply.error}")
        self.root_state = reply.state_id or 1

    # -- low level -----------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Whether the process is still running."""
        return self._proc.poll() is None

    def stderr_tail(self, limit: int = 2000) -> str:
        """The end of what the process wrote to stderr."""
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - limit))
            return self._stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""

    def _feed(self, data: bytes) -> None:
        data = self._carry + data
        # Coq writes &nbsp;, which XML does not define: make it a character reference, keeping
        # back a possibly split entity for the next chunk.
        amp = data.rfind(b"&", max(0, len(data) - len(_NBSP) + 1))
        if amp != -1 and b";" not in data[amp:]:
            data, self._carry = data[:amp], data[amp:]
        else:
            self._carry = b""
        self._parser.feed(data.replace(_NBSP, b"&#160;"))
        for event, elem in self._parser.read_events():
            if event == "start":
                if self._root is None:
                    self._root = elem
                else:
                    self._depth += 1
            else:
                if elem is self._root:
                    continue
                self._depth -= 1
                if self._depth == 0:
                    self._pending.append(elem)
                    self._root.remove(elem)  # type: ignore[union-attr]

    def _read_reply(self, deadline: float | None) -> Reply | None:
        """Read until a ``<value>``; None when the deadline passes first."""
        messages: list[tuple[str, str]] = []
        while True:
            while self._pending:
                elem = self._pending.pop(0)
                if elem.tag == "value":
                    return Reply(elem.get("val") == "good", elem, messages)
                if elem.tag == "feedback":
                    content = elem.find("feedback_content")
                    if content is not None and content.get("val") == "message":
                        lvl = content.find("message/message_level")
                        text = richpp_text(content.find("message/richpp"))
                        messages.append((lvl.get("val", "") if lvl is not None else "", text))
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._out], [], [], wait)
            if not ready:
                return None
            data = os.read(self._out, 1 << 16)
            if not data:
                code = self._proc.wait()
                raise ProverCrashedError(
                    f"coqidetop (pid {self.pid}) exited with code {code}. stderr: "
                    f"{self.stderr_tail()!r}"
                )
            self._feed(data)

    def call(self, request: bytes, timeout: float | None = None) -> Reply:
        """Send one call and wait for its reply.

        Args:
            request: The ``<call>`` XML.
            timeout: Seconds before the call is interrupted with SIGINT (``None``: no limit).

        Returns:
            The reply; ``interrupted`` is set when the time limit was hit.

        Raises:
            ProverCrashedError: The process died.
            ProverTimeoutError: No answer even after the interrupt: the process was killed.
        """
        if not self.alive:
            raise ProverCrashedError(f"coqidetop (pid {self.pid}) is not running")
        self.calls += 1
        try:
            self._proc.stdin.write(request)  # type: ignore[union-attr]
        except (BrokenPipeError, OSError) as e:
            raise ProverCrashedError(f"coqidetop (pid {self.pid}) closed its input: {e}") from e
        deadline = None if timeout is None else time.monotonic() + timeout
        reply = self._read_reply(deadline)
        if reply is not None:
            return reply
        # Time is up: interrupt (the process stays alive and answers "User interrupt.").
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGINT)
        reply = self._read_reply(time.monotonic() + self.interrupt_grace)
        if reply is None:
            self.kill()
            raise ProverTimeoutError(
                f"coqidetop (pid {self.pid}) did not answer within {timeout} s nor "
                f"{self.interrupt_grace} s after an interrupt; it was killed"
            )
        reply.interrupted = True
        if reply.ok:
            # The answer crossed the interrupt: absorb the pending break with a no-op call.
            self._absorb_interrupt()
        return reply

    def _absorb_interrupt(self) -> None:
        self._proc.stdin.write(b'<call val="Status"><bool val="false"/></call>')  # type: ignore[union-attr]
        self._read_reply(time.monotonic() + self.interrupt_grace)

    # -- protocol calls --------------------------------------------------------------------

    def add(self, sentence: str, state_id: int) -> Reply:
        """Parse one sentence on top of ``state_id`` (lazy: errors in execution show later)."""
        return self.call(_add_xml(sentence, state_id), 30.0)

    def goal(self, timeout: float | None = None) -> Reply:
        """Execute up to the tip and return the goals."""
        return self.call(b'<call val="Goal"><unit/></call>', timeout)

    def edit_at(self, state_id: int) -> Reply:
        """Backtrack the document to ``state_id``."""
        return self.call(f'<call val="Edit_at"><state_id val="{state_id}"/></call>'.encode(), 30.0)

    def query(self, command: str, state_id: int, timeout: float | None = None) -> Reply:
        """Run a query command (``Print Assumptions x.``) at ``state_id``; output in messages."""
        c = escape(command, {'"': "&quot;"})
        return self.call(
            f'<call val="Query"><pair><route_id val="0"/><pair><string>{c}</string>'
            f'<state_id val="{state_id}"/></pair></pair></call>'.encode(),
            timeout,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def rss_bytes(self) -> int:
        """Resident memory of the process (0 when unknown)."""
        try:
            with open(f"/proc/{self.pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    def kill(self) -> None:
        """Kill the process and its whole process group; reap it. Safe to call twice."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=10)
        for stream in (self._proc.stdin, self._proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self._stderr.close()

    close = kill
