"""Curriculum: banding, sampling, promotion, state round trips, datasets, and ProverEnv on Coq."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from prover_env import CoqBackend, ProverEnv, Theorem, UnknownTheoremError
from prover_env.suites import builtin_coq_theorems
from training.curriculum import Curriculum, CurriculumConfig, curriculum_from_dataset
from training.dataset import TheoremRecord, write_jsonl


def make(n: int, prefix: str = "t") -> list[Theorem]:
    return [Theorem(f"{prefix}{i}", f"Theorem {prefix}{i} : {i} = {i}.") for i in range(n)]


def linear(theorems: list[Theorem]) -> dict[str, float]:
    return {t.name: float(i) for i, t in enumerate(theorems)}


def config(**kw: object) -> CurriculumConfig:
    base: dict[str, object] = {
        "bands": 3,
        "window": 4,
        "promote_at": 0.75,
        "min_episodes": 4,
        "replay": 0.0,
        "lookahead": 0.0,
        "seed": 0,
    }
    return CurriculumConfig(**{**base, **kw})  # type: ignore[arg-type]


def sizes(cur: Curriculum) -> list[int]:
    return [len(cur.band_theorems(b)) for b in range(cur.num_bands)]


# -- banding ---------------------------------------------------------------------------------


def test_bands_are_quantiles_and_keep_ties_together() -> None:
    ts = make(10)
    cur = Curriculum(ts, linear(ts), config(bands=3))
    assert cur.num_bands == 3 and sizes(cur) == [3, 4, 3]  # cuts at 3.33 -> 3 and 6.67 -> 7
    assert [t.name for t in cur.band_theorems(0)] == ["t0", "t1", "t2"]
    assert cur.band_of("t9") == 2

    ts = make(6)
    ties = dict(zip([t.name for t in ts], [1, 1, 1, 1, 2, 3], strict=True))
    cur = Curriculum(ts, ties, config(bands=3))
    assert sizes(cur) == [4, 2]  # both cuts (2 and 4) move to 4: the ones stay together
    assert {t.name for t in cur.band_theorems(0)} == {"t0", "t1", "t2", "t3"}

    # the cut at 2 moves to the nearer end of the run of 2s (1, not 4)
    ties = dict(zip([t.name for t in ts], [1, 2, 2, 2, 3, 3], strict=True))
    cur = Curriculum(ts, ties, config(bands=3))
    assert sizes(cur) == [1, 3, 2]

    # difficulty order, not input order; equal difficulties everywhere give one band
    rev = {t.name: -float(i) for i, t in enumerate(ts)}
    assert Curriculum(ts, rev, config(bands=2)).band_theorems(0)[0].name == "t5"
    assert Curriculum(ts, dict.fromkeys(rev, 0.5), config(bands=3)).num_bands == 1
    assert Curriculum(ts, rev, config(bands=1)).num_bands == 1
    assert Curriculum(ts, rev, config(bands=50)).num_bands == 6


def test_bad_inputs_are_refused() -> None:
    ts = make(3)
    with pytest.raises(ValueError, match=r"no difficulty for 1 theorem\(s\), e.g. \['t2'\]"):
        Curriculum(ts, {"t0": 1, "t1": 2})
    with pytest.raises(ValueError, match="must be finite"):
        Curriculum(ts, {"t0": 1, "t1": 2, "t2": float("nan")})
    with pytest.raises(ValueError, match=r"repeated: \['t0'\]"):
        Curriculum([*ts, ts[0]], linear(ts))
    with pytest.raises(ValueError, match="at least one theorem"):
        Curriculum([], {})
    for bad in ({"bands": 0}, {"promote_at": 1.5}, {"replay": 0.7, "lookahead": 0.5}):
        with pytest.raises(ValueError, match="CurriculumConfig"):
            config(**bad)
    cur = Curriculum(ts, linear(ts), config())
    with pytest.raises(ValueError, match="'nope' is not in this curriculum"):
        cur.update("nope", True)


# -- promotion -------------------------------------------------------------------------------


def test_promotion_happens_exactly_when_the_threshold_is_crossed() -> None:
    ts = make(9)
    cur = Curriculum(ts, linear(ts), config(window=4, promote_at=0.75, min_episodes=4))
    # outcomes of other bands never count towards band 0's promotion
    assert not cur.update("t8", True) and not cur.update("t5", True)
    for i, ok in enumerate([False, True, True]):
        assert not cur.update(f"t{i}", ok)
        assert cur.band == 0
    assert cur.update("t0", True)  # 4 episodes, 3/4 = 0.75 >= 0.75
    assert cur.band == 1

    # band 1: min_episodes counts only episodes since the band became current
    for ok in [True, True, False, False]:
        assert not cur.update("t3", ok)
    assert not cur.update("t4", True)  # window [T, F, F, T]: 0.5
    assert not cur.update("t0", True) and cur.band == 1  # replayed outcomes do not count
    assert not cur.update("t5", True)  # window [F, F, T, T]: 0.5
    assert cur.band == 1
    assert cur.update("t5", True)  # window [F, T, T, T]: 0.75
    assert cur.band == 2


def test_promotion_rate_uses_only_the_last_window() -> None:
    ts = make(4)
    cur = Curriculum(ts, linear(ts), config(bands=2, window=3, promote_at=1.0, min_episodes=2))
    for ok in [False, True]:
        assert not cur.update("t0", ok)
    assert not cur.update("t0", True)  # window [F, T, T]
    assert cur.update("t1", True)  # window [T, T, T]
    assert cur.band == 1 and not cur.completed
    assert not cur.update("t2", True)  # min_episodes 2 not yet reached
    assert cur.update("t3", True) and cur.completed and cur.band == 1
    assert not cur.update("t3", True)  # nothing after the last band
    stats = cur.stats()
    assert [s["attempts"] for s in stats] == [4, 3]
    assert [s["successes"] for s in stats] == [3, 3]
    assert stats[0]["rate"] == 0.75 and stats[0]["theorems"] == 2
    assert (stats[1]["easiest"], stats[1]["hardest"]) == (2.0, 3.0)


def test_min_episodes_zero_and_window_one() -> None:
    ts = make(2)
    cur = Curriculum(ts, linear(ts), config(bands=2, window=1, promote_at=1.0, min_episodes=0))
    assert not cur.update("t0", False)
    assert cur.update("t0", True) and cur.band == 1


# -- sampling --------------------------------------------------------------------------------


def test_samples_come_from_the_current_band() -> None:
    ts = make(9)
    cur = Curriculum(ts, linear(ts), config())
    rng = np.random.default_rng(1)
    assert {cur.band_of(cur.sample(rng).name) for _ in range(200)} == {0}
    assert {cur.sample(rng).name for _ in range(200)} == {"t0", "t1", "t2"}
    for name in ["t0", "t1", "t2", "t0"]:
        cur.update(name, True)
    assert cur.band == 1
    assert {cur.band_of(cur.sample().name) for _ in range(200)} == {1}


def test_replay_and_lookahead_fractions() -> None:
    ts = make(9)
    cur = Curriculum(ts, linear(ts), config(replay=0.3, lookahead=0.2, seed=5))
    band0 = Counter(cur.band_of(cur.sample().name) for _ in range(4000))
    # in band 0 nothing to replay: 80% current, 20% next band
    assert set(band0) == {0, 1} and 0.17 < band0[1] / 4000 < 0.23
    for _ in range(4):
        cur.update("t0", True)
    bands = Counter(cur.band_of(cur.sample().name) for _ in range(4000))
    assert 0.27 < bands[0] / 4000 < 0.33
    assert 0.17 < bands[2] / 4000 < 0.23
    assert 0.47 < bands[1] / 4000 < 0.53


def test_sampling_is_deterministic_for_a_seed() -> None:
    ts = make(12)

    def names(seed: int) -> list[str]:
        cur = Curriculum(ts, linear(ts), config(replay=0.0, seed=seed, bands=1))
        return [cur.sample().name for _ in range(30)]

    assert names(3) == names(3)
    assert names(3) != names(4)
    cur = Curriculum(ts, linear(ts), config(bands=1))
    a = [cur.sample(np.random.default_rng(9)).name for _ in range(3)]
    assert len(set(a)) == 1  # an explicit generator is used, not the curriculum's own


# -- state -----------------------------------------------------------------------------------


def played(ts: list[Theorem], **kw: object) -> Curriculum:
    cur = Curriculum(ts, linear(ts), config(replay=0.3, lookahead=0.2, **kw))
    for i in range(7):
        t = cur.sample()
        cur.update(t.name, i % 3 != 0)
    return cur


def future(cur: Curriculum, n: int = 40) -> list[tuple[str, int]]:
    out = []
    for i in range(n):
        t = cur.sample()
        cur.update(t.name, i % 4 != 0)
        out.append((t.name, cur.band))
    return out


def test_state_dict_round_trip_reproduces_future_samples(tmp_path: Path) -> None:
    ts = make(12)
    cur = played(ts)
    state = json.loads(json.dumps(cur.state_dict()))
    restored = Curriculum(ts, linear(ts), config(replay=0.3, lookahead=0.2, seed=123))
    assert future(Curriculum(ts, linear(ts), config(replay=0.3, lookahead=0.2))) != future(
        played(ts)
    )  # the played state matters
    restored.load_state_dict(state)
    assert restored.stats() == cur.stats() and restored.band == cur.band
    assert future(restored) == future(cur)

    cur = played(ts)
    cur.save(tmp_path / "cur.json")
    loaded = Curriculum.load(tmp_path / "cur.json", ts, linear(ts))
    assert loaded.config == cur.config
    assert future(loaded) == future(cur)


def test_state_from_another_theorem_set_is_refused() -> None:
    ts = make(12)
    state = played(ts).state_dict()
    others = [*make(11), Theorem("x", "Theorem x : 1 = 1.")]
    with pytest.raises(ValueError, match="different theorem set"):
        Curriculum(others, linear(others), config(replay=0.3, lookahead=0.2)).load_state_dict(state)
    changed = [*ts[:-1], Theorem("t11", "Theorem t11 : 2 = 2.")]
    with pytest.raises(ValueError, match="different theorem set"):
        Curriculum(changed, linear(changed), config(replay=0.3, lookahead=0.2)).load_state_dict(
            state
        )
    reordered = {t.name: -v for t, v in zip(ts, linear(ts).values(), strict=True)}
    with pytest.raises(ValueError, match="different theorem set"):
        Curriculum(ts, reordered, config(replay=0.3, lookahead=0.2)).load_state_dict(state)
    with pytest.raises(ValueError, match=r"another config.*window"):
        Curriculum(ts, linear(ts), config(replay=0.3, lookahead=0.2, window=9)).load_state_dict(
            state
        )


def test_malformed_state_changes_nothing() -> None:
    ts = make(12)
    good = played(ts).state_dict()
    cur = Curriculum(ts, linear(ts), config(replay=0.3, lookahead=0.2))
    before = cur.state_dict()
    for key, value in [
        ("band", 7),
        ("window", [True, 1]),
        ("successes", [99, 0, 0]),
        ("attempts", [1, 2]),
        ("rng", {"bit_generator": "MT19937"}),
        ("version", 2),
    ]:
        with pytest.raises(ValueError, match="curriculum state"):
            cur.load_state_dict({**good, key: value})
        assert cur.state_dict() == before
    with pytest.raises(ValueError, match=r"lacks \['band'\]"):
        cur.load_state_dict({k: v for k, v in good.items() if k != "band"})


# -- datasets --------------------------------------------------------------------------------


def test_curriculum_from_dataset(tmp_path: Path) -> None:
    records = [
        TheoremRecord(f"s{i}", split="train", coq=f"Theorem s{i} : {i} = {i}.", difficulty=i)
        for i in range(6)
    ]
    records += [
        TheoremRecord("h0", split="heldout", coq="Theorem h0 : 0 = 0.", difficulty=1.0),
        TheoremRecord("nodiff", split="train", coq="Theorem nodiff : 0 = 0."),
    ]
    write_jsonl(tmp_path / "theorems.jsonl", records)
    (tmp_path / "manifest.json").write_text(json.dumps({"coq_header": "Require Import Arith."}))
    with pytest.warns(UserWarning, match="1 theorem"):
        cur = curriculum_from_dataset(tmp_path, config=config(bands=2))
    assert sorted(t.name for t in cur.theorems) == [f"s{i}" for i in range(6)]
    assert {t.header for t in cur.theorems} == {"Require Import Arith."}
    assert {t.language for t in cur.theorems} == {"coq"}
    assert [t.name for t in cur.band_theorems(1)] == ["s3", "s4", "s5"]
    held = curriculum_from_dataset(tmp_path, split="heldout")
    assert [t.name for t in held.theorems] == ["h0"]
    with pytest.raises(ValueError, match=r"no theorem of split 'test'.*'heldout', 'train'"):
        curriculum_from_dataset(tmp_path, split="test")
    with pytest.raises(FileNotFoundError, match=r"theorems\.jsonl"):
        curriculum_from_dataset(tmp_path / "nowhere")


# -- ProverEnv -------------------------------------------------------------------------------

PROOFS = {
    "add_zero_r": "intros; lia.",
    "add_comm_nat": "intros; lia.",
    "double_le": "intros; lia.",
    "and_swap": "tauto.",
    "z_square_nonneg": "intros; nia.",
    "r_linear_system": "intros; lra.",
    "r_square_nonneg": "intros; nra.",
    "r_amgm_two": "intros a b; pose proof (Rle_0_sqr (a - b)); unfold Rsqr in *; nra.",
}
EASY = {"add_zero_r", "add_comm_nat", "double_le", "and_swap"}


def test_env_samples_from_the_curriculum_and_reports_outcomes(coq: CoqBackend) -> None:
    theorems = builtin_coq_theorems()
    difficulty = {t.name: 1.0 if t.name in EASY else 2.0 for t in theorems}
    cur = Curriculum(
        theorems, difficulty, config(bands=2, window=3, promote_at=1.0, min_episodes=3)
    )
    assert {t.name for t in cur.band_theorems(0)} == EASY
    env = ProverEnv(cur.theorems, backend=coq, max_steps=2, sampler=cur)
    try:
        _, info = env.reset(seed=0)
        assert info["theorem"] in EASY
        env.step("idtac.")
        *_, truncated, _ = env.step("idtac.")
        assert truncated and cur.stats()[0]["attempts"] == 1

        # picked by name: the curriculum is neither asked nor told
        env.reset(options={"theorem": "add_zero_r"})
        *_, terminated, _, _ = env.step(PROOFS["add_zero_r"])
        assert terminated and cur.stats()[0]["attempts"] == 1

        bands = []
        for _ in range(5):
            _, info = env.reset()
            bands.append(cur.band_of(info["theorem"]))
            assert cur.band_of(info["theorem"]) == cur.band
            _, reward, terminated, _, info = env.step(PROOFS[info["theorem"]])
            assert terminated and reward == 1.0
            env.undo()  # reopening a finished episode does not report it twice
            env.step(PROOFS[info["theorem"]])
        # window [F, T, T] after two proofs; the third proof promotes
        assert bands == [0, 0, 0, 1, 1]
        assert cur.stats()[0]["attempts"] == 4 and cur.stats()[1]["attempts"] == 2
    finally:
        env.close()


def test_env_with_a_plain_sampler_and_a_foreign_theorem(coq: CoqBackend) -> None:
    theorems = builtin_coq_theorems()

    class Fixed:
        def __init__(self, theorem: Theorem) -> None:
            self.theorem = theorem

        def sample(self, rng: np.random.Generator) -> Theorem:
            return self.theorem

    env = ProverEnv(theorems, backend=coq, sampler=Fixed(theorems[3]))
    try:
        for seed in range(3):
            _, info = env.reset(seed=seed)
            assert info["theorem"] == theorems[3].name
        *_, terminated, _, info = env.step(PROOFS[theorems[3].name])
        assert terminated and info["verdict"]["ok"]  # no update() to call: fine
        env.sampler = Fixed(Theorem("other", "Theorem other : 1 = 1."))
        with pytest.raises(UnknownTheoremError, match="'other', which is not one of this env"):
            env.reset()
    finally:
        env.close()
    with pytest.raises(TypeError, match="sample"):
        ProverEnv(theorems, backend=coq, sampler=object())  # type: ignore[arg-type]
