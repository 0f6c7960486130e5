"""LeanDojo theorem references, result mapping and version checks (no ``lean_dojo`` import).

Pure functions used by :mod:`prover_env.lean.dojo` and by ``prover-gym doctor``: how a theorem of
a traced repository is stored in a frozen :class:`~prover_env.types.Theorem`, how LeanDojo's
result objects map to ours, and which LeanDojo/Lean combinations are known to be broken.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from dataclasses import dataclass
from typing import Any, Literal

from prover_env.error import (
    ProverError,
)
from prover_env.types import ProofFinished, ProofState, TacticError, TacticResult, Theorem

__all__ = [
    "AXIOMS_NOT_CHECKED",
    "INSTALL_HINT",
    "LEAN_412_ISSUE",
    "DojoTheoremRef",
    "ResultKind",
    "class_names",
    "count_dojo_goals",
    "dojo_result_kind",
    "dojo_source",
    "dojo_theorem",
    "dojo_version_warning",
    "installed_version",
    "map_dojo_result",
    "parse_dojo_theorem",
]

#: How to install the optional LeanDojo dependency.
INSTALL_HINT = "pip install 'prover-gym[lean]'"

#: What every accepting :class:`~prover_env.types.Verdict` of this backend says.
AXIOMS_NOT_CHECKED = (
    "axioms NOT checked: LeanDojo replayed the whole proof in a fresh Dojo and Lean's kernel "
    "accepted the proof term (no sorry, no metavariables), and the guard refused sorry, admit, "
    "native_decide, set_option, axiom and metaprogramming in every tactic; LeanDojo cannot "
    "list the axioms a proof uses (for `#print axioms`, use the Lean REPL backend)"
)

_GAVE_UP = (
    "the proof gave up: LeanDojo found `sorry` in the proof term (ProofGivenUp); "
    "such a proof is never rewarded"
)
LEAN_412_ISSUE = "https://github.com/lean-dojo/LeanDojo/issues/211"

ResultKind = Literal["state", "finished", "error", "timeout", "given_up"]


# -- versions ---------------------------------------------------------------------------------

_VERSION_RE = re.compile(r"(\d+)\.(\d+)")


def _major_minor(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    m = _VERSION_RE.search(text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def dojo_version_warning(lean_dojo_version: str | None, lean_version: str | None) -> str | None:
    """A warning for LeanDojo on Lean 4.12 or later, else ``None``.

    LeanDojo's ``Dojo.run_tac`` is reported broken on repositories that use Lean 4.12 or later
    (an IO change in Lean 4.12; lean-dojo/LeanDojo#211, filed against 1.x and still open for
    later releases: the maintainers said in #250 it "will not be solved anytime soon"), so
    every ``lean-dojo`` version gets the warning.

    Args:
        lean_dojo_version: The installed ``lean-dojo`` version (``"1.8.4"``), if known.
        lean_version: The Lean version in any usual spelling: ``"4.12.0"``, ``"v4.15.0-rc1"``,
            ``"leanprover/lean4:v4.12.0"`` (a ``lean-toolchain`` line) or ``lean --version``
            output (``"Lean (version 4.9.0, x86_64-unknown-linux-gnu, ...)"``).

    Returns:
        The warning text, or ``None`` when the pair is not known to be broken or either
        version is unknown or unreadable.
    """
    dojo = _major_minor(lean_dojo_version)
    lean = _major_minor(lean_version)
    if dojo is None or lean is None or lean < (4, 12):
        return None
    return (
        f"lean-dojo {lean_dojo_version} with Lean {lean[0]}.{lean[1]}: LeanDojo's "
        f"Dojo.run_tac is reported broken on Lean >= 4.12 ({LEAN_412_ISSUE}); use a "
        "repository on Lean 4.11 or earlier, or the Lean REPL backend"
    )


def installed_version(module: Any) -> str | None:
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        return importlib.metadata.version("lean-dojo")
    except importlib.metadata.PackageNotFoundError:
        return None


# -- theorems ---------------------------------------------------------------------------------

_SOURCE_RE = re.compile(r"^(?P<url>\S+)@(?P<commit>[^\s@:/]+):(?P<path>[^\n]+)$")


@dataclass(frozen=True)
class DojoTheoremRef:
    """Where a theorem lives, as LeanDojo names it.

    Attributes:
        url: The repository (``https://github.com/owner/repo``; a local path where the installed
            lean-dojo accepts one).
        commit: The commit hash (a tag works where LeanDojo resolves it; no ``/``, ``:``, ``@``).
        file_path: The ``.lean`` file, relative to the repository root.
        full_name: The theorem's fully qualified name (``Complex.lim_im``).
    """

    url: str
    commit: str
    file_path: str
    full_name: str

    def __post_init__(self) -> None:
        problems = []
        if not self.url or any(c.isspace() for c in self.url):
            problems.append("url must be non-empty, without spaces")
        if not re.fullmatch(r"[^\s@:/]+", self.commit or ""):
            problems.append("commit must be a hash or tag without spaces, '/', ':' or '@'")
        if (
            not self.file_path.endswith(".lean")
            or self.file_path.startswith("/")
            or "\n" in self.file_path
            or self.file_path != self.file_path.strip()
        ):
            problems.append("file_path must be a .lean path relative to the repository root")
        if not self.full_name or any(c.isspace() for c in self.full_name):
            problems.append("full_name must be the fully qualified name, without spaces")
        if problems:
            raise ValueError(f"bad LeanDojo theorem {self!r}: {'; '.join(problems)}")

    @property
    def source(self) -> str:
        """The ``Theorem.source`` encoding: ``URL@COMMIT:FILE_PATH``."""
        return f"{self.url}@{self.commit}:{self.file_path}"


def dojo_source(url: str, commit: str, file_path: str) -> str:
    """``"URL@COMMIT:FILE_PATH"``: how a repository's file is written in ``Theorem.source``."""
    return DojoTheoremRef(url, commit, file_path, "x").source


def dojo_theorem(
    url: str,
    commit: str,
    file_path: str,
    full_name: str,
    *,
    statement: str | None = None,
    split: str | None = None,
) -> Theorem:
    """Describe a theorem of a traced repository with the frozen :class:`Theorem` type.

    The encoding: ``language="lean4"``, ``name=full_name``, ``source="URL@COMMIT:FILE_PATH"``,
    ``statement`` the theorem's text when known (display only) or else ``full_name``, and an
    empty ``header`` (LeanDojo takes the context from the traced file itself).
    :func:`parse_dojo_theorem` reads it back.

    Args:
        url: Repository URL, as ``lean_dojo.LeanGitRepo`` takes it.
        commit: Commit hash.
        file_path: The ``.lean`` file, relative to the repository root.
        full_name: Fully qualified theorem name.
        statement: The theorem's text, if known.
        split: Suite split, if any.

    Returns:
        The theorem.

    Raises:
        ValueError: A field cannot be encoded (see :class:`DojoTheoremRef`).

    Example:
        >>> t = dojo_theorem("https://github.com/yangky11/lean4-example", "04e2917",
        ...                  "Lean4Example.lean", "hello_world")
        >>> t.source
        'https://github.com/yangky11/lean4-example@04e2917:Lean4Example.lean'
        >>> t.name, t.language
        ('hello_world', 'lean4')
        >>> parse_dojo_theorem(t).commit
        '04e2917'
    """
    ref = DojoTheoremRef(url, commit, file_path, full_name)
    return Theorem(
        name=full_name,
        statement=statement if statement and statement.strip() else full_name,
        header="",
        language="lean4",
        split=split,
        source=ref.source,
    )


def parse_dojo_theorem(theorem: Theorem) -> DojoTheoremRef:
    """Read back what :func:`dojo_theorem` encoded.

    Raises:
        ValueError: ``theorem`` is not a LeanDojo theorem (wrong language, a header, or a
            ``source`` not of the form ``URL@COMMIT:FILE_PATH``); the message says how to make one.
    """
    fix = "make LeanDojo theorems with prover_env.lean.dojo.dojo_theorem(url, commit, file, name)"
    if theorem.language != "lean4":
        raise ValueError(f"{theorem.name!r} is a {theorem.language!r} theorem, not lean4: {fix}")
    if theorem.header.strip():
        raise ValueError(
            f"{theorem.name!r} has a header, but LeanDojo takes the context from the traced file "
            f"(extra imports: LeanDojoConfig.additional_imports): {fix}"
        )
    m = _SOURCE_RE.match(theorem.source or "")
    if m is None:
        raise ValueError(
            f"{theorem.name!r} has source {theorem.source!r}, not 'URL@COMMIT:FILE.lean': {fix}"
        )
    return DojoTheoremRef(m.group("url"), m.group("commit"), m.group("path"), theorem.name)


# -- LeanDojo results -------------------------------------------------------------------------


def count_dojo_goals(pp: str) -> int:
    """Count the goals of a pretty-printed LeanDojo state the way LeanDojo does.

    LeanDojo prints goals separated by a blank line and counts the blocks that contain ``⊢``
    (``lean_dojo.interaction.parse_goals.parse_goals``); ``"no goals"`` has none.
    """
    return sum(1 for block in pp.split("\n\n") if "⊢" in block)


def class_names(obj: object) -> set[str]:
    cls = obj if isinstance(obj, type) else type(obj)
    return {c.__name__ for c in cls.__mro__}


def dojo_result_kind(result: object) -> ResultKind:
    """Which LeanDojo result ``result`` is, from its class name and attributes.

    ``ProofGivenUp`` -> ``"given_up"``; an object with ``pp`` (``TacticState``) -> ``"state"``;
    with ``tactic_state_id`` (``ProofFinished``) -> ``"finished"``; with ``error``: a class
    named ``...TimeoutError`` (1.x) -> ``"timeout"``, else (``LeanError``) -> ``"error"``.

    Raises:
        ProverError: Not a tactic result LeanDojo produces.
    """
    names = class_names(result)
    if any(n.endswith("ProofGivenUp") for n in names):
        return "given_up"
    if hasattr(result, "pp"):
        return "state"
    if hasattr(result, "tactic_state_id"):
        return "finished"
    if hasattr(result, "error"):
        return "timeout" if any(n.endswith("TimeoutError") for n in names) else "error"
    raise ProverError(f"unexpected LeanDojo result {type(result).__name__}: {result!r}")


def map_dojo_result(
    result: object,
    *,
    theorem: str,
    proof: tuple[str, ...],
    state_id: int,
    handle: Any = None,
) -> TacticResult:
    """Turn a LeanDojo tactic result into prover-gym's result type.

    Args:
        result: What ``Dojo.run_tac`` returned (or the initial state).
        theorem: Name of the theorem.
        proof: The tactics from the theorem's start to this result.
        state_id: The id to give a new state.
        handle: The backend's private handle for a new state.

    Returns:
        ``TacticState`` -> :class:`ProofState` (``goals`` = ``pp`` unchanged, ``num_goals`` as
        LeanDojo counts them); ``ProofFinished`` -> :class:`ProofFinished` (not yet a proof:
        ``verify`` decides); ``LeanError`` -> :class:`TacticError` with Lean's message;
        ``ProofGivenUp`` -> :class:`TacticError` with ``rejected_by_guard=True`` (never
        rewarded); a 1.x ``TimeoutError`` -> :class:`TacticError` with ``timeout=True``.
    """
    kind = dojo_result_kind(result)
    if kind == "state":
        pp = str(result.pp)  # type: ignore[attr-defined]
        count = getattr(result, "num_goals", None)
        num_goals = count if isinstance(count, int) else count_dojo_goals(pp)
        return ProofState(state_id, pp, num_goals, theorem, proof, handle)
    if kind == "finished":
        return ProofFinished(state_id, theorem, proof, _handle=handle)
    if kind == "given_up":
        return TacticError(_GAVE_UP, rejected_by_guard=True)
    message = str(getattr(result, "error", "") or "").strip()
    if kind == "timeout":
        return TacticError(f"timeout: {message or 'the tactic ran past its time limit'}", True)
    return TacticError(message or "Lean rejected the tactic (no message)")
