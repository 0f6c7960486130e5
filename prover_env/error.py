"""The exception tree of prover-gym.

The prover *rejecting* a tactic is not an exception: it is a :class:`~prover_env.types.TacticError`
value. Exceptions are for broken infrastructure (a prover that is missing, crashes, or does not
answer) and for bad input that cannot be turned into a step (an unknown theorem, a statement that
does not elaborate). Every message says how to fix the problem.
"""

from __future__ import annotations

import errno as _errno

__all__ = [
    "BackendCheckError",
    "BackendNotAvailableError",
    "DataNotFoundError",
    "ProverCrashedError",
    "ProverError",
    "ProverGymError",
    "ProverTimeoutError",
    "ResultsWriteError",
    "TheoremError",
    "UnknownTheoremError",
]


class ProverGymError(Exception):
    """Base class of every error raised by prover-gym."""


class ProverError(ProverGymError):
    """The prover process misbehaved (infrastructure failure, not a rejected tactic)."""


class BackendNotAvailableError(ProverError):
    """The prover executable is not installed or cannot start."""


class ProverCrashedError(ProverError):
    """The prover process died and could not be brought back."""


class ProverTimeoutError(ProverError):
    """The prover did not answer, even to an interrupt, and had to be killed."""


class TheoremError(ProverGymError):
    """A theorem statement (or its header) does not elaborate on the installed prover.

    Attributes:
        theorem: Name of the theorem.
        message: The prover's own error message.
    """

    def __init__(self, theorem: str, message: str) -> None:
        self.theorem = theorem
        self.message = message
        super().__init__(
            f"theorem {theorem!r} is unusable on the installed prover: {message.strip()} "
            "(fix the statement or its imports, or skip it: suites report such theorems "
            "with `prover-gym suite check`)"
        )


class UnknownTheoremError(ProverGymError, KeyError):
    """A theorem name that is not in the environment's suite."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown theorem"


class DataNotFoundError(ProverGymError, FileNotFoundError):
    """A theorem suite's files could not be found."""


class ResultsWriteError(ProverGymError, OSError):
    """Finished results could not be written to disk (a full disk, a quota, an I/O error).

    Raised by the writers of resumable run files (``results.jsonl``, ``theorems.jsonl``...).
    Before raising, the writer cuts the file back to its last complete record, so a rerun
    after freeing space resumes from every record that was saved and never reads a torn one.
    It is an ``OSError`` too: ``errno``, ``strerror`` and ``filename`` are the failure's.

    Args:
        path: The file that could not be written.
        what: What was being written, in words (``"a result"``, ``"the summary"``...).
        code: The failure's ``errno`` (``errno.ENOSPC``...).
        strerror: The failure's message.
        restored: Whether the file was cut back to its last complete record.

    Attributes:
        path, what, restored: As given.
    """

    def __init__(
        self,
        path: str,
        what: str,
        code: int | None,
        strerror: str,
        restored: bool = True,
    ) -> None:
        super().__init__(code, strerror, path)
        self.path = path
        self.what = what
        self.restored = restored
        name = _errno.errorcode.get(code, "") if code is not None else ""
        cause = f"{strerror} ({name})" if name else strerror
        kept = (
            "nothing half-written was kept (the file holds complete records only)"
            if restored
            else "the file may end with a partial line, which the rerun drops"
        )
        fix = (
            "free disk space (or raise the quota)"
            if code in (_errno.ENOSPC, _errno.EDQUOT)
            else "fix the file system (space, permissions, the device)"
        )
        self.message = (
            f"could not write {what} to {path}: {cause}; {kept}. {fix[0].upper()}{fix[1:]} and "
            "rerun the same command: it resumes from the records already saved"
        )

    @classmethod
    def from_os_error(
        cls, path: object, what: str, error: OSError, restored: bool = True
    ) -> ResultsWriteError:
        """The error for ``error`` (raised while writing ``what`` to ``path``)."""
        return cls(str(path), what, error.errno, error.strerror or str(error), restored)

    def __reduce__(self) -> tuple[object, ...]:  # picklable (Ray, multiprocessing)
        return (type(self), (self.path, self.what, self.errno, self.strerror, self.restored))

    def __str__(self) -> str:
        return self.message


class BackendCheckError(ProverGymError, AssertionError):
    """A backend broke the :class:`~prover_env.backend.Backend` contract
    (raised by :func:`prover_env.checker.check_backend`; the message names the rule and the fix).
    """
