"""The Coq/Rocq backend: long-lived ``coqidetop`` processes behind the backend contract.

How it works, top to bottom:

* One :class:`_Session` per distinct header (prelude + the theorem's imports): a ``coqidetop``
  process that loaded the header once. Theorems that share a header share the process; a new
  episode backtracks (``Edit_at``) to the state after the header instead of restarting.
* Every state handed to a caller is a node in a tree (parent + the sentences that led from it).
  Coq's document is linear, so the session remembers which root-to-node path is currently in
  the document; running a tactic from another node backtracks to the longest common prefix and
  replays the rest. Nodes are owned by the :class:`~prover_env.types.ProofState` objects that
  refer to them: a state nobody holds is garbage.
* Per-tactic time limits interrupt ``coqidetop`` (SIGINT, it stays alive); a process that does
  not answer is killed and restarted, and states callers hold are replayed on the new process.
* ``verify`` re-runs the statement, the proof and ``Qed.`` on top of the header (a fresh
  context) and checks ``Print Assumptions`` against an allowlist.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import re
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

from prover_env._process import ResourceLimits, due_for_recycling, spawn_limits
from prover_env.backend import Backend, StateNode, node_of
from prover_env.coq.idetop import CoqIdeTop, Reply, find_coqidetop, richpp_text
from prover_env.coq.sentences import FORBIDDEN_TACTICS, GuardError, check_tactic, split_sentences
from prover_env.error import (
    ProverCrashedError,
    ProverError,
    ProverGymError,
    ProverTimeoutError,
    TheoremError,
)
from prover_env.types import ProofFinished, ProofState, TacticError, TacticResult, Theorem, Verdict

__all__ = [
    "DEFAULT_PRELUDE",
    "REALS_AXIOMS",
    "BackendStats",
    "CoqBackend",
    "CoqConfig",
    "parse_assumptions",
]

#: Tactic libraries MiniF2F statements do not import but proofs need (``lra``, ``field``...).
DEFAULT_PRELUDE = "From Coq Require Import Lia Lra Psatz Ring Field."

#: Axioms of Coq's Reals library (8.16) plus excluded middle: what a MiniF2F proof may use.
#: Full kernel paths; an allowlist entry may also be a dotted suffix of one
#: (``Classical_Prop.classic``), matched against the path the axiom really has.
REALS_AXIOMS: frozenset[str] = frozenset(
    {
        "Coq.Reals.ClassicalDedekindReals.sig_forall_dec",
        "Coq.Reals.ClassicalDedekindReals.sig_not_dec",
        "Coq.Logic.FunctionalExtensionality.functional_extensionality_dep",
        "Coq.Logic.Classical_Prop.classic",
    }
)

_T = TypeVar("_T")
_check_cached = functools.lru_cache(maxsize=4096)(check_tactic)  # policies repeat tactics
_RSS_EVERY = 8  # episodes between two looks at a process's memory and CPU time
_THEOREM_NAME = re.compile(
    r"^\s*(?:Theorem|Lemma|Fact|Remark|Corollary|Proposition|Property|Example)\s+([A-Za-z_][\w']*)"
)


@dataclass(frozen=True)
class CoqConfig:
    """Settings of :class:`CoqBackend`.

    Attributes:
        prelude: Sentences run before every theorem's header (tactic libraries).
        timeout: Default per-tactic time limit, seconds.
        verify_timeout: Time limit for re-checking a whole proof (and for replays), seconds.
        startup_timeout: Time limit for starting a process and loading a header, seconds.
        interrupt_grace: Seconds a process gets to answer an interrupt before it is killed.
        protocol_timeout: Time limit of protocol calls that do no proof work (parse, backtrack).
        max_tactic_chars: Longest action accepted.
        max_processes: Processes (distinct headers) kept alive at once; least recently used
            ones are closed, and their states replay on demand.
        recycle_episodes: Restart a process after this many episodes (0: never).
        recycle_rss_mb: Restart a process whose resident memory passed this (0: never).
        max_memory_mb: Address-space limit of each ``coqidetop`` (``RLIMIT_AS``, set in the
            child before ``exec``; ``None``: none). A tactic that allocates past it fails with
            ``Out of memory.`` (a tactic error) or kills the process (restarted like any
            crash). ``coqidetop`` (OCaml 4) maps little it does not use: about 0.5 GiB with the
            standard prelude, 0.6 GiB with Reals + Psatz, 0.7 GiB with Coquelicot; the default
            of 6 GiB is twice ``recycle_rss_mb``, so the limit only stops a runaway tactic.
        max_cpu_seconds: CPU time one ``coqidetop`` may use over its life (``RLIMIT_CPU``:
            ``SIGXCPU``, then ``SIGKILL``; ``None``: none). A backstop for a prover nobody
            interrupts (the per-tactic ``timeout`` is the normal limit): a process past 90% of
            it is recycled between episodes, so only a runaway one is killed (then restarted).
        allowed_axioms: Axioms a verified proof may depend on: full kernel paths
            (``Coq.Logic.Classical_Prop.classic``) or dotted suffixes of them
            (``Classical_Prop.classic``), matched against the path ``Locate`` resolves each
            printed axiom to. Axioms the theorem's header declares pass only when listed by
            their full path (``Top.NAME``).
        forbidden_tactics: Tactic names refused anywhere in an action.
        coqidetop: ``coqidetop`` executable (default: found on ``PATH``).
        args: Extra ``coqidetop`` arguments, e.g. ``("-R", "theories", "MyLib")``.
    """

    prelude: str = DEFAULT_PRELUDE
    timeout: float = 10.0
    verify_timeout: float = 120.0
    startup_timeout: float = 120.0
    interrupt_grace: float = 2.0
    protocol_timeout: float = 10.0
    max_tactic_chars: int = 16384
    max_processes: int = 2
    recycle_episodes: int = 5000
    recycle_rss_mb: int = 3072
    max_memory_mb: int | None = 6144
    max_cpu_seconds: float | None = 3600.0
    allowed_axioms: frozenset[str] = REALS_AXIOMS
    forbidden_tactics: frozenset[str] = FORBIDDEN_TACTICS
    coqidetop: str | None = None
    args: tuple[str, ...] = ()


class _Node(StateNode):
    """A state in the caller's proof tree: the sentences that lead to it from its parent."""

    __slots__ = ("braces", "proof", "sentences")

    def __init__(
        self,
        uid: int,
        backend: int,
        theorem: Theorem,
        parent: _Node | None,
        sentences: tuple[str, ...],
    ) -> None:
        super().__init__(uid, backend, theorem, parent)
        self.parent: _Node | None = parent
        self.sentences = sentences
        self.proof: tuple[str, ...] = (*parent.proof, *sentences) if parent else ()
        # Open '{' blocks: with all goals solved inside one, the proof is not finished yet.
        opened = sum(s.endswith("{") for s in sentences) - sentences.count("}")
        self.braces: int = (parent.braces if parent else 0) + (opened if parent else 0)


