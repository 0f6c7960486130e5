"""PPO through RLlib on the tokenized Coq env, with the LLM RLModule (new API stack).

Usage: python examples/rllib_ppo.py [--iterations 1] [--model tiny|PATH]
"""

import argparse

import ray

from training.rllib_env import register_rllib_env
from training.rllib_module import build_ppo_config

parser = argparse.ArgumentParser()
parser.add_argument("--iterations", type=int, default=1)
parser.add_argument("--model", default="tiny", help="tiny or an SFT checkpoint folder")
args = parser.parse_args()

ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1")
name = register_rllib_env()
env_config = {
    "theorems": "builtin",
    "max_steps": 2,
    "max_prompt_tokens": 96,
    "max_action_tokens": 8,
    "tactic_timeout": 2.0,
}
config = build_ppo_config(
    env_config, args.model, env_name=name, num_env_runners=1, train_batch_size=16, minibatch_size=8
)
algo = config.build_algo()
for i in range(args.iterations):
    result = algo.train()
    runners = result["env_runners"]
    print(
        f"iteration {i + 1}: {runners['num_env_steps_sampled']} env steps, "
        f"mean return {runners.get('episode_return_mean')}"
    )
algo.stop()
ray.shutdown()
