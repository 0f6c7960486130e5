"""The SFT trainer: examples, label masking, training, eval, checkpoints, resume, kill -9."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from agents.llm import LLMPolicy, byte_tokenizer, format_prompt
from prover_env.error import DataNotFoundError
from prover_env.types import ProofState
from training.dataset import StepRecord, write_jsonl
from training.sft import (
    Example,
    SFTConfig,
    SFTInputError,
    build_examples,
    collate,
    encode,
    latest_checkpoint,
    load_records,
    train_sft,
)

REPO = Path(__file__).resolve().parents[1]


def make_dataset(path: Path, n: int = 48, seed: int = 0) -> Path:
    """Goals over R are closed by ``lra.``, over Z by ``lia.``; a few corrections and heldout."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        ty, tactic = rng.choice([("R", "lra."), ("Z", "lia.")])
        x, y = rng.sample("abcxyz", 2)
        goals = f"{x}, {y} : {ty}\nh : {x} <= {y}\n⊢ {x} <= {y} + {rng.randint(0, 9)}"
        records.append(StepRecord(f"t{i}", goals, tactic, split="train"))
        if i % 4 == 0:
            records.append(
                StepRecord(
                    f"t{i}",
                    goals,
                    tactic,
                    kind="correction",
                    failed_tactic="ring.",
                    error="Error: not a ring",
                    split="train",
                )
            )
    for i in range(4):  # never to be trained on
        records.append(StepRecord(f"held{i}", "q : Q\n⊢ q = q", "HELDOUT.", split="heldout"))
    path.mkdir(parents=True, exist_ok=True)
    write_jsonl(path / "steps.jsonl", records)
    return path


def config(tmp_path: Path, **kw: object) -> SFTConfig:
    defaults: dict[str, object] = {
        "data": [str(make_dataset(tmp_path / "data"))],
        "out": str(tmp_path / "out"),
        "batch_size": 8,
        "lr": 2e-3,
        "eval_fraction": 0.1,
        "log_every": 2,
        "tensorboard": False,
        "num_threads": 1,
    }
    return SFTConfig(**{**defaults, **kw})  # type: ignore[arg-type]


