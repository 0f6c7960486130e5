"""A prover child process on pipes: its own process group, stderr kept, killed as a tree.

Resource limits (:class:`ResourceLimits`) are set in the child between ``fork`` and ``exec``
(``setrlimit``), so the kernel enforces them even when the parent is stuck: a prover past its
address-space limit fails its allocations (Coq reports ``Out of memory`` as a tactic error or
dies), one past its CPU-time limit gets ``SIGXCPU`` and, :data:`CPU_KILL_GRACE` seconds of CPU
later, ``SIGKILL``. Either way the backend sees an error or a dead process (its crash/restart
path), never a proof. Backends pass their limits to :meth:`PipeProcess._spawn` directly or with
:func:`spawn_limits` around the constructor of a process class.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prover_env.error import ProverCrashedError

try:  # imported here, not in the child: an import after fork can deadlock on the import lock
    import resource
except ImportError:  # pragma: no cover (not Unix)
    resource = None  # type: ignore[assignment]

__all__ = ["CPU_KILL_GRACE", "PipeProcess", "ResourceLimits", "due_for_recycling", "spawn_limits"]

#: CPU seconds between the soft CPU limit (``SIGXCPU``) and the hard one (``SIGKILL``), for a
#: process that catches or ignores ``SIGXCPU``.
CPU_KILL_GRACE = 5


def _load_prctl() -> Callable[..., int] | None:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # pragma: no cover (not Linux)
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ResourceLimits:
    """Kernel-enforced limits of one prover process (``setrlimit`` in the child).

    Attributes:
        memory_mb: Address-space limit (``RLIMIT_AS``), MiB; ``None``: none. It counts virtual
            memory, not resident memory: a runtime that reserves large address ranges it never
            touches needs a limit well above its resident size.
        cpu_seconds: CPU time (all threads, over the process's whole life) after which the
            kernel sends ``SIGXCPU`` (``RLIMIT_CPU``), then ``SIGKILL``
            :data:`CPU_KILL_GRACE` s later; ``None``: none. Rounded up to whole seconds.
        core_dumps: Allow core files. Off by default: a prover killed by a limit would dump
            gigabytes.
    """

    memory_mb: int | None = None
    cpu_seconds: float | None = None
    core_dumps: bool = False

    def __post_init__(self) -> None:
        if self.memory_mb is not None and (
            isinstance(self.memory_mb, bool)
            or not isinstance(self.memory_mb, int)
            or self.memory_mb <= 0
        ):
            raise ValueError(
                "the memory limit (memory_mb, max_memory_mb) must be a positive whole number of "
                f"MiB or None for no limit, not {self.memory_mb!r}"
            )
        if self.cpu_seconds is not None and (
            isinstance(self.cpu_seconds, bool)
            or not isinstance(self.cpu_seconds, (int, float))
            or not self.cpu_seconds > 0
            or math.isinf(self.cpu_seconds)
        ):
            raise ValueError(
                "the CPU limit (cpu_seconds, max_cpu_seconds) must be a positive number of "
                f"seconds or None for no limit, not {self.cpu_seconds!r}"
            )

    def rlimits(self) -> list[tuple[int, int, int]]:
        """``(resource, soft, hard)`` triples to set; empty where ``resource`` is missing."""
        if resource is None:  # pragma: no cover (not Unix)
            return []
        out: list[tuple[int, int, int]] = []
        if self.memory_mb is not None:
            size = self.memory_mb * 2**20
            out.append((resource.RLIMIT_AS, size, size))
        if self.cpu_seconds is not None:
            soft = math.ceil(self.cpu_seconds)
            out.append((resource.RLIMIT_CPU, soft, soft + CPU_KILL_GRACE))
        if not self.core_dumps:
            out.append((resource.RLIMIT_CORE, 0, 0))
        return out


_SPAWN_LIMITS: contextvars.ContextVar[ResourceLimits | None] = contextvars.ContextVar(
    "prover_gym_spawn_limits", default=None
)


@contextlib.contextmanager
def spawn_limits(limits: ResourceLimits | None) -> Iterator[None]:
    """Processes started inside the ``with`` block get ``limits`` (unless given their own).

    Lets a backend limit a process class whose constructor starts the process::

        with spawn_limits(ResourceLimits(memory_mb=6144)):
            proc = CoqIdeTop(executable)
    """
    token = _SPAWN_LIMITS.set(limits)
    try:
        yield
    finally:
        _SPAWN_LIMITS.reset(token)


def _apply_limits(limits: list[tuple[int, int, int]]) -> None:  # pragma: no cover (in child)
    """Set each limit, never above the hard limit the parent already runs under."""
    for what, soft, hard in limits:
        try:
            _, cur_hard = resource.getrlimit(what)
            if cur_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, cur_hard), min(hard, cur_hard)
            resource.setrlimit(what, (soft, hard))
        except (OSError, ValueError):
            pass  # a limit that cannot be set must not stop the prover from starting


def _child_setup(
    then: Callable[[], None] | None, limits: list[tuple[int, int, int]]
) -> Callable[[], None]:
    """A ``preexec_fn`` asking Linux to SIGKILL the child when its parent dies (a worker killed
    with SIGKILL leaves no prover behind), setting ``limits``, then running ``then``."""

    def preexec() -> None:  # pragma: no cover (runs in the child)
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)
        _apply_limits(limits)
        if then is not None:
            then()

    return preexec


class PipeProcess:
    """Base of the prover process wrappers (``coqidetop``, the Lean REPL).

    Subclasses call :meth:`_spawn` and then talk over ``self._in`` / ``self._out``.
    """

    label = "prover"
    pid: int
    limits: ResourceLimits | None = None
    _killed = False  # set by kill(): a death this wrapper caused is no resource-limit death

    def _spawn(
        self,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
        limits: ResourceLimits | None = None,
    ) -> None:
        """Start ``argv`` with piped stdin/stdout; raises ``OSError`` when it cannot start.

        Args:
            argv: The program and its arguments.
            cwd: Working directory.
            env: Variables added to this process's environment.
            preexec: Run in the child before ``exec`` (after the limits are set).
            limits: Resource limits of the process (default: those of an enclosing
                :func:`spawn_limits`, else none).
        """
        self.limits = limits if limits is not None else _SPAWN_LIMITS.get()
        rlimits = self.limits.rlimits() if self.limits is not None else []
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process)
        try:
            self._proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                start_new_session=True,  # its own process group: kill() reaps the whole tree
                bufsize=0,
                env=None if env is None else {**os.environ, **env},
                preexec_fn=_child_setup(preexec, rlimits),
            )
        except OSError:
            self._stderr.close()
            raise
        self.pid = self._proc.pid
        self._out = self._proc.stdout.fileno()  # type: ignore[union-attr]
        self._in = self._proc.stdin.fileno()  # type: ignore[union-attr]

    def _write(self, data: bytes) -> None:
        """Write all of ``data`` to the process; a closed pipe is a crash."""
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._in, view) :]
        except OSError as e:
            raise ProverCrashedError(
                f"{self.label} (pid {self.pid}) closed its input ({e}); stderr: "
                f"{self.stderr_tail()!r}"
            ) from e

    @property
    def alive(self) -> bool:
        """Whether the process is still running."""
        return self._proc.poll() is None

    def stderr_tail(self, limit: int = 2000) -> str:
        """The end of what the process wrote to stderr, then :meth:`limit_note` if it applies
        (so every crash message of the backends says when a resource limit was the cause)."""
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - limit))
            text = self._stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            text = ""
        note = self.limit_note()
        if not note:
            return text
        return f"{text}\n{note}" if text else note

    def limit_note(self) -> str:
        """Why the process, dead not by :meth:`kill`, may have died of its resource limits;
        empty when it is alive, exited normally or ran without limits."""
        limits = self.limits
        proc = getattr(self, "_proc", None)
        code = None if proc is None else proc.poll()
        if limits is None or code is None or code == 0 or self._killed:
            return ""
        if code == -signal.SIGXCPU:
            return (
                f"[{self.label} was killed by its CPU-time limit of {limits.cpu_seconds:g} s "
                "(max_cpu_seconds): raise the limit or set it to None]"
            )
        notes = []
        if limits.cpu_seconds is not None and code == -signal.SIGKILL:
            notes.append(f"a CPU-time limit of {limits.cpu_seconds:g} s (max_cpu_seconds)")
        if limits.memory_mb is not None:
            notes.append(f"an address-space limit of {limits.memory_mb} MiB (max_memory_mb)")
        if not notes:
            return ""
        return (
            f"[{self.label} ran under {' and '.join(notes)}; it may have died of it: raise the "
            "limit or set it to None if this happens on legitimate work]"
        )

    def cpu_seconds(self) -> float:
        """CPU time the process used so far (user + system, all threads; 0 when unknown)."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return 0.0

    def rss_bytes(self) -> int:
        """Resident memory of the process (0 when unknown)."""
        try:
            with open(f"/proc/{self.pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    def kill(self) -> None:
        """Kill the process and its whole process group, and reap it. Safe to call twice."""
        self._killed = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=10)
        for stream in (self._proc.stdin, self._proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()

    def close(self) -> None:
        """Kill the process and release its files. Idempotent."""
        self.kill()
        with contextlib.suppress(OSError, ValueError):
            self._stderr.close()


def due_for_recycling(
    proc: PipeProcess,
    uses: int,
    *,
    max_uses: int | None,
    rss_mb: int | None,
    cpu_seconds: float | None,
    look_every: int,
) -> bool:
    """Whether a live prover process should be replaced before its next use.

    Args:
        proc: The process.
        uses: Episodes or requests it has served.
        max_uses: Replace after this many uses (0 or ``None``: never).
        rss_mb: Replace when its resident memory passed this (0 or ``None``: never).
        cpu_seconds: Its CPU-time limit: replace it at 90% rather than have the kernel kill it
            mid-tactic (``None``: no limit).
        look_every: Read /proc (~30 us) only every this many uses, off the hot path.
    """
    if max_uses and uses >= max_uses:
        return True
    if uses % look_every:
        return False
    if rss_mb and proc.rss_bytes() > rss_mb * 2**20:
        return True
    return bool(cpu_seconds and proc.cpu_seconds() > 0.9 * cpu_seconds)
