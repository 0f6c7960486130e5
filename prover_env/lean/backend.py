"""The Lean 4 REPL backend: ``lake exe repl`` behind the backend contract.

* One REPL process for the backend; each distinct header (``import Mathlib`` ...) is elaborated
  once per process into an ``env`` and theorems start from it (``THEOREM := by sorry`` gives
  the first proof state). After a restart the header is unpickled from disk where possible.
* Branching from any earlier ``proofState`` is native to the REPL. States remember the process
  generation that made them; after a restart (crash, time limit, recycling) a kept state is
  rebuilt by replaying its tactics from the statement.
* The REPL cannot cancel a command, so a time limit kills the process (and the next call
  restarts it); it cannot free proof states either, so the process is recycled after
  ``recycle_requests`` requests or ``recycle_rss_mb`` of memory.
* ``verify`` re-elaborates ``STATEMENT := by PROOF`` as one command from the header's env (no
  error, no ``sorry``), then reads ``#print axioms`` against an allowlist. Tactic-mode
  ``proofStatus: Completed`` alone is not trusted (the REPL has accepted wrong proofs there).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from prover_env._process import ResourceLimits, due_for_recycling, spawn_limits
from prover_env.backend import Backend, StateNode, node_of
from prover_env.error import (
    ProverCrashedError,
    ProverError,
    ProverGymError,
    ProverTimeoutError,
    TheoremError,
)
from prover_env.lean.guard import (
    LeanGuardError,
    check_lean_tactic,
    guard_action,
    parse_print_axioms,
)
from prover_env.lean.repl import LeanRepl, ReplProtocolError, ReplResponse
from prover_env.types import ProofFinished, ProofState, TacticError, TacticResult, Theorem, Verdict

__all__ = ["LEAN_AXIOMS", "LeanConfig", "LeanReplBackend"]

#: The axioms of Lean's standard library and Mathlib a proof may use.
LEAN_AXIOMS: frozenset[str] = frozenset({"propext", "Classical.choice", "Quot.sound"})
_NAME = re.compile(r"^\s*(?:theorem|lemma|def|example|abbrev)\s+([^\s(:{\[⦃]+)")
_RSS_EVERY = 32  # requests between two looks at the REPL's memory
_INFRA = (ProverCrashedError, ProverTimeoutError, ReplProtocolError)


@dataclass(frozen=True)
class LeanConfig:
    """Settings of :class:`LeanReplBackend`.

    Attributes:
        project: The Lean project the REPL runs in (a Mathlib project for MiniF2F); default
            ``$PROVER_GYM_LEAN_PROJECT`` or the current directory.
        command: How to start the REPL inside the project.
        timeout: Default seconds per tactic; past it the process is killed and restarted.
        startup_timeout: Seconds for elaborating a header (``import Mathlib`` takes tens).
        verify_timeout: Seconds for re-checking a whole proof.
        memory_limit_mb: Address-space limit of the REPL process (``RLIMIT_AS``; ``None``:
            none, the default: Lean maps every imported ``.olean`` file, gigabytes of address
            space for Mathlib, so a useful value depends on the project; measure the
            ``VmPeak`` of a REPL that imported your header and allow a few GiB more).
        max_cpu_seconds: CPU time the REPL process may use over its life (``RLIMIT_CPU``:
            ``SIGXCPU``, then ``SIGKILL``; ``None``: none, the default: Lean elaborates on
            several threads, and a time limit already kills the process). A process past 90%
            of it is recycled before its next request, so only a runaway one is killed.
        recycle_requests: Restart the process after this many requests (0: never).
        recycle_rss_mb: Restart the process past this resident memory (0: never).
        allowed_axioms: Axioms a verified proof may depend on.
        allow_native_decide: Accept ``native_decide`` in actions (its axiom must also be
            allowed for a proof to verify).
        max_tactic_chars: Longest action accepted.
        pickle_headers: Save each header's env to disk, to unpickle it after a restart.
    """

    project: str | None = None
    command: tuple[str, ...] = ("lake", "exe", "repl")
    timeout: float = 60.0
    startup_timeout: float = 600.0
    verify_timeout: float = 300.0
    memory_limit_mb: int | None = None
    max_cpu_seconds: float | None = None
    recycle_requests: int = 5000
    recycle_rss_mb: int = 16384
    allowed_axioms: frozenset[str] = LEAN_AXIOMS
    allow_native_decide: bool = False
    max_tactic_chars: int = 16384
    pickle_headers: bool = True


class _Node(StateNode):
    """A state in the caller's proof tree; ``ps`` is valid in process ``generation``."""

    __slots__ = ("generation", "proof", "ps")

    def __init__(
        self, uid: int, backend: int, theorem: Theorem, parent: _Node | None, tactic: str | None
    ) -> None:
        super().__init__(uid, backend, theorem, parent)
        self.parent: _Node | None = parent
        self.proof: tuple[str, ...] = (*parent.proof, tactic) if parent and tactic else ()
        self.ps = -1
        self.generation = -1