@dataclass
class _Session:
    """A ``coqidetop`` process with one header loaded, and the path now in its document."""

    header: tuple[str, ...]
    proc: CoqIdeTop | None = None
    header_sid: int = 0
    path: list[tuple[int, int]] = field(default_factory=list)  # (node uid, Coq state id)
    episodes: int = 0


@dataclass
class BackendStats:
    """Counters for monitoring and benchmarks."""

    processes_started: int = 0
    restarts_after_failure: int = 0
    recycles: int = 0
    backtracks: int = 0
    replayed_sentences: int = 0
    tactics: int = 0
    verifications: int = 0


def _goals_of(reply: Reply) -> tuple[str, int] | None:
    """Render a good ``Goal`` reply: (text, number of goals), or None when no proof is open."""
    goals = reply.value.find("option/goals")
    if goals is None:
        return None
    lists = goals.findall("list")
    focused = lists[0].findall("goal")
    background = [g for pair in lists[1].findall("pair") for lst in pair for g in lst]
    shelved = lists[2].findall("goal") if len(lists) > 2 else []
    given_up = lists[3].findall("goal") if len(lists) > 3 else []
    shown = focused or background or shelved or given_up
    blocks = []
    for goal in shown:
        hyps = [richpp_text(h) for h in goal.find("list") or []]
        concl = richpp_text(goal.find("richpp"))
        blocks.append("\n".join([*hyps, f"⊢ {concl}"]))
    text = "\n\n".join(blocks)
    if not focused and shown:
        kind = "unfocused" if background else "shelved" if shelved else "given-up"
        text = (
            f"(no focused goal; {len(shown)} {kind} goal(s) remain: use a bullet or '}}')\n\n"
            + text
        )
    return text, len(focused) + len(background) + len(shelved) + len(given_up)


