"""``prover-gym demo``: the whole recipe on a small budget (synth -> SFT -> RL -> eval), or with
``--env`` a real Coq session through the Gymnasium env, printed step by step."""

from __future__ import annotations

import argparse
import statistics
import time

__all__ = ["run_demo", "run_env_demo"]

#: Actions the demo tries in order, after ``intros``: Coq's decision procedures.
DEMO_TACTICS = ("lia.", "lra.", "nia.", "nra.", "ring.", "field.", "tauto.", "auto.", "firstorder.")


def run_demo(args: argparse.Namespace) -> int:
    """The pipeline demo, or the env walk-through with ``--env``."""
    if args.env:
        return run_env_demo(args)
    from training.pipeline import PipelineConfig, run_pipeline

    config = PipelineConfig(
        out=args.out,
        n=args.n,
        sft_steps=args.sft_steps,
        rl_algo=args.algo,
        rl_iterations=args.rl_iterations,
        heldout=args.heldout,
        eval_attempts=args.eval_attempts,
        workers=args.workers,
    )
    print(
        "prover-gym demo: synthetic theorems traced on Coq -> SFT of a tiny LM -> RL from "
        f"prover feedback on Ray -> held-out evaluation, in {args.out} (reruns resume)"
    )
    started = time.perf_counter()
    report = run_pipeline(config)
    out = args.out
    print(
        f"\ndone in {time.perf_counter() - started:.0f} s. Results: {out}/summary.json; "
        f"plots: {out}/sft/loss.png, {out}/rl/training.png, {out}/eval-rl/pass_vs_budget.png; "
        f"report: {report['eval_rl']['report']}"
    )
    return 0


def run_env_demo(args: argparse.Namespace) -> int:
    """Prove theorems through ``ProverEnv`` with decision procedures as actions."""
    import gymnasium as gym
    from tqdm import tqdm

    import prover_env  # noqa: F401  (registers the envs)
    from prover_env.commands.common import load_suite

    theorems = load_suite(args.suite, args.data_dir)[: max(1, args.limit)]
    print(
        f"prover-gym demo: {len(theorems)} theorem(s) from {args.suite!r}, Coq backend "
        f"(coqidetop), {args.timeout:g} s per tactic"
    )
    t0 = time.perf_counter()
    env = gym.make(
        "ProverEnv/Coq-v0",
        theorems=theorems,
        tactic_timeout=args.timeout,
        max_steps=len(DEMO_TACTICS) + 2,
    )
    proved, step_times, reset_times = 0, [], []
    try:
        bar = tqdm(theorems, desc="theorems", unit="thm", disable=not args.quiet)
        for theorem in bar:
            t = time.perf_counter()
            obs, info = env.reset(options={"theorem": theorem.name})
            reset_times.append(time.perf_counter() - t)
            if not args.quiet:
                print(f"\n== {theorem.name}\n{_indent(obs)}")
            verdict = None
            for action in ("intros.", *DEMO_TACTICS):
                obs, reward, terminated, truncated, info = env.step(action)
                if info.get("verdict") is None:
                    step_times.append(info["elapsed"])
                if not args.quiet:
                    outcome = (
                        f"error: {_first_line(info['error'])}"
                        if info["error"]
                        else f"{info['num_goals']} goal(s) left"
                    )
                    checked = ", incl. the kernel check" if info.get("verdict") else ""
                    print(f"  > {action:<12} {outcome}  ({info['elapsed'] * 1000:.1f} ms{checked})")
                if terminated or truncated:
                    verdict = info.get("verdict")
                    break
            if verdict and verdict["ok"]:
                proved += 1
            if args.quiet:
                bar.set_postfix(proved=proved)
            else:
                if verdict is None:
                    print("  not proved by these tactics")
                elif verdict["ok"]:
                    print(
                        f"  proved, reward {reward:g}; kernel-checked with Qed; axioms: "
                        f"{', '.join(verdict['axioms']) or 'none'}"
                    )
                    print(f"  proof: {' '.join(info['proof'])}")
                else:
                    print(f"  goals closed but NOT accepted: {verdict['message']}")
        if not args.quiet:
            # Show the guard: an agent cannot claim a proof with a vernacular command.
            env.reset(options={"theorem": theorems[0].name})
            _, reward, _, _, info = env.step("Admitted.")
            print(
                f"\n== guard check on {theorems[0].name}\n  > Admitted.    rejected "
                f"(reward {reward:g}): {_first_line(info['error'])}"
            )
    finally:
        env.close()
    print(
        f"\nproved {proved}/{len(theorems)} in {time.perf_counter() - t0:.1f} s; "
        f"median step {statistics.median(step_times) * 1000:.1f} ms, "
        f"median reset {statistics.median(reset_times) * 1000:.1f} ms "
        f"(first reset {reset_times[0]:.2f} s includes starting coqidetop)"
    )
    return 0


def _first_line(text: str | None) -> str:
    line = (text or "").strip().splitlines()[0] if text and text.strip() else ""
    return line[:110]


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())