def _error_text(response: ReplResponse) -> str:
    errors = response.errors
    if errors:
        return "\n".join(
            f"{m.pos.line}:{m.pos.column}: {m.data}" if m.pos else m.data for m in errors
        )
    return response.error or ""


class LeanReplBackend(Backend):
    """Lean 4 through the Lean REPL.

    Args:
        config: Settings; keyword arguments override its fields
            (``LeanReplBackend(project="~/minif2f", timeout=30)``).
    """

    language = "lean4"
    _ids = itertools.count(1)

    def __init__(self, config: LeanConfig | None = None, **overrides: object) -> None:
        config = config or LeanConfig()
        if overrides:
            config = LeanConfig(**{**config.__dict__, **overrides})  # type: ignore[arg-type]
        project = config.project or os.environ.get("PROVER_GYM_LEAN_PROJECT") or os.getcwd()
        self.config = config
        self._limits = ResourceLimits(config.memory_limit_mb, config.max_cpu_seconds)
        self.project = os.path.expanduser(project)
        self._id = next(self._ids)
        self._repl: LeanRepl | None = None
        self._generation = 0
        self._headers: dict[str, int | None] = {}  # header -> env id in the current process
        self._pickles = tempfile.mkdtemp(prefix="prover-gym-lean-")
        self._closed = False
        self.restarts = 0
        self._finalizer = weakref.finalize(self, LeanReplBackend._cleanup, [self._pickles])

    # -- public API ----------------------------------------------------------------------------

    def start(self, theorem: Theorem) -> ProofState:
        """Open ``theorem``: its header's env, then ``STATEMENT := by sorry``."""
        if theorem.language != "lean4":
            raise ValueError(f"LeanReplBackend cannot run a {theorem.language!r} theorem")
        node = _Node(self._uid(theorem, None, theorem.statement), self._id, theorem, None, None)
        response = self._with_restart(lambda: self._open(node))
        goal = response.sorries[0].goal if response.sorries else ""
        return ProofState(node.uid, goal, 1 if goal else 0, theorem.name, (), node)

    def run_tactic(
        self, state: ProofState | ProofFinished, tactic: str, timeout: float | None = None
    ) -> TacticResult:
        """Run ``tactic`` from any state this backend returned (native branching)."""
        node = self._node_of(state)
        text = guard_action(
            state,
            tactic,
            max_chars=self.config.max_tactic_chars,
            allow_native_decide=self.config.allow_native_decide,
        )
        if isinstance(text, TacticError):
            return text
        limit = self.config.timeout if timeout is None else timeout
        repl = self._with_restart(lambda: self._realized(node))
        try:
            response = repl.tactic(text, node.ps, limit)
        except _INFRA as e:
            self._restart()
            return TacticError(
                f"the Lean REPL died or hung while running this tactic and was restarted: {e}",
                timeout=isinstance(e, ProverTimeoutError),
            )
        return self._result(node, text, response)

    def verify(self, theorem: Theorem, proof: str | Sequence[str]) -> Verdict:
        """Re-elaborate ``STATEMENT := by PROOF`` in the header's env and check its axioms."""
        tactics = [proof] if isinstance(proof, str) else list(proof)
        try:
            checked = [
                check_lean_tactic(
                    t, max_chars=1 << 24, allow_native_decide=self.config.allow_native_decide
                )
                for t in tactics
            ]
        except LeanGuardError as e:
            return Verdict(False, f"not a tactic script: {e}")
        if not checked:
            return Verdict(False, "empty proof")
        body = "\n".join("  " + line for t in checked for line in t.splitlines())
        source = f"{theorem.statement.strip()} := by\n{body}"
        name = self.theorem_name(theorem)
        script = "\n\n".join(p for p in (theorem.header.strip(), source) if p)
        try:
            elaborated, printed = self._with_restart(lambda: self._check(theorem, source, name))
        except _INFRA as e:
            return Verdict(False, f"the Lean REPL failed while checking: {e}", script=script)
        problem = _error_text(elaborated)
        if problem:
            return Verdict(False, f"Lean rejected the proof: {problem}", script=script)
        if elaborated.sorries or any("sorry" in m.data for m in elaborated.messages or ()):
            return Verdict(False, "the proof uses sorry", script=script)
        text = "\n".join(m.data for m in printed.messages or ())
        axioms = parse_print_axioms(text, name)
        if axioms is None:
            return Verdict(False, f"unreadable #print axioms output: {text!r}", script=script)
        forbidden = tuple(a for a in axioms if a not in self.config.allowed_axioms)
        if forbidden:
            return Verdict(
                False,
                f"the proof depends on forbidden axioms: {', '.join(forbidden)}",
                axioms,
                forbidden,
                script,
            )
        return Verdict(True, "", axioms, (), script)

    def pickle_state(self, state: ProofState, path: str) -> None:
        """Save a proof state to ``path`` (an ``.olean``) with the REPL's ``pickleTo``."""
        node = self._node_of(state)
        repl = self._with_restart(lambda: self._realized(node))
        response = repl.pickle(path, proof_state=node.ps)
        if response.error:
            raise ProverError(f"pickling the proof state failed: {response.error}")

    def close(self) -> None:
        """Kill the REPL process and delete the pickled headers. Idempotent."""
        self._closed = True
        if self._repl is not None:
            self._repl.close()
            self._repl = None
        shutil.rmtree(self._pickles, ignore_errors=True)

    @staticmethod
    def theorem_name(theorem: Theorem) -> str:
        """The name the statement declares (falls back to ``theorem.name``)."""
        m = _NAME.match(theorem.statement)
        return m.group(1) if m else theorem.name

    def pids(self) -> list[int]:
        """Process ids of the running REPL."""
        return [self._repl.pid] if self._repl is not None and self._repl.alive else []

    # -- process -------------------------------------------------------------------------------

    @staticmethod
    def _cleanup(holder: list[object]) -> None:
        for item in holder:
            if isinstance(item, LeanRepl):
                item.close()
            elif isinstance(item, str):
                shutil.rmtree(item, ignore_errors=True)

    def _process(self) -> LeanRepl:
        if self._closed:
            raise ProverGymError("this LeanReplBackend is closed: create a new one")
        repl = self._repl
        if repl is not None and repl.alive:
            cfg = self.config
            if not due_for_recycling(
                repl,
                repl.requests,
                max_uses=cfg.recycle_requests,
                rss_mb=cfg.recycle_rss_mb,
                cpu_seconds=cfg.max_cpu_seconds,
                look_every=_RSS_EVERY,
            ):
                return repl
        self._restart(failure=repl is not None and not repl.alive)
        with spawn_limits(self._limits):
            repl = LeanRepl(
                self.config.command,
                cwd=self.project,
                timeout=self.config.timeout,
                memory_limit_mb=self.config.memory_limit_mb,
            )
        self._repl = repl
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, LeanReplBackend._cleanup, [repl, self._pickles])
        return repl

    def _restart(self, failure: bool = True) -> None:
        """Forget the process: the next call starts a new one (states replay on demand)."""
        if self._repl is not None:
            self._repl.close()
            self._repl = None
            self.restarts += int(failure)
        self._generation += 1
        self._headers = {}

    def _with_restart(self, work):  # type: ignore[no-untyped-def]
        """Run ``work``; if the process was dead or fails during it, restart and run it again.

        A second failure is raised, after the second process is reaped too (no zombie waits
        for the next call).
        """
        try:
            return work()
        except _INFRA:
            self._restart()
        try:
            return work()
        except _INFRA:
            self._restart()
            raise

    def _header_env(self, repl: LeanRepl, header: str) -> int | None:
        """The env id of ``header`` in this process (elaborated or unpickled once)."""
        if header in self._headers:
            return self._headers[header]
        env: int | None = None
        if header.strip():
            pickled = os.path.join(
                self._pickles, hashlib.sha256(header.encode()).hexdigest()[:24] + ".olean"
            )
            response = None
            if os.path.exists(pickled):
                response = repl.unpickle_env(pickled, self.config.startup_timeout)
                if response.error or response.env is None:
                    response = None
            if response is None:
                response = repl.command(header, timeout=self.config.startup_timeout)
                problem = _error_text(response)
                if problem:
                    raise TheoremError("*", f"the header does not elaborate: {problem}")
                if self.config.pickle_headers and response.env is not None:
                    with contextlib.suppress(*_INFRA):
                        repl.pickle(pickled, env=response.env)
            env = response.env
        self._headers[header] = env
        return env

    # -- states --------------------------------------------------------------------------------

    def _uid(self, theorem: Theorem, parent: _Node | None, text: str) -> int:
        h = hashlib.blake2b(digest_size=8)
        h.update(parent.uid.to_bytes(8, "little") if parent else theorem.header.encode() + b"\0")
        h.update(text.encode())
        return int.from_bytes(h.digest(), "little") & ((1 << 63) - 1)

    def _node_of(self, state: ProofState | ProofFinished) -> _Node:
        return node_of(state, self._id, _Node)

    def _open(self, node: _Node) -> ReplResponse:
        """Run ``STATEMENT := by sorry`` in a live process; set the node's proof state."""
        repl = self._process()
        theorem = node.theorem
        try:
            env = self._header_env(repl, theorem.header)
        except TheoremError as e:
            raise TheoremError(theorem.name, e.message) from None
        response = repl.command(
            f"{theorem.statement.strip()} := by sorry", env, timeout=self.config.startup_timeout
        )
        problem = _error_text(response)
        if problem or not response.sorries or response.sorries[0].proof_state is None:
            raise TheoremError(theorem.name, problem or "the statement opened no proof state")
        node.ps, node.generation = response.sorries[0].proof_state, self._generation
        return response

    def _realized(self, node: _Node) -> LeanRepl:
        """A live process in which ``node.ps`` is valid (replaying its tactics if needed)."""
        repl = self._process()
        if node.generation == self._generation:
            return repl
        chain = []
        n: _Node | None = node
        while n is not None and n.generation != self._generation:
            chain.append(n)
            n = n.parent
        for step in reversed(chain):
            if step.parent is None:
                self._open(step)
                continue
            response = repl.tactic(step.proof[-1], step.parent.ps, self.config.verify_timeout)
            if response.error or response.errors or response.proof_state is None:
                raise ProverError(
                    f"replaying a kept state failed ({_error_text(response)}); the state "
                    "cannot be restored"
                )
            step.ps, step.generation = response.proof_state, self._generation
        return self._repl or repl

    def _result(self, node: _Node, text: str, response: ReplResponse) -> TacticResult:
        if response.error == "Unknown proof state.":
            # Only possible if the process lost it: rebuild and try once more.
            node.generation = -1
            repl = self._with_restart(lambda: self._realized(node))
            response = repl.tactic(text, node.ps, self.config.timeout)
        problem = _error_text(response)
        if problem:
            return TacticError(problem)
        if response.sorries or "sorry" in (response.proof_status or ""):
            return TacticError("the tactic left a sorry: never rewarded", rejected_by_guard=True)
        if response.proof_state is None or response.goals is None:
            return TacticError(f"unexpected REPL answer: {response.to_json()!r:.300}")
        child = _Node(self._uid(node.theorem, node, text), self._id, node.theorem, node, text)
        child.ps, child.generation = response.proof_state, self._generation
        if not response.goals:
            if response.proof_status not in (None, "Completed"):
                return TacticError(f"Lean: {response.proof_status}")
            return ProofFinished(child.uid, node.theorem.name, child.proof, _handle=child)
        goals = "\n\n".join(response.goals)
        return ProofState(
            child.uid, goals, len(response.goals), node.theorem.name, child.proof, child
        )

    def _check(self, theorem: Theorem, source: str, name: str) -> tuple[ReplResponse, ReplResponse]:
        repl = self._process()
        try:
            env = self._header_env(repl, theorem.header)
        except TheoremError as e:
            raise TheoremError(theorem.name, e.message) from None
        elaborated = repl.command(source, env, timeout=self.config.verify_timeout)
        if _error_text(elaborated) or elaborated.env is None:
            return elaborated, ReplResponse()
        printed = repl.command(f"#print axioms {name}", elaborated.env)
        return elaborated, printed
