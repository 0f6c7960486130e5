"""``prover-gym play``: a person steps through a proof, through the same env agents use."""

from __future__ import annotations

import argparse

__all__ = ["run_play"]

_HELP = """Type a tactic (e.g. `intros x. lra.`) and press Enter.
Commands: :undo  go back one step   :proof  show the proof so far   :restart  start over
          :help  this text          :quit   leave"""


def run_play(args: argparse.Namespace) -> int:
    """Interactive loop on stdin/stdout; returns 0 when the theorem was proved."""
    from prover_env.commands.common import load_suite
    from prover_env.env import ProverEnv

    theorems = load_suite(args.file or args.suite, args.data_dir)
    env = ProverEnv(theorems, tactic_timeout=args.timeout, max_steps=10_000)
    options = {"theorem": args.theorem} if args.theorem else None
    proved = False
    try:
        obs, info = env.reset(options=options)
        print(f"theorem {info['theorem']}   (:help for commands)\n{obs}")
        while True:
            try:
                line = input("tactic> ").strip()
            except EOFError:
                break
            if not line:
                continue
            if line in (":quit", ":q"):
                break
            if line == ":help":
                print(_HELP)
                continue
            if line == ":proof":
                print(" ".join(env.state.proof) if env.state else "")
                continue
            if line == ":restart":
                obs, info = env.reset(options={"theorem": info["theorem"]})
                print(obs)
                continue
            if line == ":undo":
                print(env.undo() if env.can_undo() else "nothing to undo")
                continue
            obs, reward, terminated, truncated, info = env.step(line)
            if info["error"]:
                print(f"error: {info['error']}")
                continue
            if terminated:
                verdict = info["verdict"]
                if verdict["ok"]:
                    proved = True
                    print(
                        f"Proved! reward {reward:g}. Kernel-checked proof:\n  "
                        + "\n  ".join(info["proof"])
                    )
                else:
                    print(f"No goals left, but the proof is NOT accepted: {verdict['message']}")
                break
            print(obs)
            if truncated:
                print("step limit reached")
                break
    finally:
        env.close()
    return 0 if proved else 1