def metrics(out: Path) -> list[dict[str, str]]:
    with (out / "metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))


# -- prompts and examples -------------------------------------------------------------------------


def test_correction_prompt_format() -> None:
    assert format_prompt("⊢ 1 = 1") == "[GOALS]\n⊢ 1 = 1\n[PROOFSTEP]\n"
    assert (
        format_prompt("⊢ 1 = 1", "ring.", "Error: no")
        == "[GOALS]\n⊢ 1 = 1\n[FAILED]\nring.\n[ERROR]\nError: no\n[PROOFSTEP]\n"
    )
    with pytest.raises(ValueError, match="both"):
        format_prompt("⊢ 1 = 1", "ring.")


def test_examples_by_prompt_format_split_and_theorem(tmp_path: Path) -> None:
    records = load_records([str(make_dataset(tmp_path / "d"))])
    train, evals = build_examples(records, SFTConfig(data=[], eval_fraction=0.25))
    examples = train + evals
    corrections = [e for e in examples if e.kind == "correction"]
    assert corrections and len(corrections) == sum(r.kind == "correction" for r in records)
    for e in corrections:
        assert "\n[FAILED]\nring.\n[ERROR]\nError: not a ring\n[PROOFSTEP]\n" in e.prompt
    assert all("[FAILED]" not in e.prompt for e in examples if e.kind == "step")
    assert not any(e.theorem.startswith("held") or e.target == "HELDOUT." for e in examples)
    assert evals and not {e.theorem for e in train} & {e.theorem for e in evals}

    plain, _ = build_examples(records, SFTConfig(data=[], prompt_format="plain", eval_fraction=0))
    assert {e.kind for e in plain} == {"step"}
    fixes, _ = build_examples(records, SFTConfig(data=[], prompt_format="correction"))
    assert {e.kind for e in fixes} == {"correction"}


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    records = load_records([str(make_dataset(tmp_path / "d"))])
    with pytest.raises(SFTInputError, match="unknown prompt format"):
        build_examples(records, SFTConfig(data=[], prompt_format="chat"))
    with pytest.raises(SFTInputError, match="heldout"):
        build_examples(records, SFTConfig(data=[], splits=("train", "heldout")))
    with pytest.raises(SFTInputError, match="no training records"):
        build_examples(records, SFTConfig(data=[], splits=("valid",)))
    with pytest.raises(DataNotFoundError, match="steps"):
        load_records([str(tmp_path / "missing")])
    with pytest.raises(DataNotFoundError):
        train_sft(SFTConfig(data=[], out=str(tmp_path / "out")))


def test_labels_mask_the_prompt_and_keep_the_tactic() -> None:
    tok = byte_tokenizer()
    example = Example(format_prompt("x : R\n⊢ x <= x"), "lra.", "t", "step")
    (ids, labels), none = encode(tok, [example, Example("p", "x" * 70, "t", "step")], 64)
    assert none is None  # the target alone does not fit 64 tokens
    assert tok.decode(ids) == example.prompt + "lra.</s>"
    kept = [t for t in labels if t != -100]
    assert tok.decode(kept) == "lra.</s>" and labels[-len(kept) :] == ids[-len(kept) :]
    assert labels[: len(ids) - len(kept)] == [-100] * (len(ids) - len(kept))

    [(short, short_labels)] = encode(tok, [example], 12)  # the prompt loses its start
    assert len(short) == 12 and tok.decode(short) == "FSTEP]\nlra.</s>"
    assert sum(t != -100 for t in short_labels) == 5

    batch = collate([(ids, labels), (short, short_labels)], tok.pad_token_id)
    assert batch["input_ids"].shape == (2, len(ids))
    assert batch["attention_mask"][1].tolist() == [1] * 12 + [0] * (len(ids) - 12)
    assert batch["labels"][1, 12:].eq(-100).all()
    assert batch["position_ids"][1, :12].tolist() == list(range(12))


# -- training ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[SFTConfig, dict]:
    tmp = tmp_path_factory.mktemp("sft")
    cfg = config(tmp, max_steps=30, save_every=10, eval_every=10, tensorboard=True)
    return cfg, train_sft(cfg, progress=False)


def test_loss_goes_down_and_eval_loss_is_reported(trained: tuple[SFTConfig, dict]) -> None:
    cfg, summary = trained
    rows = metrics(Path(cfg.out))
    assert [int(r["step"]) for r in rows] == list(range(2, 31, 2))
    first, last = float(rows[0]["loss"]), float(rows[-1]["loss"])
    assert last < first / 3, (first, last)
    assert [r["step"] for r in rows if r["eval_loss"]] == ["10", "20", "30"]
    assert summary["steps"] == 30 and summary["eval_loss"] < 1.0 and summary["eval_examples"] > 0
    assert summary["examples"] + summary["eval_examples"] == 60  # 48 steps + 12 corrections
    assert summary["tokens"] > 0 and summary["resumed_from"] is None
    assert json.loads((Path(cfg.out) / "sft_summary.json").read_text()) == summary
    assert list((Path(cfg.out) / "tb").iterdir())  # TensorBoard events


def test_checkpoints_are_hugging_face_folders_llm_policy_loads(
    trained: tuple[SFTConfig, dict],
) -> None:
    out = Path(trained[0].out)
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "checkpoint-20",
        "checkpoint-30",
        "final",
        "metrics.csv",
        "sft_summary.json",
        "tb",
    ]
    state = json.loads((out / "checkpoint-30" / "trainer_state.json").read_text())
    assert (
        state["step"] == 30 and state["data_seed"] == 0 and {"python", "torch"} <= set(state["rng"])
    )
    for file in ("config.json", "model.safetensors", "tokenizer.json", "optimizer.pt"):
        assert (out / "checkpoint-30" / file).is_file()
    policy = LLMPolicy(str(out / "final"), max_new_tokens=6, seed=0)
    assert policy.tokenizer.padding_side == "left"
    state_r = ProofState(1, "a, b : R\nh : a <= b\n⊢ a <= b + 3", 1, "t")
    state_z = ProofState(1, "a, b : Z\nh : a <= b\n⊢ a <= b + 3", 1, "t")
    for cands in policy.propose_batch([state_r, state_z], 8):  # learned the tactic format
        assert cands[0].tactic in ("lra.", "lia.") and cands[0].score > -1.0
    LLMPolicy(str(out / "checkpoint-20"), max_new_tokens=4).propose(state_r, 2)


