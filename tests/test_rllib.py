"""RLlib integration: tokenized/candidate wrappers on real Coq, the compact token distribution,
and one PPO iteration of the LLM RLModule on a local Ray cluster."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("ray.rllib")

import gymnasium as gym
import torch
from conftest import coqidetop_pids
from gymnasium.utils.env_checker import check_env
from ray.rllib.core.columns import Columns

from training.rllib_env import (
    CandidateProverEnv,
    PromptCodec,
    TokenizedProverEnv,
    env_creator,
    load_tokenizer,
)
from training.rllib_module import LLMPolicyModule, SampledTokensDistribution, build_ppo_config

SMALL = {"max_prompt_tokens": 96, "max_action_tokens": 16, "tactic_timeout": 5.0}
GOALS = [
    "x, y : R\nh1 : x + y = 2\n⊢ x = 1",
    "⊢ forall n : nat, n + 0 = n",
    "P, Q : Prop\n⊢ P /\\ Q -> Q /\\ P",
    "",  # the terminal state: no goals
]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> None:
    torch.set_num_threads(1)  # the provers need the other core


def _leaf_spaces(space: gym.Space) -> list[gym.Space]:
    if isinstance(space, gym.spaces.Dict):
        return [leaf for sub in space.spaces.values() for leaf in _leaf_spaces(sub)]
    return [space]


@pytest.mark.parametrize("wrapper", ["tokens", "candidates"])
def test_spaces_are_rllib_acceptable_and_pass_check_env(wrapper: str) -> None:
    env = env_creator({**SMALL, "wrapper": wrapper, "agent": "steps", "seed": 3})
    try:
        for leaf in _leaf_spaces(env.observation_space):
            assert isinstance(leaf, gym.spaces.Box)  # no Text anywhere
            assert np.issubdtype(leaf.dtype, np.number) and leaf.is_bounded()
        kind = gym.spaces.MultiDiscrete if wrapper == "tokens" else gym.spaces.Discrete
        assert isinstance(env.action_space, kind)
        gym.vector.utils.batch_space(env.observation_space, 2)  # RLlib vectorizes envs
        assert env.unwrapped.spec.nondeterministic  # time limits: outcomes may vary
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "wrapped env" and int64 bounds notices
            check_env(env, skip_render_check=True)
        obs, _ = env.reset(options={"theorem": "r_linear_system"})
        assert env.observation_space.contains(obs)
    finally:
        env.close()


def test_multidiscrete_action_spelling_a_tactic_makes_a_real_coq_step() -> None:
    env = env_creator({**SMALL, "max_steps": 3})
    assert isinstance(env, TokenizedProverEnv)
    try:
        obs, info = env.reset(options={"theorem": "add_zero_r"})
        prompt = env.codec.tokenizer.decode(obs["input_ids"][obs["attention_mask"] == 1])
        assert prompt.startswith("[GOALS]\n") and prompt.endswith("[PROOFSTEP]\n")
        action = env.codec.encode_tactic("intros. lia.")
        eos = int(np.flatnonzero(action == env.codec.eos_id)[0])
        action[eos + 1 :] = env.codec.tokenizer("zzz garbage")["input_ids"][: 16 - eos - 1]
        assert env.action_space.contains(action)
        obs, reward, terminated, truncated, info = env.step(action)
        assert info["tactic"] == "intros. lia."  # tokens after EOS are not part of the tactic
        assert reward == 1.0 and terminated and not truncated and info["verdict"]["ok"]
        assert env.observation_space.contains(obs)  # terminal obs: the prompt, no goals
        json.dumps(info)  # infos stay JSON-friendly
        env.reset(options={"theorem": "add_zero_r"})
        _, reward, terminated, _, info = env.step(env.codec.encode_tactic("split."))
        assert reward == 0.0 and not terminated and info["error"]  # rejected, reported
        with pytest.raises(ValueError, match="token ids"):
            env.step(np.zeros(3, dtype=np.int64))
    finally:
        env.close()


def test_masked_candidate_is_refused_without_a_prover_call() -> None:
    env = env_creator({**SMALL, "wrapper": "candidates", "agent": "steps", "num_candidates": 4})
    assert isinstance(env, CandidateProverEnv)
    try:
        obs, info = env.reset(options={"theorem": "r_linear_system"})
        assert info["candidates"] == ["intros."]  # a forall goal: StepAgent only introduces
        assert obs["action_mask"].tolist() == [1.0, 0.0, 0.0, 0.0]
        backend = env.unwrapped.backend
        calls = backend.stats.tactics
        obs2, reward, terminated, truncated, info = env.step(2)
        assert backend.stats.tactics == calls  # no prover call
        assert "masked" in info["error"] and info["masked_action"] and info["steps"] == 1
        assert reward == 0.0 and not terminated and not truncated
        assert all(np.array_equal(obs[k], obs2[k]) for k in obs)
        obs, _, _, _, info = env.step(0)
        assert info["error"] is None and info["tactic"] == "intros." and info["steps"] == 2
        assert len(info["candidates"]) == 4 and obs["action_mask"].tolist() == [1.0] * 4
        first = env.codec.decode_action(obs["candidate_ids"][0])
        assert first == info["candidates"][0] and env.observation_space.contains(obs)
        with pytest.raises(ValueError, match=r"index in \[0, 4\)"):
            env.step(7)
    finally:
        env.close()


def test_masked_choices_count_towards_truncation() -> None:
    env = env_creator({**SMALL, "wrapper": "candidates", "agent": "steps", "max_steps": 2})
    try:
        env.reset(options={"theorem": "r_linear_system"})
        assert not env.step(5)[3]
        *_, truncated, info = env.step(5)
        assert truncated and info["steps"] == 2
        with pytest.raises(gym.error.ResetNeeded):
            env.step(0)
    finally:
        env.close()


def test_env_config_errors_name_the_fix(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"unknown env_config keys.*max_prompt_tokens"):
        env_creator({"max_prompt_len": 10})
    with pytest.raises(ValueError, match="wrap one source in a list"):
        env_creator({"theorems": "Theorem t : True."})
    with pytest.raises(ValueError, match="'tokens' or 'candidates'"):
        env_creator({"wrapper": "text"})
    with pytest.raises(ValueError, match="'wrapper'"):
        build_ppo_config({"wrapper": "candidates"})
    env = env_creator({**SMALL, "theorems": ["Theorem t : True."]})
    assert [t.name for t in env.unwrapped.theorems] == ["t"]
    env.close()
    rows = [("a", "train"), ("b", "heldout")]
    (tmp_path / "theorems.jsonl").write_text(
        "".join(
            json.dumps({"name": n, "coq": f"Theorem {n} : True.", "split": s}) + "\n"
            for n, s in rows
        )
    )
    env = env_creator({"theorems": {"synth": str(tmp_path), "split": "train"}})
    assert [t.name for t in env.unwrapped.theorems] == ["a"]
    env.close()
    with pytest.raises(ValueError, match="pick another split"):
        env_creator({"theorems": {"synth": str(tmp_path), "split": "valid"}})


def test_prompt_is_cut_from_the_left() -> None:
    codec = PromptCodec(load_tokenizer("tiny"), 24, 4)
    enc = codec.encode_prompt("h : " + "x" * 100 + "\n⊢ True")
    assert enc["attention_mask"].all()
    assert codec.tokenizer.decode(enc["input_ids"]).endswith("⊢ True\n[PROOFSTEP]\n")
    assert codec.decode_action(codec.encode_tactic("a very long tactic indeed")) == "a ve"


# -- the LLM module and its compact distribution ----------------------------------------------


@pytest.fixture(scope="module")
def module() -> tuple[LLMPolicyModule, dict[str, torch.Tensor], PromptCodec]:
    codec = PromptCodec(load_tokenizer("tiny"), 96, 12)
    obs_space = gym.spaces.Dict(codec.prompt_spaces())
    act_space = gym.spaces.MultiDiscrete(np.full(12, codec.vocab_size))
    m = LLMPolicyModule(
        observation_space=obs_space, action_space=act_space, model_config={"temperature": 0.7}
    )
    enc = [codec.encode_prompt(g) for g in GOALS]
    obs = {k: torch.tensor(np.stack([e[k] for e in enc])) for k in enc[0]}
    return m, obs, codec


def test_sampled_log_probs_equal_teacher_forced_ones(module) -> None:
    m, obs, codec = module
    torch.manual_seed(0)
    out = m.forward_exploration({Columns.OBS: obs})
    actions = out[Columns.ACTIONS]
    assert actions.shape == (4, 12) and int(actions.max()) < codec.vocab_size
    for row in actions.tolist():  # pad is never sampled: it only fills after EOS
        end = row.index(codec.eos_id) if codec.eos_id in row else len(row)
        assert codec.pad_id not in row[:end] and set(row[end + 1 :]) <= {codec.pad_id}
    assert out[Columns.ACTION_DIST_INPUTS].shape == (4, 24)  # 2 * A floats, not A x V
    train = m.forward_train({Columns.OBS: obs, Columns.ACTIONS: actions})
    dist = SampledTokensDistribution.from_logits(train[Columns.ACTION_DIST_INPUTS])
    old = SampledTokensDistribution.from_logits(out[Columns.ACTION_DIST_INPUTS])
    assert torch.allclose(dist.logp(actions), out[Columns.ACTION_LOGP], atol=1e-4)
    assert torch.allclose(dist.entropy(), old.entropy(), atol=1e-4)
    assert float(old.kl(dist).detach().abs().max()) < 1e-4  # same weights: the PPO ratio is 1
    assert bool((dist.entropy() > 0).all())
    values = m.compute_values({Columns.OBS: obs})
    assert torch.allclose(values, m.compute_values({}, train[Columns.EMBEDDINGS]), atol=1e-5)
    with pytest.raises(NotImplementedError, match="cannot sample"):
        dist.sample()


def test_tokens_after_eos_carry_no_probability(module) -> None:
    m, obs, codec = module
    actions = torch.randint(4, codec.vocab_size, (4, 12))
    actions[:, 3] = codec.eos_id
    other = actions.clone()
    other[:, 4:] = torch.randint(4, codec.vocab_size, (4, 8))
    a = m.forward_train({Columns.OBS: obs, Columns.ACTIONS: actions})[Columns.ACTION_DIST_INPUTS]
    b = m.forward_train({Columns.OBS: obs, Columns.ACTIONS: other})[Columns.ACTION_DIST_INPUTS]
    assert bool((a[:, 4:12] == 0).all()) and bool((a[:, 16:] == 0).all())  # logp, entropy
    assert bool((a[:, :4] < 0).all()) and torch.allclose(a, b, atol=1e-5)
    greedy = m.forward_inference({Columns.OBS: obs})[Columns.ACTIONS]
    assert torch.equal(greedy, m.forward_inference({Columns.OBS: obs})[Columns.ACTIONS])
    for row in greedy.tolist():  # padding after the first EOS, as the env expects
        if codec.eos_id in row:
            assert set(row[row.index(codec.eos_id) + 1 :]) <= {codec.pad_id}


def test_module_saves_and_loads_hugging_face_checkpoints(module, tmp_path) -> None:
    from agents.llm import LLMPolicy

    m, obs, codec = module
    m.save_pretrained(tmp_path)
    assert LLMPolicy(str(tmp_path), max_new_tokens=4).propose_batch([], 2) == []
    again = LLMPolicyModule(
        observation_space=m.observation_space,
        action_space=m.action_space,
        model_config={"model": str(tmp_path), "temperature": 0.7},
    )
    actions = torch.randint(4, codec.vocab_size, (4, 12))
    batch = {Columns.OBS: obs, Columns.ACTIONS: actions}
    a = m.forward_train(batch)[Columns.ACTION_DIST_INPUTS]
    assert torch.allclose(a, again.forward_train(batch)[Columns.ACTION_DIST_INPUTS], atol=1e-5)


# -- one PPO iteration through RLlib ------------------------------------------------------------


def test_one_ppo_iteration_on_real_coq_then_no_prover_left() -> None:
    import ray

    before = set(coqidetop_pids())
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=200 * 2**20,
        log_to_driver=False,
    )
    algo = None
    try:
        env_config = {**SMALL, "max_action_tokens": 8, "max_steps": 2, "step_penalty": 0.01}
        config = build_ppo_config(
            {**env_config, "seed": 0},
            num_env_runners=1,
            train_batch_size=16,
            minibatch_size=8,
            seed=0,
        )
        assert not config.restart_failed_env_runners
        algo = config.build_algo()
        result = algo.train()
        sampled = result["env_runners"]["num_env_steps_sampled"]
        learner = result["learners"]["default_policy"]
        assert sampled >= 16
        # DropMaskedRows: PPO's bootstrap rows were not trained on.
        assert learner["num_module_steps_trained"] == sampled
        for key in ("total_loss", "policy_loss", "vf_loss", "entropy"):
            assert math.isfinite(float(learner[key])), (key, learner[key])
        assert float(learner["gradients_default_optimizer_global_norm"]) > 0
        provers = set(coqidetop_pids()) - before
        assert provers  # the env runner's Coq process
    finally:
        if algo is not None:
            algo.stop()
        ray.shutdown()
    assert not [p for p in provers if _running(p)], "coqidetop outlived algo.stop()"


def _running(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
