"""The Lean REPL client against real REPL transcripts (replayed), request by request."""

from __future__ import annotations

import time

import pytest
from lean_support import needs_transcripts, replay_repl, send_recorded, transcripts

from prover_env.error import ProverCrashedError, ProverTimeoutError
from prover_env.lean.repl import ReplProtocolError, ReplResponse

TRANSCRIPTS = transcripts()


@needs_transcripts
@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[t.name for t in TRANSCRIPTS])
def test_transcript_conformance(transcript) -> None:  # type: ignore[no-untyped-def]
    repl = replay_repl()
    try:
        for request, expected in zip(transcript.requests, transcript.responses, strict=True):
            response = send_recorded(repl, request)
            # every field the real REPL sent is parsed into a typed field, none dropped
            assert response.extra == {}, f"unparsed fields {sorted(response.extra)}"
            assert response.to_json() == expected
    finally:
        repl.close()


@needs_transcripts
def test_fields_are_typed() -> None:
    by_name = {t.name: t for t in TRANSCRIPTS}
    t = by_name["proof_branching"]
    repl = replay_repl()
    try:
        first = send_recorded(repl, t.requests[0])
        assert first.env == 0 and first.sorries and first.sorries[0].proof_state == 0
        assert first.sorries[0].goal.endswith("⊢ p ∧ r")
        (warning,) = first.messages or ()
        assert warning.severity == "warning" and warning.pos and warning.pos.line == 1
        assert warning.end_pos and warning.end_pos.column == 19
        second = send_recorded(repl, t.requests[1])
        assert second.proof_state == 1 and second.goals and len(second.goals) == 2
        assert second.proof_status == "Incomplete: open goals remain"
    finally:
        repl.close()


def test_every_field_round_trips() -> None:
    raw = {
        "env": 3,
        "proofState": 2,
        "goals": ["⊢ True"],
        "proofStatus": "Completed",
        "messages": [{"severity": "info", "pos": {"line": 1, "column": 0}, "data": "x"}],
        "sorries": [{"proofState": 1, "goal": "⊢ Nat"}],
        "tactics": [{"tactic": "rfl", "goals": "⊢ 1 = 1", "proofState": 4, "usedConstants": []}],
        "traces": ["trace"],
        "infotree": [{"node": {}, "kind": "TacticInfo", "children": []}],
        "message": "Unknown environment.",
    }
    response = ReplResponse.parse(raw)
    assert response.to_json() == raw and response.extra == {}
    # a field this client does not know is kept, not dropped
    assert ReplResponse.parse({"env": 1, "newField": 2}).extra == {"newField": 2}
    with pytest.raises(ReplProtocolError):
        ReplResponse.parse({"messages": [{"data": "no severity"}]})


@needs_transcripts
def test_unrecorded_request_fails_loudly() -> None:
    repl = replay_repl()
    try:
        with pytest.raises(ProverCrashedError, match="no transcript recorded"):
            repl.command("theorem never_recorded : True := trivial")
    finally:
        repl.close()


@needs_transcripts
@pytest.mark.parametrize(
    ("flag", "error"),
    [
        ("--exit-after", ProverCrashedError),
        ("--garbage-after", ReplProtocolError),
        ("--hang-after", ProverTimeoutError),
    ],
)
def test_broken_process_is_an_error_not_a_hang(flag: str, error: type) -> None:
    t = next(t for t in TRANSCRIPTS if t.name == "proof_branching")
    repl = replay_repl(flag, "1", timeout=2.0)
    try:
        send_recorded(repl, t.requests[0])
        started = time.monotonic()
        with pytest.raises(error):
            send_recorded(repl, t.requests[1])
        assert time.monotonic() - started < 2.0 + 5.0
        assert not repl.alive or flag == "--exit-after"
    finally:
        repl.close()
