"""The LeanDojo backend: theorems of traced Lean 4 repositories through ``lean_dojo.Dojo``.

`LeanDojo <https://github.com/lean-dojo/LeanDojo>`_ (the ``lean-dojo`` package, module
``lean_dojo``) replaces a theorem's proof in a traced repository by a REPL tactic and lets
Python send tactics to it. This module puts that behind the :class:`~prover_env.backend.Backend`
contract. ``lean-dojo`` is an optional extra (``pip install 'prover-gym[lean]'``): it is
imported only when a :class:`LeanDojoBackend` is built, never when this module is imported.

How it works, top to bottom:

* **Theorems** are named by repository, commit, file and full name; :func:`dojo_theorem` packs
  that into the frozen :class:`~prover_env.types.Theorem` (``source="URL@COMMIT:FILE"``,
  ``name=FULL_NAME``) and :func:`parse_dojo_theorem` reads it back.
* **One Dojo per theorem** (``lean_dojo.Dojo``, entered like ``with Dojo(thm) as (dojo, s0)``),
  reused by every episode of that theorem; ``max_dojos`` of them stay open, least recently
  used first out. LeanDojo's ``run_tac`` accepts any earlier ``TacticState``: every state
  handed out keeps its LeanDojo state, so a tactic runs from any state the caller kept.
* **Results**: LeanDojo's ``TacticState`` becomes a :class:`~prover_env.types.ProofState`
  (``goals`` is its ``pp`` unchanged, ``num_goals`` its goal count), ``ProofFinished`` a
  :class:`~prover_env.types.ProofFinished`, ``LeanError`` a :class:`~prover_env.types.TacticError`,
  ``ProofGivenUp`` (the proof term contains ``sorry``) a ``TacticError`` with
  ``rejected_by_guard=True``, and a time limit hit a ``TacticError`` with ``timeout=True``.
* **The guard** (:func:`check_lean_tactic`) refuses ``sorry``, ``admit``, ``native_decide``,
  ``set_option``, ``axiom``, metaprogramming and the like before anything reaches Lean.
* **Failures**: a Dojo that crashes (``DojoCrashError``) or runs past its time limit is killed
  and restarted; the states callers hold are replayed on the new one (their tactics again, from
  the initial state) when next used. A Dojo that cannot start raises
  :class:`~prover_env.error.TheoremError` (the theorem is the problem) or
  :class:`~prover_env.error.BackendNotAvailableError` (the installation is), with the fix.
* **verify** replays the whole proof in a *fresh* Dojo and requires ``ProofFinished``; LeanDojo
  then has had Lean's kernel check the proof term (no ``sorry``, no metavariables). Where the
  installed ``lean_dojo`` has ``check_proof`` it also compiles the file with the proof in place.
  **Axioms are not checked** by this backend (see :meth:`LeanDojoBackend.verify`).

LeanDojo API facts this module relies on (``lean_dojo.interaction.dojo``; names are looked up
on the imported module, results are told apart by their attributes, so every release works
that has them): ``Dojo(entry, timeout=..., additional_imports=..., build_deps=...)`` (the
keyword arguments that the installed ``Dojo`` accepts are passed, the others left out),
``Dojo.__enter__() -> (dojo, TacticState)``, ``Dojo.run_tac(state, tactic)``,
``TacticState(pp, id, message)`` with ``num_goals``, ``ProofFinished(tactic_state_id,
message)``, ``LeanError(error)``, ``ProofGivenUp()``, the exceptions ``DojoCrashError``,
``DojoInitError`` and ``DojoTacticTimeoutError`` (``DojoHardTimeoutError`` and a
``TimeoutError`` result class in 1.x), ``LeanGitRepo(url, commit)`` and
``Theorem(repo, file_path, full_name)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import inspect
import itertools
import math
import os
import shutil
import signal
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from prover_env.backend import Backend, StateNode, node_of
from prover_env.error import (
    BackendNotAvailableError,
    ProverCrashedError,
    ProverError,
    ProverGymError,
    TheoremError,
)
from prover_env.lean.dojo_refs import (
    AXIOMS_NOT_CHECKED,
    INSTALL_HINT,
    LEAN_412_ISSUE,
    DojoTheoremRef,
    class_names,
    count_dojo_goals,
    dojo_result_kind,
    dojo_source,
    dojo_theorem,
    dojo_version_warning,
    installed_version,
    map_dojo_result,
    parse_dojo_theorem,
)
from prover_env.lean.guard import LeanGuardError, check_lean_tactic, guard_action
from prover_env.types import ProofFinished, ProofState, TacticError, TacticResult, Theorem, Verdict

__all__ = [
    "AXIOMS_NOT_CHECKED",
    "INSTALL_HINT",
    "DojoStats",
    "DojoTheoremRef",
    "LeanDojoBackend",
    "LeanDojoConfig",
    "LeanGuardError",
    "check_lean_tactic",
    "count_dojo_goals",
    "dojo_result_kind",
    "dojo_source",
    "dojo_theorem",
    "dojo_version_warning",
    "map_dojo_result",
    "parse_dojo_theorem",
]

_T = TypeVar("_T")


# -- the backend ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeanDojoConfig:
    """Settings of :class:`LeanDojoBackend`.

    Attributes:
        timeout: Default per-tactic time limit, seconds. lean-dojo >= 2 stops waiting for Lean
            after it (``DojoTacticTimeoutError``); on any version the Lean process is killed
            ``interrupt_grace`` seconds later if it still has not answered.
        startup_timeout: Seconds LeanDojo may take to open a Dojo (it compiles the theorem's
            file up to the theorem: minutes for big Mathlib files).
        verify_timeout: Per-tactic time limit when replaying states and in ``verify``, seconds.
        interrupt_grace: Seconds past a time limit before the Lean process is killed.
        max_tactic_chars: Longest action accepted.
        allow_native_decide: Let actions use ``native_decide`` and relatives (their proofs
            rest on ``Lean.ofReduceBool``, which this backend cannot see in ``verify``).
        additional_imports: Extra modules the Dojo imports (``Dojo(additional_imports=...)``).
        build_deps: Passed as ``Dojo(build_deps=...)`` where the installed lean-dojo has it.
        max_dojos: Dojos (theorems, one Lean process each) kept open at once; least recently
            used ones are closed, and their states replay on demand.
        recycle_tactics: Restart a theorem's Dojo at the next ``start`` after this many
            tactics (LeanDojo's REPL keeps every state in memory); 0: never.
        use_check_proof: In ``verify``, also run ``lean_dojo.check_proof`` (compiles the file
            with the proof in place) where the installed lean-dojo has it.
        check_lake: Require ``lake`` (elan) at construction; turn off when LeanDojo runs Lean
            in Docker (1.x, ``CONTAINER=docker``).
        trust_unchecked_axioms: LeanDojo cannot list the axioms a proof uses (a lemma of the
            traced repository proved by ``sorry`` or resting on a custom ``axiom`` would pass).
            By default ``verify`` therefore never returns ``ok=True`` (no reward): set this to
            accept kernel-checked proofs whose axioms were not checked, in repositories you
            trust, or verify with the Lean REPL backend.
    """

    timeout: float = 60.0
    startup_timeout: float = 1800.0
    verify_timeout: float = 300.0
    interrupt_grace: float = 10.0
    max_tactic_chars: int = 16384
    allow_native_decide: bool = False
    additional_imports: tuple[str, ...] = ()
    build_deps: bool | None = None
    max_dojos: int = 2
    recycle_tactics: int = 5000
    use_check_proof: bool = True
    check_lake: bool = True
    trust_unchecked_axioms: bool = False


class _DojoCrash(Exception):
    """LeanDojo's Lean process died (or answered garbage) during a call."""


class _DojoTimeout(Exception):
    """A call ran past its time limit; the Lean process must be restarted."""


class _Node(StateNode):
    """A state in the caller's proof tree, and its LeanDojo state in one Dojo generation."""

    __slots__ = ("generation", "num_goals", "proof", "raw", "ref", "tactic")

    def __init__(
        self,
        uid: int,
        backend: int,
        ref: DojoTheoremRef,
        theorem: Theorem,
        parent: _Node | None,
        tactic: str | None,
        num_goals: int,
        raw: Any,
        generation: int,
    ) -> None:
        super().__init__(uid, backend, theorem, parent)
        self.parent: _Node | None = parent
        self.ref = ref
        self.tactic = tactic
        self.proof: tuple[str, ...] = (
            (*parent.proof, tactic) if parent is not None and tactic is not None else ()
        )
        self.num_goals = num_goals
        self.raw = raw
        self.generation = generation


@dataclass
class _Session:
    """One theorem's Dojo (entered), its initial state, and which generation it is."""

    ref: DojoTheoremRef
    dojo: Any = None
    init: Any = None
    generation: int = 0
    tactics: int = 0


@dataclass
class DojoStats:
    """Counters for monitoring and tests."""

    dojos_opened: int = 0
    restarts_after_failure: int = 0
    recycles: int = 0
    replayed_tactics: int = 0
    tactics: int = 0
    verifications: int = 0


def _is(exc: BaseException, *names: str) -> bool:
    return bool(class_names(exc) & set(names))


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if getattr(exc, "is_out_of_memory", False) is True:
        text += " (out of memory)"
    return text


def _kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants (processes a Dojo started)."""
    try:
        import psutil
    except ImportError:
        psutil = None  # type: ignore[assignment]
    if psutil is not None:
        try:
            root = psutil.Process(pid)
            procs = [*root.children(recursive=True), root]
        except psutil.Error:
            return
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        return
    try:
        group = os.getpgid(pid)
    except OSError:
        return
    with contextlib.suppress(OSError):
        if group == pid and group != os.getpgrp():  # pexpect children lead their own group
            os.killpg(group, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)


def _kill_process(dojo: Any) -> None:
    """Kill the Lean process behind ``dojo`` (``dojo.proc``: pexpect or subprocess), if any."""
    proc = getattr(dojo, "proc", None)
    pid = getattr(proc, "pid", None)
    if isinstance(pid, int) and pid > 0:
        _kill_tree(pid)
    if proc is None:
        return
    with contextlib.suppress(Exception):
        if hasattr(proc, "isalive"):  # pexpect.spawn: close the pty too
            proc.close(force=True)
        elif hasattr(proc, "wait"):  # subprocess.Popen: reap it
            proc.wait(timeout=2)


def _close_dojo(dojo: Any) -> None:
    """Kill ``dojo``'s processes, then let LeanDojo clean up (temp files, signal handlers)."""
    if dojo is None:
        return
    _kill_process(dojo)
    with contextlib.suppress(Exception):
        dojo.__exit__(None, None, None)


def _set_read_timeout(dojo: Any, seconds: float) -> None:
    """Make lean-dojo >= 2 wait at most ``seconds`` for Lean's next answer (pexpect's timeout)."""
    proc = getattr(dojo, "proc", None)
    current = getattr(proc, "timeout", None)
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        with contextlib.suppress(Exception):
            proc.timeout = max(1, math.ceil(seconds))  # type: ignore[union-attr]


def _indent_proof(tactics: Sequence[str]) -> str:
    """The tactics as one ``by`` block (what a ``.lean`` file would hold)."""
    lines = [f"  {line}" if line.strip() else "" for t in tactics for line in t.splitlines()]
    return "by\n" + "\n".join(lines)


def _lake_found() -> bool:
    return bool(shutil.which("lake")) or (Path.home() / ".elan" / "bin" / "lake").exists()


class LeanDojoBackend(Backend):
    """Lean 4 theorems of traced repositories through LeanDojo (``lean_dojo.Dojo``).

    Theorems come from :func:`dojo_theorem` (repository URL, commit, file, full name); the
    repository must be traceable by LeanDojo (``lean_dojo.trace``; Dojo traces it on first use,
    which takes minutes to hours and a GitHub token for the API).

    Args:
        config: Settings; keyword arguments override its fields (``LeanDojoBackend(timeout=5)``).

    Raises:
        BackendNotAvailableError: ``lean-dojo`` is not installed (``pip install
            'prover-gym[lean]'``) or does not import, or ``lake`` is missing.

    Example:
        >>> thm = dojo_theorem(  # doctest: +SKIP
        ...     "https://github.com/yangky11/lean4-example",
        ...     "04e29174a45eefaccb49b835a372aa762321194e",
        ...     "Lean4Example.lean",
        ...     "hello_world",
        ... )
        >>> with LeanDojoBackend(timeout=30) as dojo:  # doctest: +SKIP
        ...     s0 = dojo.start(thm)
        ...     done = dojo.run_tactic(s0, "rw [add_assoc, add_comm b, ←add_assoc]")
        ...     dojo.verify(thm, done.proof).ok
        True
    """

    language = "lean4"
    _ids = itertools.count(1)
    _generations = itertools.count(1)

    def __init__(self, config: LeanDojoConfig | None = None, **overrides: Any) -> None:
        config = config or LeanDojoConfig()
        if overrides:
            config = LeanDojoConfig(**{**config.__dict__, **overrides})
        config = LeanDojoConfig(
            **{**config.__dict__, "additional_imports": tuple(config.additional_imports)}
        )
        self.config = config
        self._ld = self._import_lean_dojo()
        #: The installed lean-dojo version (``None`` when it does not say).
        self.lean_dojo_version: str | None = installed_version(self._ld)
        if config.check_lake and not _lake_found():
            raise BackendNotAvailableError(
                "LeanDojo needs Lean's build tool `lake`, which is not on PATH nor in "
                "~/.elan/bin: install elan (curl https://raw.githubusercontent.com/leanprover/"
                "elan/master/elan-init.sh -sSf | sh) and open a new shell; if your lean-dojo "
                "runs Lean in Docker, pass check_lake=False"
            )
        self.stats = DojoStats()
        self._id = next(self._ids)
        self._sessions: OrderedDict[DojoTheoremRef, _Session] = OrderedDict()
        self._lean_theorems: dict[DojoTheoremRef, Any] = {}
        self._dojo_kwargs_cache: dict[str, Any] | None = None
        self._live: weakref.WeakSet[_Node] = weakref.WeakSet()
        self._closed = False
        self._finalizer = weakref.finalize(self, LeanDojoBackend._close_all, self._sessions)

    @staticmethod
    def _import_lean_dojo() -> Any:
        try:
            return importlib.import_module("lean_dojo")
        except ModuleNotFoundError as e:
            if e.name in (None, "lean_dojo") or (e.name or "").startswith("lean_dojo."):
                raise BackendNotAvailableError(
                    f"the LeanDojo backend needs the optional package lean-dojo: {INSTALL_HINT} "
                    "(LeanDojo also needs git, elan/lake, and GITHUB_ACCESS_TOKEN for tracing)"
                ) from e
            raise BackendNotAvailableError(
                f"lean_dojo is installed but a package it needs is missing ({e}): reinstall "
                f"with {INSTALL_HINT}"
            ) from e
        except Exception as e:  # lean_dojo checks git and Docker at import time
            raise BackendNotAvailableError(
                f"lean_dojo failed to import ({_describe(e)}); it needs git >= 2.25 on PATH "
                f"(and Docker when CONTAINER=docker); otherwise reinstall: {INSTALL_HINT}"
            ) from e

    # -- public API ----------------------------------------------------------------------------

    def start(self, theorem: Theorem) -> ProofState:
        """Open ``theorem`` (reusing its Dojo when one is open) and return its initial state.

        Raises:
            ValueError: ``theorem`` was not made by :func:`dojo_theorem`.
            TheoremError: LeanDojo cannot open this theorem (wrong name or file, not a tactic
                proof, not a Prop); the message says the fix.
            BackendNotAvailableError: Lean or LeanDojo cannot start on this repository.
            ProverCrashedError: Lean crashed twice while opening it.
        """
        ref = parse_dojo_theorem(theorem)
        session = self._session(ref)
        limit = self.config.recycle_tactics
        if session.dojo is not None and limit and session.tactics >= limit:
            self.stats.recycles += 1
            self._drop(session)
        self._with_dojo(session, theorem, lambda: None)
        init = session.init
        uid = self._uid(ref, None, None)
        num_goals = count_dojo_goals(str(init.pp))
        node = _Node(uid, self._id, ref, theorem, None, None, num_goals, init, session.generation)
        self._live.add(node)
        result = map_dojo_result(init, theorem=theorem.name, proof=(), state_id=uid, handle=node)
        if not isinstance(result, ProofState):  # _open_dojo already refused these
            raise TheoremError(theorem.name, "LeanDojo did not open a tactic proof")
        return result

    def run_tactic(
        self, state: ProofState | ProofFinished, tactic: str, timeout: float | None = None
    ) -> TacticResult:
        """Run ``tactic`` from any state this backend returned and the caller kept.

        Args:
            state: A state from :meth:`start` or an earlier :meth:`run_tactic`.
            tactic: Lean 4 tactic text (one tactic or a multi-line block).
            timeout: Seconds for this tactic (default: ``config.timeout``).

        Returns:
            The new :class:`ProofState`, :class:`ProofFinished` (no goals left; ``verify``
            decides whether it is a proof), or a :class:`TacticError` (state unchanged): Lean's
            message, the guard's (``rejected_by_guard``), a time limit (``timeout``) or a crash
            after which Lean was restarted.

        Raises:
            ValueError: ``state`` did not come from this backend.
            ProverCrashedError: Lean crashed and the state could not be restored.
        """
        node = self._node_of(state)
        text = guard_action(
            state,
            tactic,
            max_chars=self.config.max_tactic_chars,
            allow_native_decide=self.config.allow_native_decide,
        )
        if isinstance(text, TacticError):
            return text
        limit = self.config.timeout if timeout is None else float(timeout)
        session = self._session(node.ref)
        self.stats.tactics += 1
        raw = self._with_dojo(session, node.theorem, lambda: self._raw_of(session, node))
        try:
            result = self._run_tac(session, raw, text, limit)
        except _DojoTimeout as e:
            self._drop(session, failure=True)
            return TacticError(
                f"timeout: the tactic ran past {limit:g} s ({e}); Lean was restarted and kept "
                "states replay on demand",
                timeout=True,
            )
        except _DojoCrash as e:
            self._drop(session, failure=True)
            try:
                self._with_dojo(session, node.theorem, lambda: self._raw_of(session, node))
            except ProverGymError as again:
                raise ProverCrashedError(
                    f"Lean crashed while running {text!r} ({e}) and the state could not be "
                    f"restored: {again}"
                ) from again
            return TacticError(
                f"Lean crashed while running this tactic ({e}); LeanDojo was restarted and the "
                "state is unchanged"
            )
        except AssertionError as e:  # LeanDojo could not parse the goals Lean printed
            return TacticError(f"LeanDojo could not read the state Lean printed ({e!r})")
        kind = dojo_result_kind(result)
        if kind not in ("state", "finished"):
            return map_dojo_result(result, theorem=node.theorem.name, proof=(), state_id=0)
        uid = self._uid(node.ref, node.uid, text)
        num_goals = 0 if kind == "finished" else count_dojo_goals(str(result.pp))
        child = _Node(
            uid, self._id, node.ref, node.theorem, node, text, num_goals, result, node.generation
        )
        self._live.add(child)
        return map_dojo_result(
            result, theorem=node.theorem.name, proof=child.proof, state_id=uid, handle=child
        )

    def verify(self, theorem: Theorem, proof: str | Sequence[str]) -> Verdict:
        """Re-check a whole proof of ``theorem`` in a fresh Dojo.

        The proof is kernel-checked only when (1) the guard accepts every tactic (no ``sorry``,
        ``admit``, ``native_decide`` unless allowed, ``set_option``, ``axiom``,
        metaprogramming...), (2) the tactics, replayed in order in a *new* Dojo for the theorem,
        end in LeanDojo's ``ProofFinished`` (LeanDojo's REPL has then checked, with Lean's
        elaborator, that the proof term's type is the goal's and that it holds no ``sorry`` and
        no metavariable, and has had Lean's kernel type-check the term), and (3) where the
        installed lean-dojo has ``check_proof`` (and ``use_check_proof``), the theorem's file
        compiles with this proof in place and without a ``sorry`` warning (the kernel then
        checks the declaration itself against its stated type).

        **Limitation: axioms are not checked.** LeanDojo has no way to list the axioms a proof
        depends on, so ``Verdict.axioms`` is empty meaning *unknown*, not *none*; the message of
        an accepting verdict says so. The guard is what keeps the usual escapes out (``sorry``
        shows up as ``ProofGivenUp`` anyway); axioms already used by the repository's own
        lemmas are invisible here. So ``ok`` is True only with
        ``config.trust_unchecked_axioms`` (default False: no reward); use the Lean REPL backend
        where ``#print axioms`` matters.

        Args:
            theorem: A theorem from :func:`dojo_theorem`.
            proof: The tactics, in order (``ProofFinished.proof``); a ``str`` is one tactic
                (block).

        Returns:
            The verdict; never raises for a rejected or unverifiable proof.
        """
        self.stats.verifications += 1
        tactics = [proof] if isinstance(proof, str) else list(proof)
        checked: list[str] = []
        for i, tactic in enumerate(tactics, 1):
            try:
                checked.append(
                    check_lean_tactic(
                        tactic,
                        max_chars=1 << 20,
                        allow_native_decide=self.config.allow_native_decide,
                    )
                )
            except LeanGuardError as e:
                return Verdict(False, f"not an acceptable tactic script: tactic {i}: {e}")
        script = _indent_proof(checked)
        if not checked:
            return Verdict(False, "empty proof: no tactics to check", script=script)
        try:
            ref = parse_dojo_theorem(theorem)
        except ValueError as e:
            return Verdict(False, str(e), script=script)
        if self._closed:
            return Verdict(False, "this LeanDojoBackend is closed: create a new one", script=script)
        try:
            dojo, state = self._open_dojo(ref, theorem)
        except (ProverGymError, _DojoCrash, _DojoTimeout) as e:
            return Verdict(False, f"could not open a fresh Dojo: {e}", script=script)
        try:
            session = _Session(ref, dojo, state, next(self._generations))
            for i, tactic in enumerate(checked, 1):
                try:
                    result = self._run_tac(session, state, tactic, self.config.verify_timeout)
                except (_DojoTimeout, _DojoCrash, AssertionError) as e:
                    return Verdict(
                        False, f"tactic {i} failed in the fresh Dojo: {e}", script=script
                    )
                try:
                    kind = dojo_result_kind(result)
                except ProverError as e:
                    return Verdict(False, f"tactic {i}: {e}", script=script)
                if kind == "finished" and i < len(checked):
                    return Verdict(
                        False,
                        f"no goals remain after tactic {i} of {len(checked)}: the rest would "
                        "fail with 'no goals'",
                        script=script,
                    )
                if kind == "finished":
                    break
                if kind != "state":
                    message = map_dojo_result(result, theorem=theorem.name, proof=(), state_id=0)
                    reason = getattr(message, "message", kind)
                    return Verdict(False, f"tactic {i} was rejected: {reason}", script=script)
                state = result
            else:
                goals = count_dojo_goals(str(getattr(state, "pp", "")))
                return Verdict(
                    False, f"the proof is incomplete: {goals} goal(s) remain", script=script
                )
        finally:
            _close_dojo(dojo)
        failed = self._check_proof(ref, theorem, checked)
        if failed:
            return Verdict(False, failed, script=script)
        return Verdict(self.config.trust_unchecked_axioms, AXIOMS_NOT_CHECKED, (), (), script)

    def close(self) -> None:
        """Exit every Dojo this backend entered and kill its Lean processes. Idempotent."""
        self._closed = True
        self._close_all(self._sessions)

    @property
    def open_dojos(self) -> int:
        """How many Dojos (Lean processes) are open now."""
        return sum(1 for s in self._sessions.values() if s.dojo is not None)

    @property
    def live_states(self) -> int:
        """How many states callers still hold."""
        return len(self._live)

    # -- Dojos ---------------------------------------------------------------------------------

    @staticmethod
    def _close_all(sessions: OrderedDict[DojoTheoremRef, _Session]) -> None:
        for session in list(sessions.values()):
            dojo, session.dojo, session.init, session.generation = session.dojo, None, None, 0
            _close_dojo(dojo)

    def _session(self, ref: DojoTheoremRef) -> _Session:
        if self._closed:
            raise ProverGymError("this LeanDojoBackend is closed: create a new one")
        session = self._sessions.get(ref)
        if session is not None:
            self._sessions.move_to_end(ref)
            return session
        while len(self._sessions) >= max(1, self.config.max_dojos):
            _, old = self._sessions.popitem(last=False)
            self._drop(old)
        session = _Session(ref)
        self._sessions[ref] = session
        return session

    def _drop(self, session: _Session, failure: bool = False) -> None:
        """Close the session's Dojo; its states replay on the next use."""
        dojo, session.dojo, session.init, session.generation = session.dojo, None, None, 0
        session.tactics = 0
        _close_dojo(dojo)
        if failure:
            self.stats.restarts_after_failure += 1

    def _with_dojo(self, session: _Session, theorem: Theorem, work: Callable[[], _T]) -> _T:
        """Run ``work`` with the session's Dojo open; after a crash or a hang (while opening it
        or during ``work``), restart the Dojo and run ``work`` once more."""
        last: Exception | None = None
        for _ in range(2):
            try:
                if session.dojo is None:
                    session.dojo, session.init = self._open_dojo(session.ref, theorem)
                    session.generation = next(self._generations)
                    session.tactics = 0
                return work()
            except (_DojoCrash, _DojoTimeout) as e:
                last = e
                self._drop(session, failure=True)
        raise ProverCrashedError(
            f"Lean failed twice in a row on {session.ref.full_name} ({last}); it was restarted "
            "each time (a tactic that crashes Lean, or too little memory for the repository)"
        )

    def _lean_theorem(self, ref: DojoTheoremRef, theorem: Theorem) -> Any:
        """``lean_dojo.Theorem(LeanGitRepo(url, commit), file_path, full_name)``, cached (the
        repository object queries GitHub when built)."""
        cached = self._lean_theorems.get(ref)
        if cached is not None:
            return cached
        try:
            repo = self._ld.LeanGitRepo(ref.url, ref.commit)
        except (ValueError, AssertionError) as e:
            raise TheoremError(
                theorem.name,
                f"LeanDojo rejects the repository {ref.url}@{ref.commit} ({_describe(e)}); fix: "
                "give the repository's https://github.com/OWNER/REPO URL and a commit hash",
            ) from e
        except Exception as e:
            raise BackendNotAvailableError(
                f"LeanDojo could not look up {ref.url}@{ref.commit} ({_describe(e)}); fix: check "
                "network access to GitHub and set GITHUB_ACCESS_TOKEN (LeanDojo queries the "
                "GitHub API for every repository)"
            ) from e
        try:
            lean_theorem = self._ld.Theorem(repo, ref.file_path, ref.full_name)
        except (ValueError, AssertionError, TypeError) as e:
            raise TheoremError(theorem.name, f"LeanDojo rejects it: {_describe(e)}") from e
        self._lean_theorems[ref] = lean_theorem
        return lean_theorem

    def _dojo_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``Dojo(...)`` that the installed lean-dojo accepts."""
        if self._dojo_kwargs_cache is not None:
            return dict(self._dojo_kwargs_cache)
        try:
            params = inspect.signature(self._ld.Dojo).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        cfg = self.config
        kwargs: dict[str, Any] = {}
        if "timeout" in params:  # lean-dojo >= 2: seconds to wait for any answer
            kwargs["timeout"] = max(1, math.ceil(max(cfg.startup_timeout, cfg.timeout)))
        if "additional_imports" in params and cfg.additional_imports:
            kwargs["additional_imports"] = list(cfg.additional_imports)
        if "build_deps" in params and cfg.build_deps is not None:
            kwargs["build_deps"] = cfg.build_deps
        self._dojo_kwargs_cache = kwargs
        return dict(kwargs)

    def _open_dojo(self, ref: DojoTheoremRef, theorem: Theorem) -> tuple[Any, Any]:
        """Enter a new Dojo for ``ref``: (the Dojo, its initial ``TacticState``)."""
        lean_theorem = self._lean_theorem(ref, theorem)
        try:
            dojo = self._ld.Dojo(lean_theorem, **self._dojo_kwargs())
        except Exception as e:
            raise self._init_error(ref, theorem, e) from e
        try:
            entered = dojo.__enter__()
        except Exception as e:
            _close_dojo(dojo)
            if _is(e, "DojoCrashError") and "not_a_theorem" not in str(e):
                raise _DojoCrash(_describe(e)) from e
            raise self._init_error(ref, theorem, e) from e
        except BaseException:
            _close_dojo(dojo)
            raise
        self.stats.dojos_opened += 1
        try:
            opened, init = entered
            kind = dojo_result_kind(init)
        except (TypeError, ValueError, ProverError) as e:
            _close_dojo(dojo)
            raise ProverError(f"unexpected result of Dojo.__enter__(): {entered!r} ({e})") from e
        if kind != "state":
            _close_dojo(opened)
            raise TheoremError(
                theorem.name, f"LeanDojo did not open a tactic proof (initial result: {kind})"
            )
        _set_read_timeout(opened, self.config.timeout)
        return opened, init

    def _init_error(self, ref: DojoTheoremRef, theorem: Theorem, e: Exception) -> ProverGymError:
        """Why a Dojo did not open, as TheoremError (fix the theorem) or
        BackendNotAvailableError (fix the installation), with the fix."""
        text = str(e)
        where = f"{ref.full_name} in {ref.file_path} of {ref.url}@{ref.commit}"
        if "not_a_theorem" in text:
            return TheoremError(
                theorem.name, "its type is not a Prop (LeanDojo: not_a_theorem): pick a theorem"
            )
        if _is(e, "DojoInitError"):
            if "locate the theorem" in text:
                return TheoremError(
                    theorem.name,
                    f"{text}; fix: give the fully qualified name (namespaces included) of a "
                    f"theorem with a tactic proof in {ref.file_path}",
                )
            if "ast.json" in text or "Cannot find the file" in text:
                return TheoremError(
                    theorem.name,
                    f"{text}; fix: file_path must be relative to the repository root, and the "
                    f"repository traced at this commit: lean_dojo.trace(LeanGitRepo({ref.url!r}, "
                    f"{ref.commit!r}))",
                )
            if "where" in text or "prelude" in text:
                return TheoremError(theorem.name, f"{text}: LeanDojo cannot open this theorem")
            if "Timeout" in text:
                return BackendNotAvailableError(
                    f"Lean did not print the initial state of {where} within startup_timeout "
                    f"({self.config.startup_timeout:g} s): raise startup_timeout (big files take "
                    "minutes), and see dojo_version_warning / `prover-gym doctor`"
                )
            return BackendNotAvailableError(
                f"LeanDojo could not start Lean for {where} ({text}); fix: make sure `lake build` "
                "works in the traced repository (elan installs its toolchain) and that your "
                f"lean-dojo ({self.lean_dojo_version or 'version unknown'}) supports its Lean "
                f"version ({LEAN_412_ISSUE} for Lean >= 4.12)"
            )
        if _is(e, "DojoTacticTimeoutError", "DojoHardTimeoutError"):
            return BackendNotAvailableError(
                f"Lean did not answer while opening {where} within startup_timeout "
                f"({self.config.startup_timeout:g} s): raise startup_timeout"
            )
        if isinstance(e, AssertionError) and "Lean4Repl" in text:
            return BackendNotAvailableError(
                f"the traced repository was made by an older lean-dojo ({text}); fix: delete it "
                "from LeanDojo's cache (~/.cache/lean_dojo) and trace it again"
            )
        if isinstance(e, OSError):
            return BackendNotAvailableError(
                f"LeanDojo could not run a program for {where} ({_describe(e)}); fix: put git, "
                "elan and lake on PATH"
            )
        return BackendNotAvailableError(
            f"LeanDojo failed to open {where} ({_describe(e)}); fix: check that the repository "
            "traces with lean_dojo.trace and that `lake build` works in it"
        )

    def _run_tac(self, session: _Session, raw: Any, tactic: str, limit: float) -> Any:
        """``dojo.run_tac(raw, tactic)`` under a time limit; LeanDojo's failures become
        ``_DojoTimeout`` (restart) or ``_DojoCrash`` (restart)."""
        dojo = session.dojo
        _set_read_timeout(dojo, limit)
        fired = threading.Event()

        def watchdog() -> None:  # lean-dojo 1.x has no per-tactic limit: kill Lean
            fired.set()
            _kill_process(dojo)

        timer = threading.Timer(max(0.0, limit) + self.config.interrupt_grace, watchdog)
        timer.daemon = True
        timer.start()
        session.tactics += 1
        try:
            result = dojo.run_tac(raw, tactic)
        except Exception as e:
            if fired.is_set() or _is(e, "DojoTacticTimeoutError", "DojoHardTimeoutError"):
                raise _DojoTimeout(_describe(e)) from e
            if isinstance(e, AssertionError):
                raise
            raise _DojoCrash(_describe(e)) from e
        finally:
            timer.cancel()
        if fired.is_set():
            raise _DojoTimeout("Lean was killed after the time limit")
        return result

    def _raw_of(self, session: _Session, node: _Node) -> Any:
        """The LeanDojo state of ``node`` in the session's current Dojo, replaying the node's
        tactics from the initial state when the Dojo was restarted since it was made."""
        chain = cast("list[_Node]", node.chain())
        raw: Any = None
        for n in chain:
            if n.generation == session.generation and n.raw is not None:
                raw = n.raw
                continue
            if n.parent is None:
                n.raw, n.generation, raw = session.init, session.generation, session.init
                continue
            if n.tactic is None:  # only roots lack a tactic
                raise ProverError("internal error: a non-root state without a tactic")
            try:
                result = self._run_tac(session, raw, n.tactic, self.config.verify_timeout)
            except AssertionError as e:
                raise _DojoCrash(f"replay could not read a state ({e!r})") from e
            self.stats.replayed_tactics += 1
            kind = dojo_result_kind(result)
            goals = count_dojo_goals(str(result.pp)) if kind == "state" else 0
            if kind not in ("state", "finished") or goals != n.num_goals:
                raise ProverError(
                    f"replaying a kept state failed ({kind} after {n.tactic!r}, expected "
                    f"{n.num_goals} goal(s)); the state cannot be restored (a tactic that "
                    "succeeded once timed out or behaves nondeterministically)"
                )
            n.raw, n.generation, raw = result, session.generation, result
        return raw

    def _check_proof(self, ref: DojoTheoremRef, theorem: Theorem, tactics: list[str]) -> str:
        """Run ``lean_dojo.check_proof`` where available; ``""`` when it passed or is absent."""
        check = getattr(self._ld, "check_proof", None)
        if not self.config.use_check_proof or not callable(check):
            return ""
        lean_theorem = self._lean_theorem(ref, theorem)
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["ok"] = check(lean_theorem, _indent_proof(tactics))
            except Exception as e:
                outcome["error"] = e

        worker = threading.Thread(target=run, name="lean_dojo.check_proof", daemon=True)
        worker.start()
        worker.join(self.config.verify_timeout * max(1, len(tactics)) + self.config.startup_timeout)
        if worker.is_alive():
            return (
                "lean_dojo.check_proof (compiling the file with this proof) did not finish in "
                "time; its `lake env lean` process may still be running"
            )
        if "error" in outcome:
            return f"lean_dojo.check_proof failed: {_describe(outcome['error'])}"
        if outcome.get("ok") is not True:
            return (
                "the file does not compile with this proof in place, or it uses sorry "
                "(lean_dojo.check_proof returned False)"
            )
        return ""

    # -- states ----------------------------------------------------------------------------

    @staticmethod
    def _uid(ref: DojoTheoremRef, parent: int | None, tactic: str | None) -> int:
        """Content-derived ids: same tactics from the same theorem, same id (in every run)."""
        h = hashlib.blake2b(digest_size=8)
        if parent is None:
            h.update("\0".join((ref.url, ref.commit, ref.file_path, ref.full_name)).encode())
        else:
            h.update(parent.to_bytes(8, "little"))
            h.update((tactic or "").encode())
        return int.from_bytes(h.digest(), "little") & ((1 << 63) - 1)

    def _node_of(self, state: ProofState | ProofFinished) -> _Node:
        return node_of(state, self._id, _Node)
