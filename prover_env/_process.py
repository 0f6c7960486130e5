"""A prover child process on pipes: its own process group, stderr kept, killed as a tree."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence

from prover_env.error import ProverCrashedError

__all__ = ["PipeProcess"]


def _die_with_parent(then: Callable[[], None] | None) -> Callable[[], None]:
    """A ``preexec_fn`` asking Linux to SIGKILL the child when its parent dies (a worker killed
    with SIGKILL leaves no prover behind), then running ``then``."""

    def preexec() -> None:  # pragma: no cover (runs in the child)
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass  # not Linux: close() and the finalizers still reap the process
        if then is not None:
            then()

    return preexec


class PipeProcess:
    """Base of the prover process wrappers (``coqidetop``, the Lean REPL).

    Subclasses call :meth:`_spawn` and then talk over ``self._in`` / ``self._out``.
    """

    label = "prover"
    pid: int

    def _spawn(
        self,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        """Start ``argv`` with piped stdin/stdout; raises ``OSError`` when it cannot start."""
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
                preexec_fn=_die_with_parent(preexec),
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
        """The end of what the process wrote to stderr."""
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - limit))
            return self._stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""

    def rss_bytes(self) -> int:
        """Resident memory of the process (0 when unknown)."""
        try:
            with open(f"/proc/{self.pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    def kill(self) -> None:
        """Kill the process and its whole process group, and reap it. Safe to call twice."""
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