def _printed(reply: Reply) -> str:
    """What a query printed (its messages but the info-level ones)."""
    return "\n".join(m for level, m in reply.messages if level != "info")


_LOCATED = re.compile(r"^\s*(?:Constant|Inductive|Constructor)\s+([^\s(]+)")


def _kernel_path(reply: Reply) -> str | None:
    """The full path a ``Locate Term NAME.`` reply resolves ``NAME`` to (its first entry)."""
    if not reply.ok:
        return None
    lines = _printed(reply).strip().splitlines()
    m = _LOCATED.match(lines[0]) if lines else None
    return m.group(1) if m else None


def _axiom_allowed(path: str | None, document: str, allowed: frozenset[str]) -> bool:
    """Whether the axiom at kernel ``path`` is allowed.

    An allowlist entry names a library axiom by its full path or any dotted suffix of it
    (``Classical_Prop.classic`` is ``Coq.Logic.Classical_Prop.classic``). An axiom declared
    in the proof's own ``document`` library (``Top``: the theorem's header, in any module)
    passes only when listed by its full path (``Top.my_axiom``): a header cannot pass off its
    own axiom as a library one.
    """
    if path is None:
        return False
    if path.startswith(document + "."):
        return path in allowed
    return any(path == entry or path.endswith("." + entry) for entry in allowed)


def parse_assumptions(text: str) -> tuple[list[str], list[str]]:
    """Parse ``Print Assumptions`` output.

    Args:
        text: What Coq printed.

    Returns:
        ``(axioms, other)``: names listed under ``Axioms:``, and every entry of any other
        section (section variables, unsafe fixpoints, type-in-type...), prefixed by it.
    """
    axioms: list[str] = []
    other: list[str] = []
    section = ""
    for line in text.splitlines():
        if not line.strip() or line[0].isspace():
            continue
        if line.strip() == "Closed under the global context":
            continue
        if line.rstrip().endswith(":") and " : " not in line:
            section = line.rstrip()[:-1].strip()
            continue
        name = line.split(" : ", 1)[0].strip()
        (axioms if section == "Axioms" else other).append(
            name if section == "Axioms" else f"{section or 'unknown'}: {name}"
        )
    return axioms, other


