"""Check that a backend keeps the :class:`~prover_env.backend.Backend` contract, on its real
prover: the counterpart of Gymnasium's ``check_env`` for people writing their own backend.

Example:
    >>> from prover_env import CoqBackend, builtin_coq_theorems     # doctest: +SKIP
    >>> from prover_env.checker import check_backend
    >>> thm = {t.name: t for t in builtin_coq_theorems()}["r_linear_system"]
    >>> check_backend(CoqBackend(), thm, ["intros x y h1 h2.", "lra."])
    ['start', 'ids', 'steps', 'rejection', 'kept state', 'branching', 'finished', 'verify', 'close']
"""

from __future__ import annotations

from collections.abc import Sequence

from prover_env.backend import Backend
from prover_env.error import BackendCheckError
from prover_env.types import ProofFinished, ProofState, TacticError, TacticResult, Theorem

__all__ = ["DEFAULT_PROBES", "check_backend"]

#: Per language: a tactic the prover must reject, and an escape ``verify`` must refuse.
DEFAULT_PROBES: dict[str, tuple[str, str]] = {
    "coq": ("exact prover_gym_no_such_lemma.", "admit."),
    "lean4": ("exact prover_gym_no_such_lemma", "sorry"),
}


def _fail(rule: str, what: str, fix: str) -> BackendCheckError:
    return BackendCheckError(f"[{rule}] {what.rstrip('. ')}. Fix: {fix}")


def _run(
    backend: Backend, state: ProofState | ProofFinished, tactic: str, rule: str
) -> TacticResult:
    try:
        return backend.run_tactic(state, tactic)
    except Exception as e:
        raise _fail(
            rule,
            f"run_tactic({tactic!r}) raised {type(e).__name__}: {e}",
            "a tactic the prover rejects is a TacticError value (state unchanged); raise only "
            "when the prover itself is broken",
        ) from e


