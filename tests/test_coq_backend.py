"""CoqBackend against a real coqidetop: states, branching, errors, timeouts, recovery, verify."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time

import pytest
from conftest import LINEAR, coqidetop_pids

from prover_env import (
    CoqBackend,
    ProofFinished,
    ProofState,
    TacticError,
    Theorem,
    TheoremError,
)
from prover_env.coq.backend import parse_assumptions


def test_start_renders_goals_and_hypotheses(coq: CoqBackend) -> None:
    s0 = coq.start(LINEAR)
    assert isinstance(s0, ProofState)
    assert s0.goals == "⊢ forall x y : R, x + y = 2 -> x - y = 0 -> x = 1"
    s1 = coq.run_tactic(s0, "intros x y h1 h2.")
    assert isinstance(s1, ProofState)
    assert s1.goals.splitlines() == ["x, y : R", "h1 : x + y = 2", "h2 : x - y = 0", "⊢ x = 1"]
    assert s1.num_goals == 1 and s1.proof == ("intros x y h1 h2.",)


def test_tactic_error_is_a_value_and_leaves_state_usable(coq: CoqBackend) -> None:
    s1 = coq.run_tactic(coq.start(LINEAR), "intros x y h1 h2.")
    err = coq.run_tactic(s1, "lia.")
    assert isinstance(err, TacticError) and not err.timeout and "witness" in err.message
    done = coq.run_tactic(s1, "lra.")
    assert isinstance(done, ProofFinished) and done.proof == ("intros x y h1 h2.", "lra.")


def test_multi_sentence_action_and_bullets(coq: CoqBackend) -> None:
    t = Theorem("conj", "Theorem conj : True /\\ (1 = 1)%nat.")
    s0 = coq.start(t)
    half = coq.run_tactic(s0, "split. - exact I.")
    assert isinstance(half, ProofState) and half.num_goals == 1
    assert "no focused goal" in half.goals  # the bullet left the second goal unfocused
    done = coq.run_tactic(half, "- reflexivity.")
    assert isinstance(done, ProofFinished)
    assert coq.verify(t, done.proof).ok


def test_branching_from_any_kept_state(coq: CoqBackend) -> None:
    s0 = coq.start(LINEAR)
    s1 = coq.run_tactic(s0, "intros x y h1 h2.")
    s2 = coq.run_tactic(s1, "assert (h3 : 2 * x = 2) by lra.")
    assert isinstance(s2, ProofState)
    # Go back to the root and take another branch, then come back to the deeper state.
    other = coq.run_tactic(s0, "intros a b.")
    assert isinstance(other, ProofState) and other.goals.startswith("a, b : R")
    done = coq.run_tactic(s2, "lra.")
    assert isinstance(done, ProofFinished)
    assert done.proof == ("intros x y h1 h2.", "assert (h3 : 2 * x = 2) by lra.", "lra.")
    again = coq.run_tactic(other, "intros h1 h2. lra.")
    assert isinstance(again, ProofFinished)
    assert coq.stats.replayed_sentences >= 2


def test_state_ids_are_content_derived(coq: CoqBackend) -> None:
    a = coq.run_tactic(coq.start(LINEAR), "intros x y h1 h2.")
    b = coq.run_tactic(coq.start(LINEAR), "intros x y h1 h2.")
    c = coq.run_tactic(coq.start(LINEAR), "intros x y.")
    assert isinstance(a, ProofState) and isinstance(b, ProofState) and isinstance(c, ProofState)
    assert a.id == b.id and a == b and hash(a) == hash(b)
    assert a.id != c.id


def test_timeout_interrupts_and_keeps_process(coq: CoqBackend) -> None:
    t = Theorem("loop", "Theorem loop : True.")
    s0 = coq.start(t)
    pids = coq.pids()
    started = time.monotonic()
    err = coq.run_tactic(s0, "repeat (assert True by trivial).", timeout=1.0)
    assert time.monotonic() - started < 1.0 + 5.0
    assert isinstance(err, TacticError) and err.timeout
    assert coq.pids() == pids  # interrupted, not killed
    assert isinstance(coq.run_tactic(s0, "exact I."), ProofFinished)


def test_sigkill_mid_episode_restarts_and_replays() -> None:
    with CoqBackend() as coq:
        s1 = coq.run_tactic(coq.start(LINEAR), "intros x y h1 h2.")
        (pid,) = coq.pids()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        done = coq.run_tactic(s1, "lra.")
        assert isinstance(done, ProofFinished)
        assert coq.pids() and coq.pids() != [pid]
        assert coq.stats.restarts_after_failure == 1
        assert coq.verify(LINEAR, done.proof).ok


def test_process_that_does_not_answer_is_killed_and_replaced() -> None:
    with CoqBackend(protocol_timeout=1.0, interrupt_grace=0.5) as coq:
        s1 = coq.run_tactic(coq.start(LINEAR), "intros x y h1 h2.")
        (pid,) = coq.pids()
        os.kill(pid, signal.SIGSTOP)  # hung: it cannot even take the interrupt
        started = time.monotonic()
        err = coq.run_tactic(s1, "lra.", timeout=1.0)
        assert time.monotonic() - started < 1.0 + 0.5 + 5.0
        assert isinstance(err, TacticError) and err.timeout and "restarted" in err.message
        assert pid not in coq.pids() and coq.stats.restarts_after_failure == 1
        done = coq.run_tactic(s1, "lra.")  # a new process, the state replayed
        assert isinstance(done, ProofFinished)


def test_tactic_that_hangs_the_prover_is_a_timeout_error() -> None:
    with CoqBackend(interrupt_grace=0.5) as coq:
        s0 = coq.start(Theorem("h", "Theorem h : True."))
        (pid,) = coq.pids()
        # stop the process shortly after the tactic starts: it can take no interrupt
        stopper = threading.Timer(0.2, os.kill, (pid, signal.SIGSTOP))
        stopper.start()
        err = coq.run_tactic(s0, "repeat (assert True by trivial).", timeout=1.0)
        stopper.join()
        assert isinstance(err, TacticError) and err.timeout and "restarted" in err.message
        assert pid not in coq.pids()
        assert isinstance(coq.run_tactic(s0, "exact I."), ProofFinished)


def test_recycling_after_episode_count_is_invisible_to_callers() -> None:
    with CoqBackend(recycle_episodes=2) as coq:
        kept = coq.run_tactic(coq.start(LINEAR), "intros x y h1 h2.")
        first_pids = coq.pids()
        for _ in range(3):
            coq.start(LINEAR)
        assert coq.stats.recycles >= 1 and coq.pids() != first_pids
        assert isinstance(coq.run_tactic(kept, "lra."), ProofFinished)


def test_recycling_past_memory_limit() -> None:
    with CoqBackend(recycle_rss_mb=1) as coq:  # every process is over 1 MiB
        kept = coq.run_tactic(coq.start(LINEAR), "intros x y h1 h2.")
        for _ in range(16):  # memory is looked at every 8 episodes
            coq.start(LINEAR)
        assert coq.stats.recycles == 2 and coq.stats.restarts_after_failure == 0
        assert isinstance(coq.run_tactic(kept, "lra."), ProofFinished)


def test_one_process_per_header_lru_and_replay_after_eviction() -> None:
    other = Theorem(
        "nat_t", "Theorem nat_t : forall n : nat, n + 0 = n.", header="Require Import Arith."
    )
    third = Theorem("z_t", "Theorem z_t : (1 + 1 = 2)%Z.", header="Require Import ZArith.")
    with CoqBackend(max_processes=2) as coq:
        kept = coq.run_tactic(coq.start(LINEAR), "intros x y h1 h2.")
        coq.start(LINEAR)  # same header: same process
        assert len(coq.pids()) == 1
        coq.start(other)
        assert len(coq.pids()) == 2
        coq.start(third)  # evicts LINEAR's process
        assert len(coq.pids()) == 2
        assert isinstance(coq.run_tactic(kept, "lra."), ProofFinished)  # replayed on a new one
        assert len(coq.pids()) == 2


def test_states_nobody_holds_are_dropped(coq: CoqBackend) -> None:
    gc.collect()
    before = coq.live_states
    s0 = coq.start(LINEAR)
    states = [coq.run_tactic(s0, f"assert (h{i} : 1 = 1) by reflexivity.") for i in range(20)]
    assert coq.live_states >= before + 21
    del states, s0
    gc.collect()
    assert coq.live_states <= before


def test_verify_accepts_reals_axioms_only(coq: CoqBackend) -> None:
    verdict = coq.verify(LINEAR, ["intros x y h1 h2.", "lra."])
    assert verdict.ok, verdict.message
    assert "ClassicalDedekindReals.sig_forall_dec" in verdict.axioms
    assert verdict.script.endswith("Qed.")
    cheat = Theorem("cheat_t", "Theorem cheat_t : 1 = 2.", header="Axiom cheat : False.")
    s = coq.run_tactic(coq.start(cheat), "destruct cheat.")
    assert isinstance(s, ProofFinished)  # the goals close...
    bad = coq.verify(cheat, s.proof)  # ...but the proof rests on a forbidden axiom
    assert not bad.ok and bad.forbidden == ("cheat",)


def test_verify_rejects_incomplete_and_vernacular(coq: CoqBackend) -> None:
    assert not coq.verify(LINEAR, ["intros."]).ok
    assert "vernacular" in coq.verify(LINEAR, "intros. Admitted.").message
    assert not coq.verify(LINEAR, "intros x y h1 h2. lia.").ok


def test_unusable_statement_is_a_theorem_error(coq: CoqBackend) -> None:
    with pytest.raises(TheoremError, match="reference R was not found"):
        coq.start(Theorem("bad", "Theorem bad : forall x : R, x = x."))
    with pytest.raises(TheoremError, match="header does not load"):
        coq.start(Theorem("bad2", "Theorem bad2 : True.", header="Require Import NoSuchLib."))
    # the backend keeps working afterwards
    assert isinstance(coq.start(LINEAR), ProofState)


def test_states_from_another_backend_are_refused(coq: CoqBackend) -> None:
    with CoqBackend() as other:
        foreign = other.start(LINEAR)
        with pytest.raises(ValueError, match="not made by this backend"):
            coq.run_tactic(foreign, "intros.")


def test_close_kills_every_process() -> None:
    before = set(coqidetop_pids())
    coq = CoqBackend(max_processes=3)
    coq.start(LINEAR)
    coq.start(Theorem("u", "Theorem u : True."))
    mine = set(coq.pids())
    assert len(mine) == 2 and mine <= set(coqidetop_pids())
    coq.close()
    coq.close()  # idempotent
    assert set(coqidetop_pids()) - before == set()
    with pytest.raises(Exception, match="closed"):
        coq.start(LINEAR)


def test_garbage_collected_backend_kills_its_processes() -> None:
    before = set(coqidetop_pids())
    coq = CoqBackend()
    coq.start(LINEAR)
    assert set(coqidetop_pids()) - before
    del coq
    gc.collect()
    assert set(coqidetop_pids()) - before == set()


def test_parse_assumptions() -> None:
    text = "Axioms:\nfoo : False\nbar.baz\n  : forall x, x\nSection Variables:\nv : nat"
    assert parse_assumptions(text) == (["foo", "bar.baz"], ["Section Variables: v"])
    assert parse_assumptions("Closed under the global context") == ([], [])


@pytest.mark.parametrize("text", ["\uffff", "a\x01b", "\ufffe"])
def test_characters_xml_forbids_in_coq_output_stay_readable(text: str) -> None:
    """Coq prints such characters verbatim, which makes its reply invalid XML; the client turns
    them into U+FFFD instead of failing to read the reply (the guard keeps them out of actions,
    so this drives coqidetop directly)."""
    from prover_env.coq.idetop import CoqIdeTop, find_coqidetop

    proc = CoqIdeTop(find_coqidetop())
    try:
        sid = proc.add("Goal True.", proc.root_state).state_id
        assert sid is not None
        added, goal = proc.add_goal(f'idtac "{text}".', sid, 5.0)
        assert added.ok and goal.ok
        assert [m for _, m in goal.messages + added.messages] == [
            text.replace("\uffff", "\ufffd").replace("\x01", "\ufffd").replace("\ufffe", "\ufffd")
        ]
        assert "True" in goal.value.findtext(".//richpp/_/pp/constr.variable", "")
    finally:
        proc.kill()