def test_resume_continues_from_the_saved_step(tmp_path: Path) -> None:
    cfg = config(tmp_path, max_steps=6, save_every=3, eval_fraction=0)
    assert train_sft(cfg, progress=False)["steps"] == 6
    cfg.max_steps = 10
    summary = train_sft(cfg, progress=False)
    assert summary["resumed_from"] == 6 and summary["steps"] == 10
    assert [r["step"] for r in metrics(Path(cfg.out))] == ["2", "4", "6", "8", "10"]
    assert latest_checkpoint(cfg.out) == Path(cfg.out) / "checkpoint-10"
    cfg.batch_size = 4
    with pytest.raises(SFTInputError, match="batch_size"):
        train_sft(cfg, progress=False)


def test_missing_tensorboard_warns_and_logs_to_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with pytest.warns(UserWarning, match="tensorboard is not installed"):
        train_sft(config(tmp_path, max_steps=2, tensorboard=True), progress=False)
    assert len(metrics(tmp_path / "out")) == 1 and not (tmp_path / "out" / "tb").exists()


def test_resumed_run_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    import shutil

    import torch
    from safetensors.torch import load_file

    a = config(tmp_path / "a", max_steps=8, save_every=3, eval_fraction=0)
    b = config(tmp_path / "b", max_steps=8, save_every=3, eval_fraction=0)
    train_sft(a, progress=False)
    train_sft(b, progress=False)
    out = Path(b.out)  # as if killed after the checkpoint of step 6, mid-epoch
    shutil.rmtree(out / "checkpoint-8")
    shutil.rmtree(out / "final")
    summary = train_sft(b, progress=False)
    assert summary["resumed_from"] == 6 and summary["steps"] == 8
    wa = load_file(Path(a.out) / "final" / "model.safetensors")
    wb = load_file(out / "final" / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


# -- the command line ---------------------------------------------------------------------------


SFT = [sys.executable, "-m", "prover_env.cli", "sft"]


def test_cli_help_lists_the_sft_options(capsys: pytest.CaptureFixture[str]) -> None:
    from prover_env.cli import main

    with pytest.raises(SystemExit):
        main(["sft", "--help"])
    out = capsys.readouterr().out
    for option in ("--data", "--model", "--out", "--epochs", "--max-steps", "--batch-size",
                   "--lr", "--prompt-format", "--save-every", "--eval-every", "--threads",
                   "--seed", "--no-tensorboard"):  # fmt: skip
        assert option in out
    assert main(["sft", "--data", str(REPO / "no-such-dataset"), "--out", "x"]) == 2
    assert "no SFT data at" in capsys.readouterr().err


def test_cli_killed_with_sigkill_resumes_and_finishes(tmp_path: Path) -> None:
    data, out = make_dataset(tmp_path / "data", n=200), tmp_path / "out"
    args = ["--data", str(data), "--out", str(out), "--max-steps", "12", "--save-every", "4"]
    args += ["--batch-size", "8", "--threads", "1", "--no-tensorboard", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [*SFT, *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while latest_checkpoint(out) is None and time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before its first checkpoint"
            time.sleep(0.05)
        assert latest_checkpoint(out) is not None
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "final").exists()
    saved = json.loads((latest_checkpoint(out) / "trainer_state.json").read_text())["step"]
    assert 0 < saved < 12
    rerun = subprocess.run(
        [*SFT, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming from {out / f'checkpoint-{saved}'}" in rerun.stderr
    summary = json.loads(rerun.stdout[rerun.stdout.index("{") :])
    assert summary["resumed_from"] == saved and summary["steps"] == 12
    assert (out / "final" / "model.safetensors").is_file()
    assert [int(r["step"]) for r in metrics(out)] == [10, 12]