def check_backend(
    backend: Backend,
    theorem: Theorem,
    proof: Sequence[str],
    *,
    wrong_tactic: str | None = None,
    escape: str | None = None,
    check_verify: bool = True,
    close: bool = True,
) -> list[str]:
    """Run ``backend`` through the rules every backend must keep; raise on the first broken one.

    Rules: ``start`` gives a fresh state; state ids are equal for the same tactics from the same
    theorem; each step of ``proof`` gives a state whose ``proof`` extends the last, ending in
    :class:`ProofFinished`; a wrong tactic is a :class:`TacticError` value; the state it ran
    from is unchanged and still usable; any kept state can be branched from; a finished state
    takes no more tactics; ``verify`` accepts ``proof`` and refuses it cut short or ending in an
    escape; ``close`` is idempotent and leaves no process.

    Args:
        backend: The backend to check (closed at the end unless ``close=False``).
        theorem: A theorem it can start.
        proof: A correct proof, as tactics to run one by one (at least one).
        wrong_tactic: A tactic the prover must reject at the first state (default: per
            language, :data:`DEFAULT_PROBES`).
        escape: A tactic that closes the goal without proving it (``admit.``, ``sorry``).
        check_verify: Also check ``verify`` (off where no kernel can run, e.g. replayed Lean).
        close: Also check ``close`` (twice).

    Returns:
        The names of the rules checked, in order.

    Raises:
        BackendCheckError: A rule is broken; the message says which and how to fix it.
    """
    if not proof:
        raise ValueError("check_backend needs a proof of at least one tactic")
    default_wrong, default_escape = DEFAULT_PROBES.get(theorem.language, DEFAULT_PROBES["coq"])
    wrong = wrong_tactic or default_wrong
    checked: list[str] = []

    root = backend.start(theorem)
    if not isinstance(root, ProofState) or root.num_goals < 1 or not root.goals.strip():
        raise _fail("start", f"start() returned {root!r}", "return a ProofState with its goals")
    if root.theorem != theorem.name or root.proof != ():
        raise _fail(
            "start",
            f"the first state says theorem={root.theorem!r}, proof={root.proof!r}",
            "name the theorem and start with an empty proof",
        )
    checked.append("start")

    if backend.start(theorem).id != root.id:
        raise _fail(
            "ids",
            "starting the same theorem twice gave two ids",
            "derive ids from the theorem and the tactics, not from a counter",
        )
    checked.append("ids")

    states: list[ProofState | ProofFinished] = [root]
    for i, tactic in enumerate(proof):
        state = states[-1]
        if isinstance(state, ProofFinished):
            raise _fail(
                "steps",
                f"the proof finished after {i} of {len(proof)} tactics",
                "pass a proof whose last tactic closes the last goal",
            )
        result = _run(backend, state, tactic, "steps")
        if isinstance(result, TacticError):
            raise _fail(
                "steps",
                f"the proof's tactic {tactic!r} was rejected: {result.message}",
                "pass a proof the prover accepts, one tactic per step",
            )
        if result.proof[: len(state.proof)] != state.proof or len(result.proof) <= len(state.proof):
            raise _fail(
                "steps",
                f"after {tactic!r}, proof={result.proof!r} does not extend {state.proof!r}",
                "append the step's sentences to the state's proof",
            )
        states.append(result)
    finished = states[-1]
    if not isinstance(finished, ProofFinished) or finished.num_goals != 0:
        raise _fail(
            "steps",
            f"the last step gave {type(finished).__name__}, not ProofFinished",
            "return ProofFinished when no goals remain (and pass a complete proof)",
        )
    checked.append("steps")

    error = _run(backend, root, wrong, "rejection")
    if not isinstance(error, TacticError):
        raise _fail(
            "rejection",
            f"{wrong!r} was accepted ({type(error).__name__})",
            "pass wrong_tactic= that your prover rejects",
        )
    checked.append("rejection")

    again = _run(backend, root, proof[0], "kept state")
    if isinstance(again, TacticError) or again.id != states[1].id or again.goals != states[1].goals:
        raise _fail(
            "kept state",
            "the first tactic, run again from the kept root after other "
            "steps and a rejected tactic, gave a different result",
            "run every tactic from the state passed in, never from the prover's newest "
            "state; a rejected tactic must leave the state unchanged",
        )
    checked.append("kept state")

    if len(proof) > 1:
        branch = _run(backend, states[1], proof[1], "branching")
        if isinstance(branch, TacticError) or branch.id != states[2].id:
            raise _fail(
                "branching",
                "a tactic run again from an older kept state gave a different state",
                "backtrack (or replay) to the state passed in",
            )
    checked.append("branching")

    more = _run(backend, finished, proof[-1], "finished")
    if not isinstance(more, TacticError):
        raise _fail(
            "finished",
            "a tactic ran after the proof was finished",
            "return a TacticError for any tactic from a ProofFinished state",
        )
    checked.append("finished")

    if check_verify:
        verdict = backend.verify(theorem, list(proof))
        if not verdict.ok:
            raise _fail(
                "verify",
                f"verify refused a correct proof: {verdict.message}",
                "re-check the whole proof in a fresh context; allow the axioms your "
                "standard library uses",
            )
        short = backend.verify(theorem, list(proof[:-1]))
        if short.ok:
            raise _fail(
                "verify",
                "verify accepted the proof without its last tactic",
                "require the kernel to accept a complete proof (Qed / no goals left)",
            )
        cheat = backend.verify(theorem, [*proof[:-1], escape or default_escape])
        if cheat.ok:
            raise _fail(
                "verify",
                f"verify accepted a proof ending in {escape or default_escape!r}",
                "refuse escapes (admit, sorry) and axioms outside your allowlist",
            )
        checked.append("verify")

    if close:
        backend.close()
        backend.close()
        pids = getattr(backend, "pids", None)
        if callable(pids) and pids():
            raise _fail(
                "close",
                f"processes {pids()} are alive after close()",
                "kill the whole process group in close()",
            )
        checked.append("close")
    return checked