class CoqBackend(Backend):
    """Coq/Rocq through long-lived ``coqidetop`` processes.

    Args:
        config: Settings; keyword arguments override its fields (``CoqBackend(timeout=5)``).

    Example:
        >>> with CoqBackend() as coq:                                  # doctest: +SKIP
        ...     s0 = coq.start(Theorem("t", "Theorem t : forall x : nat, x + 0 = x."))
        ...     s1 = coq.run_tactic(s0, "intros x.")
        ...     done = coq.run_tactic(s1, "lia.")
        ...     coq.verify(Theorem("t", "Theorem t : forall x : nat, x + 0 = x."), done.proof)
    """

    language = "coq"
    _ids = itertools.count(1)

    def __init__(self, config: CoqConfig | None = None, **overrides: object) -> None:
        config = config or CoqConfig()
        if overrides:
            config = CoqConfig(**{**config.__dict__, **overrides})  # type: ignore[arg-type]
        config = dataclasses.replace(
            config,
            allowed_axioms=frozenset(config.allowed_axioms),
            forbidden_tactics=frozenset(config.forbidden_tactics),
            args=tuple(config.args),
        )
        self.config = config
        # Validated here: a bad limit fails when the backend is made, not at the first tactic.
        self._limits = ResourceLimits(config.max_memory_mb, config.max_cpu_seconds)
        self.executable = find_coqidetop(config.coqidetop)
        self.stats = BackendStats()
        self._id = next(self._ids)
        self._sessions: OrderedDict[tuple[str, ...], _Session] = OrderedDict()
        self._live: weakref.WeakSet[_Node] = weakref.WeakSet()
        self._header_cache: dict[str, tuple[str, ...]] = {}
        self._closed = False
        self._finalizer = weakref.finalize(self, CoqBackend._kill_all, self._sessions)

    # -- public API --------------------------------------------------------------------------

    def start(self, theorem: Theorem) -> ProofState:
        """Open ``theorem`` (reusing the process that has its header) and return its goals."""
        session = self._session(theorem)
        self._maybe_recycle(session)
        node = self._new_node(theorem, None, (theorem.statement.strip(),))

        def open_statement(proc: CoqIdeTop) -> Reply:
            if session.path and session.path[0][0] == node.uid:
                # Same theorem again: keep the statement, drop the tactics after it.
                self._rewind(session, proc, 1)
                return proc.goal(self.config.startup_timeout)
            self._rewind(session, proc, 0)
            statement = [theorem.statement.strip()]
            reply, sid = self._add_all(proc, statement, session.header_sid)
            if reply is None:
                reply = proc.goal(self.config.startup_timeout)
            if not reply.ok:
                proc.edit_at(session.header_sid)
                raise TheoremError(theorem.name, reply.error)
            session.path.append((node.uid, sid))
            return reply

        rendered = _goals_of(self._with_process(session, theorem, open_statement))
        session.episodes += 1
        if rendered is None:
            raise TheoremError(theorem.name, "the statement did not open a proof")
        return ProofState(node.uid, rendered[0], rendered[1], theorem.name, (), node)

    def run_tactic(
        self, state: ProofState | ProofFinished, tactic: str, timeout: float | None = None
    ) -> TacticResult:
        """Run ``tactic`` (one or more sentences) from any state this backend returned.

        Args:
            state: A state from :meth:`start` or an earlier :meth:`run_tactic`.
            tactic: Tactic text, e.g. ``"intros x y. lra."``; a missing final period is added.
            timeout: Seconds for the whole action (default: ``config.timeout``).
        """
        node = self._node_of(state)
        if isinstance(state, ProofFinished):
            return TacticError("the proof is already finished: no goals remain", False, True)
        try:
            check = (
                _check_cached if isinstance(tactic, str) and len(tactic) <= 512 else check_tactic
            )
            sentences = check(
                tactic,
                max_chars=self.config.max_tactic_chars,
                forbidden=self.config.forbidden_tactics,
            )
        except GuardError as e:
            return TacticError(str(e), rejected_by_guard=True)
        limit = self.config.timeout if timeout is None else timeout
        session = self._session(node.theorem)
        self.stats.tactics += 1

        def prepare(proc: CoqIdeTop) -> tuple[CoqIdeTop, int, Reply | None, int]:
            # Backtrack/replay to the state, then parse all sentences but the last (Add does
            # not execute: a process found dead or hung here is replaced, the work redone).
            base = self._goto(session, proc, node)
            return (proc, base, *self._add_all(proc, sentences[:-1], base))

        proc, base, reply, sid = self._with_process(session, node.theorem, prepare)
        try:
            if reply is None:
                # The last sentence and the execution of all, in one round trip: a crash or
                # hang from here on is this tactic's doing.
                added, reply = proc.add_goal(sentences[-1], sid, limit)
                if not added.ok:
                    reply = added
                else:
                    sid = added.state_id or sid
        except (ProverCrashedError, ProverTimeoutError) as e:
            self._drop(session, failure=True)
            return TacticError(
                f"the prover died or hung while running this tactic and was restarted: {e}",
                timeout=isinstance(e, ProverTimeoutError),
            )
        if not reply.ok:
            self._undo_to(session, proc, base)
            if reply.interrupted:
                return TacticError(f"timeout: the tactic ran past {limit:g} s", timeout=True)
            return TacticError(reply.error)
        rendered = _goals_of(reply)
        if rendered is None:  # cannot happen with the guard, but never hand out a bad state
            self._undo_to(session, proc, base)
            return TacticError("the action closed the proof document", rejected_by_guard=True)
        child = self._new_node(node.theorem, node, sentences)
        session.path.append((child.uid, sid))
        text, count = rendered
        if count == 0 and child.braces > 0:
            text = "(no goals left inside the focused block: close it with '}')"
            return ProofState(child.uid, text, 0, node.theorem.name, child.proof, child)
        if count == 0:
            return ProofFinished(child.uid, node.theorem.name, child.proof, _handle=child)
        return ProofState(child.uid, text, count, node.theorem.name, child.proof, child)

    def verify(self, theorem: Theorem, proof: str | Sequence[str]) -> Verdict:
        """Re-check ``proof`` of ``theorem`` from the header, ending in ``Qed.``.

        Passes only when every sentence is a tactic (the guard), the kernel accepts ``Qed.``,
        and ``Print Assumptions`` lists no axiom outside ``config.allowed_axioms``.
        """
        self.stats.verifications += 1
        try:
            text = proof if isinstance(proof, str) else "\n".join(proof)
            sentences = check_tactic(
                text, max_chars=1 << 24, forbidden=self.config.forbidden_tactics
            )
        except GuardError as e:
            return Verdict(False, f"not a tactic script: {e}")
        name = self.theorem_name(theorem)
        script = "\n".join(
            [*self._header(theorem), theorem.statement.strip(), "Proof.", *sentences, "Qed."]
        )
        body = [theorem.statement.strip(), "Proof.", *sentences, "Qed."]
        session = self._session(theorem)

        def check(proc: CoqIdeTop) -> tuple[Reply, dict[str, str | None]] | Verdict:
            self._rewind(session, proc, 0)
            try:
                reply, sid = self._add_all(proc, body, session.header_sid)
                if reply is None:
                    reply = proc.goal(self.config.verify_timeout)
                if not reply.ok:
                    return Verdict(False, f"Coq rejected the proof: {reply.error}", script=script)
                timeout = self.config.verify_timeout
                query = proc.query(f"Print Assumptions {name}.", sid, timeout)
                # Print Assumptions shows the shortest name that resolves to each axiom, so a
                # header's `Module Classical_Prop. Axiom classic : False.` prints as an allowed
                # name: resolve every name (and the theorem's own) to its full kernel path.
                paths: dict[str, str | None] = {}
                if query.ok:
                    for n in [*parse_assumptions(_printed(query))[0], name]:
                        paths[n] = _kernel_path(proc.query(f"Locate Term {n}.", sid, timeout))
                return query, paths
            finally:
                if proc.alive:
                    proc.edit_at(session.header_sid)

        try:
            checked = self._with_process(session, theorem, check)
        except (ProverCrashedError, ProverTimeoutError) as e:
            return Verdict(False, f"the prover failed while checking: {e}", script=script)
        if isinstance(checked, Verdict):
            return checked
        query, paths = checked
        if not query.ok:
            return Verdict(False, f"Print Assumptions failed: {query.error}", script=script)
        printed = _printed(query)
        if "Closed under the global context" not in printed and ":" not in printed:
            return Verdict(
                False, f"unreadable Print Assumptions output: {printed!r}", script=script
            )
        axioms, other = parse_assumptions(printed)
        own = paths.get(name)
        # The document's library (``Top``): every module the header opens lives under it.
        document = own.split(".", 1)[0] if own and "." in own else "Top"
        bad = [
            a
            for a in axioms
            if not _axiom_allowed(paths.get(a), document, self.config.allowed_axioms)
        ]
        forbidden = tuple(bad) + tuple(other)
        if forbidden:
            shown = [a if paths.get(a) in (None, a) else f"{a} (= {paths[a]})" for a in bad]
            return Verdict(
                False,
                f"the proof depends on forbidden assumptions: {', '.join([*shown, *other])}",
                tuple(axioms),
                forbidden,
                script,
            )
        return Verdict(True, "", tuple(axioms), (), script)

    def close(self) -> None:
        """Kill every ``coqidetop`` this backend started. Idempotent."""
        self._closed = True
        self._kill_all(self._sessions)

    @property
    def live_states(self) -> int:
        """How many states callers still hold (the rest were dropped)."""
        return len(self._live)

    def pids(self) -> list[int]:
        """Process ids of the running ``coqidetop`` processes."""
        return [s.proc.pid for s in self._sessions.values() if s.proc and s.proc.alive]

    @staticmethod
    def theorem_name(theorem: Theorem) -> str:
        """The name the statement declares (falls back to ``theorem.name``)."""
        m = _THEOREM_NAME.match(theorem.statement)
        return m.group(1) if m else theorem.name

    # -- sessions and processes ----------------------------------------------------------------

    def _header(self, theorem: Theorem) -> tuple[str, ...]:
        """Prelude + the theorem's header, as sentences (cached: called on every step)."""
        key = self._header_cache.get(theorem.header)
        if key is None:
            prelude = split_sentences(self.config.prelude)
            key = (*prelude, *split_sentences(theorem.header))
            self._header_cache[theorem.header] = key
        return key

    def _session(self, theorem: Theorem) -> _Session:
        if self._closed:
            raise ProverGymError("this CoqBackend is closed: create a new one")
        if theorem.language != "coq":
            raise ValueError(
                f"CoqBackend cannot run a {theorem.language!r} theorem ({theorem.name})"
            )
        key = self._header(theorem)
        session = self._sessions.get(key)
        if session is not None:
            self._sessions.move_to_end(key)
            return session
        while len(self._sessions) >= max(1, self.config.max_processes):
            _, old = self._sessions.popitem(last=False)
            if old.proc:
                old.proc.close()
        session = _Session(key)
        self._sessions[key] = session
        return session

    def _alive(self, session: _Session, theorem: Theorem) -> CoqIdeTop:
        """The session's process, started (and the header loaded) if needed."""
        if session.proc is not None and session.proc.alive:
            return session.proc
        if session.proc is not None:
            self._drop(session, failure=True)
        cfg = self.config
        with spawn_limits(self._limits):
            proc = CoqIdeTop(
                self.executable,
                cfg.args,
                cfg.startup_timeout,
                cfg.interrupt_grace,
                cfg.protocol_timeout,
            )
        self.stats.processes_started += 1
        try:
            reply, sid = self._add_all(proc, list(session.header), proc.root_state)
            if reply is None:
                reply = proc.goal(cfg.startup_timeout)
        except ProverError:
            proc.close()
            raise
        if not reply.ok:
            proc.close()
            del self._sessions[session.header]
            raise TheoremError(theorem.name, f"its header does not load: {reply.error}")
        session.proc, session.header_sid, session.path, session.episodes = proc, sid, [], 0
        return proc

    def _with_process(
        self, session: _Session, theorem: Theorem, work: Callable[[CoqIdeTop], _T]
    ) -> _T:
        """Run ``work`` on the session's live process. If the process is dead, or dies or hangs
        during ``work``, restart it (kept states replay on demand) and run ``work`` once more."""
        try:
            return work(self._alive(session, theorem))
        except (ProverCrashedError, ProverTimeoutError):
            self._drop(session, failure=True)
        try:
            return work(self._alive(session, theorem))
        except (ProverCrashedError, ProverTimeoutError):
            self._drop(session, failure=True)
            raise

    def _drop(self, session: _Session, failure: bool = False) -> None:
        """Kill the session's process; its states replay on the next use."""
        if session.proc is not None:
            session.proc.close()
        session.proc, session.path = None, []
        if failure:
            self.stats.restarts_after_failure += 1

    def _maybe_recycle(self, session: _Session) -> None:
        proc, cfg = session.proc, self.config
        if proc is None or not proc.alive:
            return
        if due_for_recycling(
            proc,
            session.episodes,
            max_uses=cfg.recycle_episodes,
            rss_mb=cfg.recycle_rss_mb,
            cpu_seconds=cfg.max_cpu_seconds,
            look_every=_RSS_EVERY,
        ):
            self.stats.recycles += 1
            self._drop(session)

    @staticmethod
    def _kill_all(sessions: OrderedDict[tuple[str, ...], _Session]) -> None:
        for session in sessions.values():
            if session.proc is not None:
                session.proc.close()
                session.proc = None
            session.path = []

    # -- the document: adding, backtracking, replaying -------------------------------------

    def _new_node(
        self, theorem: Theorem, parent: _Node | None, sentences: tuple[str, ...]
    ) -> _Node:
        # Ids derive from content: the same tactics from the same theorem give the same id (in
        # every run), which also lets two episodes share the document prefix they have in common.
        h = hashlib.blake2b(digest_size=8)
        if parent is None:
            h.update("\0".join((*self._header(theorem), "")).encode())
        else:
            h.update(parent.uid.to_bytes(8, "little"))
        h.update("\0".join(sentences).encode())
        uid = int.from_bytes(h.digest(), "little") & ((1 << 63) - 1)
        node = _Node(uid, self._id, theorem, parent, sentences)
        self._live.add(node)
        return node

    def _node_of(self, state: ProofState | ProofFinished) -> _Node:
        return node_of(state, self._id, _Node)

    @staticmethod
    def _add_all(proc: CoqIdeTop, sentences: Sequence[str], sid: int) -> tuple[Reply | None, int]:
        """Add sentences on top of ``sid``; returns (failed reply or None, last state id)."""
        for sentence in sentences:
            reply = proc.add(sentence, sid)
            if not reply.ok:
                return reply, sid
            new = reply.state_id
            if new is None:
                raise ProverError(f"malformed Add reply from coqidetop: {reply.value!r}")
            sid = new
        return None, sid

    def _rewind(self, session: _Session, proc: CoqIdeTop, keep: int) -> None:
        """Backtrack the document so that only the first ``keep`` path entries remain."""
        if len(session.path) > keep:
            target = session.path[keep - 1][1] if keep else session.header_sid
            reply = proc.edit_at(target)
            self.stats.backtracks += 1
            if not reply.ok:
                raise ProverCrashedError(f"coqidetop refused to backtrack: {reply.error}")
            del session.path[keep:]

    def _undo_to(self, session: _Session, proc: CoqIdeTop, sid: int) -> None:
        reply = proc.edit_at(sid)
        self.stats.backtracks += 1
        if not reply.ok:
            self._drop(session, failure=True)

    def _goto(self, session: _Session, proc: CoqIdeTop, node: _Node) -> int:
        """Make ``node`` the document's tip (backtrack + replay); returns its Coq state id."""
        if session.path and session.path[-1][0] == node.uid:
            return session.path[-1][1]  # already the tip: the common case, O(1)
        chain = cast("list[_Node]", node.chain())
        path = session.path
        keep = 0
        for (uid, _), n in zip(path, chain, strict=False):
            if uid != n.uid:
                break
            keep += 1
        if keep == len(path) == len(chain):
            return path[-1][1]
        self._rewind(session, proc, keep)
        sid = path[-1][1] if path else session.header_sid
        added: list[tuple[int, int]] = []
        reply: Reply | None = None
        for n in chain[keep:]:
            sentences = n.sentences
            reply, sid = self._add_all(proc, sentences, sid)
            if reply is not None:
                break
            self.stats.replayed_sentences += len(sentences)
            added.append((n.uid, sid))
        if reply is None and added:
            reply = proc.goal(self.config.verify_timeout)
        if reply is not None and not reply.ok:
            proc.edit_at(path[-1][1] if path else session.header_sid)
            raise ProverError(
                f"replaying a kept state failed ({reply.error}); the state cannot be restored "
                "(a tactic that succeeded once timed out or behaves nondeterministically)"
            )
        path.extend(added)
        return sid
