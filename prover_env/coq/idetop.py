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
import re
import select
import shutil
import signal
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from prover_env._process import PipeProcess
from prover_env.error import BackendNotAvailableError, ProverCrashedError, ProverTimeoutError

__all__ = ["CoqIdeTop", "Reply", "find_coqidetop", "richpp_text"]

_NBSP = b"&nbsp;"
# What XML 1.0 forbids but Coq prints verbatim when a term or message holds it: C0 controls
# (other than tab, LF, CR), U+FFFE/U+FFFF and UTF-8-encoded surrogates. Each becomes U+FFFD, so
# the reply stays readable (the guard keeps them out of actions; strings in a header can still
# carry them).
_NOT_XML = re.compile(
    rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]|\xed[\xa0-\xbf][\x80-\xbf]"
)
_MESSAGE = re.compile(rb"<message>.*?</message>", re.DOTALL)
_GOAL = b'<call val="Goal"><unit/></call>'
_FIRST_STATE_ID = re.compile(rb'<state_id val="(\d+)"/>')


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
        raw: The ``<value>`` element's bytes (parsed on demand: most replies need no parse).
        messages: ``(level, text)`` of the feedback messages that came with it.
        interrupted: The call ran past its time limit and was interrupted.
    """

    ok: bool
    raw: bytes
    messages: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    _value: ET.Element | None = field(default=None, repr=False)

    @property
    def value(self) -> ET.Element:
        """The ``<value>`` element."""
        if self._value is None:
            self._value = ET.fromstring(self.raw)
        return self._value

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
        m = _FIRST_STATE_ID.search(self.raw)
        return int(m.group(1)) if m else None


def _add_xml(sentence: str, state_id: int) -> bytes:
    s = escape(sentence, {'"': "&quot;"})
    return (
        f'<call val="Add"><pair><pair><pair><pair><string>{s}</string><int>0</int></pair>'
        f'<pair><state_id val="{state_id}"/><bool val="false"/></pair></pair><int>0</int></pair>'
        "<pair><int>0</int><int>0</int></pair></pair></call>"
    ).encode()


class CoqIdeTop(PipeProcess):
    """A live ``coqidetop`` process.

    Args:
        executable: Path to ``coqidetop`` (see :func:`find_coqidetop`).
        args: Extra command-line arguments (``-R dir Lib``, ...).
        startup_timeout: Seconds allowed for the process to answer ``Init``.
        interrupt_grace: Seconds a process gets to answer after SIGINT before it is killed.
        protocol_timeout: Time limit of the calls that do no proof work (``Add`` only parses,
            ``Edit_at`` backtracks).
    """

    label = "coqidetop"

    def __init__(
        self,
        executable: str,
        args: tuple[str, ...] = (),
        startup_timeout: float = 60.0,
        interrupt_grace: float = 2.0,
        protocol_timeout: float = 10.0,
    ) -> None:
        self.executable = executable
        self.interrupt_grace = interrupt_grace
        self.protocol_timeout = protocol_timeout
        cmd = [executable, "-main-channel", "stdfds", "-async-proofs", "off", "-q", *args]
        try:
            self._spawn(cmd)
        except OSError as e:
            raise BackendNotAvailableError(f"cannot start {executable}: {e}") from e
        self._poll = select.poll()
        self._poll.register(self._out, select.POLLIN | select.POLLHUP | select.POLLERR)
        self._buf = b""
        self._scanned = 0  # how much of _buf is known to hold no "</value>"
        self.calls = 0
        reply = self.call(b'<call val="Init"><option val="none"/></call>', startup_timeout)
        if not reply.ok:
            self.kill()
            raise BackendNotAvailableError(f"{executable} failed to initialise: {reply.error}")
        self.root_state = reply.state_id or 1

    # -- low level -----------------------------------------------------------------------

    def _take_reply(self) -> Reply | None:
        """Split the first complete reply off the buffer, if there is one.

        Replies are ``<feedback>`` elements then one ``<value>``; ``</value>`` never occurs
        inside text (XML escapes it), so finding it needs no parser. Only the value and the
        feedback that carries a message are parsed: most feedback is state bookkeeping.
        """
        end = self._buf.find(b"</value>", self._scanned)
        if end == -1:
            self._scanned = max(0, len(self._buf) - len(b"</value>"))
            return None
        self._scanned = 0
        end += len(b"</value>")
        chunk, self._buf = self._buf[:end], self._buf[end:]
        # Coq writes &nbsp;, which XML does not define: make it a character reference.
        chunk = _NOT_XML.sub("\ufffd".encode(), chunk.replace(_NBSP, b"&#160;"))
        start = chunk.rfind(b"<value ")
        messages: list[tuple[str, str]] = []
        if b'"message"' in chunk:
            for m in _MESSAGE.finditer(chunk, 0, start):
                msg = ET.fromstring(m.group(0))
                level = msg.find("message_level")
                text = richpp_text(msg.find("richpp"))
                messages.append((level.get("val", "") if level is not None else "", text))
        return Reply(chunk.startswith(b'<value val="good"', start), chunk[start:], messages)

    def _read_reply(self, deadline: float | None) -> Reply | None:
        """Read until a whole reply arrived; None when the deadline passes first."""
        while True:
            reply = self._take_reply()
            if reply is not None:
                return reply
            wait = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000
            if not self._poll.poll(wait):
                return None
            data = os.read(self._out, 1 << 16)
            if not data:
                code = self._proc.wait()
                raise ProverCrashedError(
                    f"coqidetop (pid {self.pid}) exited with code {code}. stderr: "
                    f"{self.stderr_tail()!r}"
                )
            self._buf += data

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
        self.calls += 1  # a dead process shows as EPIPE on write or EOF on read
        self._write(request)
        return self._receive(timeout)

    def _receive(self, timeout: float | None, interruptible: bool = True) -> Reply:
        """Wait for the next reply; past ``timeout``, interrupt (or kill when not
        ``interruptible``: a call queued behind this one must not see the interrupt)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        reply = self._read_reply(deadline)
        if reply is not None:
            return reply
        if interruptible:
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
        self._write(b'<call val="Status"><bool val="false"/></call>')
        self._read_reply(time.monotonic() + self.interrupt_grace)

    # -- protocol calls --------------------------------------------------------------------

    def add(self, sentence: str, state_id: int) -> Reply:
        """Parse one sentence on top of ``state_id`` (lazy: errors in execution show later)."""
        return self.call(_add_xml(sentence, state_id), self.protocol_timeout)

    def add_goal(self, sentence: str, state_id: int, timeout: float | None) -> tuple[Reply, Reply]:
        """``Add`` then ``Goal`` in one write (one round trip saved on every step).

        When the ``Add`` fails, the ``Goal`` reply only shows the unchanged tip.
        """
        self.calls += 2
        self._write(_add_xml(sentence, state_id) + _GOAL)
        added = self._receive(self.protocol_timeout, interruptible=False)
        return added, self._receive(timeout)

    def goal(self, timeout: float | None = None) -> Reply:
        """Execute up to the tip and return the goals."""
        return self.call(_GOAL, timeout)

    def edit_at(self, state_id: int) -> Reply:
        """Backtrack the document to ``state_id``."""
        request = f'<call val="Edit_at"><state_id val="{state_id}"/></call>'
        return self.call(request.encode(), self.protocol_timeout)

    def query(self, command: str, state_id: int, timeout: float | None = None) -> Reply:
        """Run a query command (``Print Assumptions x.``) at ``state_id``; output in messages."""
        c = escape(command, {'"': "&quot;"})
        return self.call(
            f'<call val="Query"><pair><route_id val="0"/><pair><string>{c}</string>'
            f'<state_id val="{state_id}"/></pair></pair></call>'.encode(),
            timeout,
        )

    # -- lifecycle -------------------------------------------------------------------------
