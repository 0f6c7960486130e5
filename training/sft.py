"""Supervised fine-tuning (SFT) of a causal LM on proof-step datasets: the warm start for RL.

One file, read top to bottom (CleanRL style): configuration, data, tokenization, checkpoints,
the training loop.

Data: the ``steps.jsonl`` records of :mod:`training.dataset`, one example per record,
``prompt + tactic + <eos>``, in the prompt formats of :mod:`agents.llm`:

- ``prompt_format="both"`` (default): ``kind == "step"`` records in the plain format,
  ``kind == "correction"`` records in the correction format (goals, failed tactic, error).
- ``"plain"``: the step records only (a correction's tactic is also a step of the found proof,
  so its plain example is already there).
- ``"correction"``: the correction records only.

Only records whose split is in ``splits`` (default ``"train"`` or unset) are used, never
``"heldout"`` ones. ``eval_fraction`` of the theorems (by name: no theorem is on both sides) is
held back for an eval loss. The loss is on the tactic tokens and EOS only; a prompt longer than
``max_length`` loses its start (never the tactic). Each batch is padded to its longest sequence
(and by default holds examples of similar length: ``group_by_length``).

Output folder ``OUT``::

    metrics.csv          step, epoch, loss, lr, tokens_per_s, eval_loss
    tb/                  TensorBoard events (when tensorboard is installed)
    checkpoint-STEP/     Hugging Face model + tokenizer, optimizer.pt, scheduler.pt and
                         trainer_state.json (step, epoch, batch_in_epoch, data_seed, RNG states)
    final/               Hugging Face model + tokenizer: ``LLMPolicy("OUT/final")`` loads it
    sft_summary.json     steps, losses, seconds, examples, tokens

A checkpoint is written to ``OUT/.checkpoint-STEP.tmp`` and renamed when complete, so a killed
run never leaves a partial one. A run on an ``OUT`` that holds checkpoints resumes from the
latest with the same data order (epoch ``e`` is the permutation seeded by ``seed + e``; the
batches already done are skipped) and ends at the same step. The data, batch size and seed must
be those of the checkpoint; a larger ``max_steps`` continues training, the learning-rate decay
stretched to the new end.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import json
import math
import os
import random
import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from prover_env.error import DataNotFoundError, ProverGymError
from training.dataset import STEPS, StepRecord, read_steps

__all__ = [
    "Example",
    "SFTConfig",
    "SFTInputError",
    "build_examples",
    "collate",
    "encode",
    "latest_checkpoint",
    "list_checkpoints",
    "load_model",
    "load_records",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
    "train_sft",
]

PROMPT_FORMATS = {"both": ("step", "correction"), "plain": ("step",), "correction": ("correction",)}
METRICS = ("step", "epoch", "loss", "lr", "tokens_per_s", "eval_loss")
Encoded = tuple[list[int], list[int]]  # token ids, labels


class SFTInputError(ProverGymError, ValueError):
    """The SFT configuration or data cannot be trained on (the message says the fix)."""


@dataclass
class SFTConfig:
    """What to train, on what, and how.

    Attributes:
        data: Dataset directories (holding ``steps.jsonl``) or steps ``.jsonl`` files.
        model: ``"tiny"`` (small random Llama, byte tokenizer), a Hugging Face id, or a path.
        out: Output folder; a run resumes from the checkpoints already there.
        prompt_format: ``"both"``, ``"plain"`` or ``"correction"`` (see the module docstring).
        splits: Record splits to train on (``None``: records without a split).
        eval_fraction: Fraction of the theorems held back for the eval loss (0: none).
        eval_max_examples: At most this many eval examples are scored (a fixed sample).
        epochs: Passes over the training examples (unless ``max_steps`` is set).
        max_steps: Optimizer steps in all; overrides ``epochs``.
        batch_size: Examples per step.
        group_by_length: Batch examples of similar length (each chunk of 64 batches of the
            epoch's permutation is sorted by length, then its batches are shuffled): much less
            padding when lengths vary.
        lr: Peak learning rate of AdamW.
        weight_decay: AdamW weight decay (not on norms and biases).
        warmup: Linear warmup as a fraction of the steps (>= 1: a number of steps), then
            linear decay to 0.
        max_grad_norm: Gradient clipping norm.
        max_length: Longest example in tokens; longer prompts are cut from the left.
        save_every: Steps between checkpoints (the last step is always saved).
        keep_last: Checkpoints kept; older ones are deleted.
        eval_every: Steps between eval losses (0: only at the end).
        log_every: Steps between rows of ``metrics.csv``.
        seed: Seed of the tiny model's weights, the eval split and the data order.
        num_threads: ``torch.set_num_threads`` while training (``None``: leave it).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``...
        tensorboard: Also log to TensorBoard in ``OUT/tb`` (skipped with a warning if missing).
    """

    data: list[str]
    model: str = "tiny"
    out: str = "runs/sft"
    prompt_format: str = "both"
    splits: tuple[str | None, ...] = ("train", None)
    eval_fraction: float = 0.05
    eval_max_examples: int = 512
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 16
    group_by_length: bool = True
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup: float = 0.05
    max_grad_norm: float = 1.0
    max_length: int = 1024
    save_every: int = 200
    keep_last: int = 2
    eval_every: int = 200
    log_every: int = 10
    seed: int = 0
    num_threads: int | None = None
    device: str = "auto"
    tensorboard: bool = True


# -- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One training example: prompt, target tactic, and its theorem and record kind."""

    prompt: str
    target: str
    theorem: str
    kind: str


def load_records(paths: list[str]) -> list[StepRecord]:
    """The step records of ``paths`` (dataset directories or JSON-lines files).

    Raises:
        DataNotFoundError: No path given, or one that is missing or has no ``steps.jsonl``.
    """
    if not paths:
        raise DataNotFoundError("no SFT data given: pass dataset directories (--data DIR ...)")
    records: list[StepRecord] = []
    for path in map(Path, paths):
        file = path / STEPS if path.is_dir() else path
        if not file.is_file():
            raise DataNotFoundError(
                f"no SFT data at {file}: pass a dataset directory holding {STEPS} "
                "(made by `prover-gym synth`) or a steps .jsonl file"
            )
        records.extend(read_steps(file))
    return records


def build_examples(
    records: list[StepRecord], config: SFTConfig
) -> tuple[list[Example], list[Example]]:
    """The training and eval examples of ``records`` (eval: whole theorems, chosen by seed).

    Raises:
        SFTInputError: Unknown prompt format, ``"heldout"`` in the splits, or no example left.
    """
    from agents.llm import format_prompt

    if config.prompt_format not in PROMPT_FORMATS:
        raise SFTInputError(
            f"unknown prompt format {config.prompt_format!r}: use one of {list(PROMPT_FORMATS)}"
        )
    if "heldout" in config.splits:
        raise SFTInputError("the 'heldout' split is for evaluation: remove it from the splits")
    examples = []
    for r in records:
        if r.split in config.splits and r.kind in PROMPT_FORMATS[config.prompt_format]:
            fix = (r.failed_tactic, r.error) if r.kind == "correction" else (None, None)
            prompt = format_prompt(r.state_before, *fix)
            examples.append(Example(prompt, r.tactic, r.theorem, r.kind))
    if not examples:
        raise SFTInputError(
            f"no training records among {len(records)}: none has a split in "
            f"{list(config.splits)} and a kind that prompt format {config.prompt_format!r} "
            "uses (check --prompt-format and that the data has train-split records)"
        )
    theorems = sorted({e.theorem for e in examples})
    random.Random(config.seed).shuffle(theorems)
    n_eval = min(math.ceil(config.eval_fraction * len(theorems)), len(theorems) - 1)
    held = set(theorems[: max(n_eval, 0)])
    evals = [e for e in examples if e.theorem in held]
    random.Random(config.seed + 1).shuffle(evals)
    return [e for e in examples if e.theorem not in held], evals[: config.eval_max_examples]


def encode(tokenizer: Any, examples: list[Example], max_length: int) -> list[Encoded | None]:
    """Token ids and labels of each ``prompt + target + eos`` (labels: -100 on the prompt).

    A prompt is cut from the left (after any BOS) to fit ``max_length``; ``None`` for an
    example whose target alone does not fit.
    """
    if not examples:
        return []
    prefix = tokenizer("")["input_ids"]  # special tokens the tokenizer puts first (BOS)
    prefix = [t for t in prefix if t != tokenizer.eos_token_id]
    prompts = tokenizer([e.prompt for e in examples], add_special_tokens=False)["input_ids"]
    targets = tokenizer([e.target for e in examples], add_special_tokens=False)["input_ids"]
    out: list[Encoded | None] = []
    for prompt, target in zip(prompts, targets, strict=True):
        target = [*target, tokenizer.eos_token_id]
        budget = max_length - len(target) - len(prefix)
        if budget < 1:
            out.append(None)
            continue
        prompt = prefix + prompt[max(0, len(prompt) - budget) :]
        out.append((prompt + target, [-100] * len(prompt) + target))
    return out


def collate(batch: list[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-pad ``batch`` to its longest sequence: ids, attention mask, positions, labels."""
    import torch

    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, (x, y) in enumerate(batch):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": ids, "attention_mask": mask, "position_ids": positions, "labels": labels}


def _loss_sum(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Summed next-token cross-entropy over the labelled tokens, and how many there are."""
    import torch.nn.functional as F

    logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[:, :-1]
    labels = batch["labels"][:, 1:]
    keep = labels != -100  # score the tactic tokens only (no float copy of every position)
    loss = F.cross_entropy(logits[keep].float(), labels[keep], reduction="sum")
    return loss, int(keep.sum())


def _eval_loss(model: Any, data: list[Encoded], batch_size: int, pad_id: int, device: str) -> float:
    """Mean loss per target token of ``data``."""
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(data), batch_size):
            batch = collate(data[i : i + batch_size], pad_id)
            loss, n = _loss_sum(model, {k: v.to(device) for k, v in batch.items()})
            total, count = total + float(loss), count + n
    model.train()
    return total / max(count, 1)


# -- model and checkpoints ----------------------------------------------------------------------


@contextlib.contextmanager
def _no_hf_bars() -> Iterator[None]:
    """Hide transformers' own progress bars (loading, saving) under ours."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def load_model(name: str, seed: int) -> tuple[Any, Any]:
    """Model and tokenizer: the tiny model, a Hugging Face id, or a folder (a checkpoint)."""
    from agents.llm import load_causal_lm, load_tokenizer

    tokenizer = load_tokenizer(name)
    with _no_hf_bars():
        return load_causal_lm(name, tokenizer, seed), tokenizer


def list_checkpoints(out: Path) -> list[Path]:
    """The complete ``checkpoint-STEP`` folders of ``out``, fewest steps first."""
    found = [p for p in out.glob("checkpoint-*") if p.name.split("-")[1].isdigit()]
    found = [p for p in found if (p / "trainer_state.json").is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def latest_checkpoint(out: str | os.PathLike[str]) -> Path | None:
    """The complete checkpoint of ``out`` with the most steps, if any."""
    found = list_checkpoints(Path(out))
    return found[-1] if found else None


def save_checkpoint(
    out: Path, name: str, model: Any, tokenizer: Any, extra: dict[str, Any]
) -> Path:
    """Write ``out/name`` in HF format plus ``extra`` files, atomically (temp folder, rename).

    ``extra`` maps file names to JSON-able objects (``.json``) or torch state dicts (``.pt``).
    """
    import torch

    tmp, final = out / f".{name}.tmp", out / name
    shutil.rmtree(tmp, ignore_errors=True)
    with _no_hf_bars():
        model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    for file, obj in extra.items():  # trainer_state.json last: it marks a complete checkpoint
        if file.endswith(".pt"):
            torch.save(obj, tmp / file)
        else:
            (tmp / file).write_text(json.dumps(obj, indent=1))
    if final.exists():  # only final/ is ever replaced
        shutil.rmtree(old := out / f".{name}.old", ignore_errors=True)
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(final)
    return final


def rng_state() -> dict[str, Any]:
    import torch

    raw = torch.get_rng_state().numpy().tobytes()
    return {"python": random.getstate(), "torch": base64.b64encode(raw).decode()}


def set_rng_state(rng: dict[str, Any]) -> None:
    import torch

    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))
    raw = bytearray(base64.b64decode(rng["torch"]))
    torch.set_rng_state(torch.frombuffer(raw, dtype=torch.uint8).clone())


@dataclass
class _State:
    """Where training is: saved in ``trainer_state.json`` (with the RNG states and config)."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0  # batches of the epoch's permutation already trained on
    tokens: int = 0
    seconds: float = 0.0
    train_loss: float | None = None


class _Metrics:
    """Rows of ``metrics.csv`` and, when tensorboard is installed, TensorBoard scalars."""

    def __init__(self, out: Path, step: int, tensorboard: bool) -> None:
        self.path, self.writer, rows = out / "metrics.csv", None, []
        if self.path.exists():  # drop the rows a killed run logged after its last checkpoint
            with self.path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=METRICS)
            writer.writeheader()
            writer.writerows(rows)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(out / "tb"), purge_step=step + 1)
            except ImportError:
                msg = "tensorboard is not installed: metrics go to metrics.csv only"
                warnings.warn(f"{msg} (pip install tensorboard)", stacklevel=3)

    def log(self, row: dict[str, Any]) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=METRICS).writerow(row)
        for key in ("loss", "lr", "tokens_per_s", "eval_loss"):
            if self.writer is not None and row[key] not in (None, ""):
                tag = "eval/loss" if key == "eval_loss" else f"train/{key}"
                self.writer.add_scalar(tag, row[key], row["step"])


# -- training -----------------------------------------------------------------------------------


def train_sft(config: SFTConfig, progress: bool = True) -> dict[str, Any]:
    """Fine-tune ``config.model`` on ``config.data``, resuming from ``config.out``.

    Args:
        config: What to train and how.
        progress: Show a tqdm progress bar.

    Returns:
        The summary, also written to ``OUT/sft_summary.json``.

    Raises:
        DataNotFoundError: Missing data files.
        SFTInputError: Bad configuration or no usable examples (the message says the fix).
    """
    import torch
    from tqdm import tqdm

    started, out = time.monotonic(), Path(config.out)
    train, evals = build_examples(load_records(list(config.data)), config)
    out.mkdir(parents=True, exist_ok=True)
    for partial in out.glob(".*.tmp"):  # what a killed run was writing
        shutil.rmtree(partial, ignore_errors=True)
    device = config.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"

    # 1. resume from the latest checkpoint, if any: it must be this run's data and batch size
    resume, st, saved = latest_checkpoint(out), _State(), {}
    if resume is not None:
        saved = json.loads((resume / "trainer_state.json").read_text())
        now = {"batch_size": config.batch_size, "examples": len(train), "data_seed": config.seed}
        now["group_by_length"] = config.group_by_length
        for key, value in now.items():
            if saved.get(key) != value:
                raise SFTInputError(
                    f"{resume} was trained with {key}={saved.get(key)}, this run has {value}: "
                    "resume with the same data and settings, or use a new --out folder"
                )
        st = _State(**{f.name: saved[f.name] for f in fields(_State)})
        print(f"sft: resuming from {resume} at step {st.step}", file=sys.stderr, flush=True)
    model, tokenizer = load_model(str(resume) if resume else config.model, config.seed)
    tokenizer.padding_side = "left"  # what generation wants (LLMPolicy); training pads itself
    model.to(device).train()
    pad_id = tokenizer.pad_token_id

    # 2. tokenize once; steps, warmup and the optimizer with its schedule
    encoded = encode(tokenizer, train, config.max_length)
    lengths = [len(x[0]) if x else 0 for x in encoded]
    skipped = sum(x is None for x in encoded)
    if skipped == len(encoded):
        raise SFTInputError(f"every tactic is longer than max_length={config.max_length}: raise it")
    eval_data = [x for x in encode(tokenizer, evals, config.max_length) if x is not None]
    eval_data.sort(key=lambda x: len(x[0]))  # less padding; the eval loss is a sum anyway
    per_epoch = math.ceil(len(train) / config.batch_size)
    total = config.max_steps if config.max_steps is not None else config.epochs * per_epoch
    warmup = int(config.warmup if config.warmup >= 1 else config.warmup * total)
    groups = [
        {"params": [p for p in model.parameters() if p.ndim >= 2]},
        {"params": [p for p in model.parameters() if p.ndim < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)

    def schedule(step: int) -> float:  # linear warmup, then linear decay to 0 at `total`
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    if resume is not None:
        optimizer.load_state_dict(torch.load(resume / "optimizer.pt", map_location="cpu"))
        scheduler.load_state_dict(torch.load(resume / "scheduler.pt", map_location="cpu"))
        set_rng_state(saved["rng"])
    else:
        random.seed(config.seed)
        torch.manual_seed(config.seed)

    def checkpoint() -> None:
        st.seconds = saved.get("seconds", 0.0) + time.monotonic() - started
        state = {
            **asdict(st),
            "data_seed": config.seed,
            "batch_size": config.batch_size,
            "group_by_length": config.group_by_length,
            "examples": len(train),
            "total_steps": total,
            "rng": rng_state(),
            "config": asdict(config),
        }
        files = {"optimizer.pt": optimizer.state_dict(), "scheduler.pt": scheduler.state_dict()}
        files["trainer_state.json"] = state  # written last
        save_checkpoint(out, f"checkpoint-{st.step}", model, tokenizer, files)
        for old in list_checkpoints(out)[: -config.keep_last]:
            shutil.rmtree(old, ignore_errors=True)

    # 3. the loop: epoch e visits the examples in the order of randperm(seed + e)
    threads = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    metrics = _Metrics(out, st.step, config.tensorboard)
    bar = tqdm(total=total, initial=st.step, desc="sft", unit="step", disable=not progress)
    loss_sum, n_steps, n_tokens, clock = 0.0, 0, 0, time.monotonic()  # since the last log row
    eval_loss = None
    try:
        while st.step < total:
            seed = torch.Generator().manual_seed(config.seed + st.epoch)
            order = torch.randperm(len(train), generator=seed).tolist()
            size = config.batch_size
            if config.group_by_length:  # sort chunks of 64 batches by length: less padding
                chunks = [order[i : i + 64 * size] for i in range(0, len(order), 64 * size)]
                order = [i for chunk in chunks for i in sorted(chunk, key=lengths.__getitem__)]
            batches = [order[i : i + size] for i in range(0, len(order), size)]
            if config.group_by_length:  # ... and visit those batches in random order
                batches = [batches[j] for j in torch.randperm(len(batches), generator=seed)]
            while st.batch_in_epoch < len(batches) and st.step < total:
                items = [encoded[i] for i in batches[st.batch_in_epoch] if encoded[i] is not None]
                lr = scheduler.get_last_lr()[0]
                if items:
                    batch = {k: v.to(device) for k, v in collate(items, pad_id).items()}
                    total_loss, n_labels = _loss_sum(model, batch)
                    loss = total_loss / max(n_labels, 1)  # mean over the tactic tokens
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    real = int(batch["attention_mask"].sum())
                    loss_sum, n_steps = loss_sum + loss.item(), n_steps + 1
                    n_tokens, st.tokens = n_tokens + real, st.tokens + real
                scheduler.step()
                st.step, st.batch_in_epoch = st.step + 1, st.batch_in_epoch + 1
                bar.update(1)
                last = st.step == total
                evaluate = bool(eval_data) and (
                    last or (config.eval_every > 0 and st.step % config.eval_every == 0)
                )
                if evaluate:
                    tick = time.monotonic()
                    eval_loss = _eval_loss(model, eval_data, config.batch_size, pad_id, device)
                    clock += time.monotonic() - tick  # tokens_per_s counts training time only
                if st.step % config.log_every == 0 or evaluate or last:
                    st.train_loss = loss_sum / n_steps if n_steps else st.train_loss
                    speed = round(n_tokens / max(time.monotonic() - clock, 1e-9), 1)
                    row = {"step": st.step, "epoch": round(st.step / per_epoch, 4), "lr": lr}
                    row |= {"loss": st.train_loss, "tokens_per_s": speed}
                    metrics.log({**row, "eval_loss": eval_loss if evaluate else ""})
                    bar.set_postfix(loss=f"{st.train_loss or 0:.4f}")
                    loss_sum, n_steps, n_tokens, clock = 0.0, 0, 0, time.monotonic()
                if st.step % config.save_every == 0 or last:
                    checkpoint()
            if st.batch_in_epoch >= len(batches):
                st.epoch, st.batch_in_epoch = st.epoch + 1, 0
        if latest_checkpoint(out) is None:  # e.g. max_steps=0
            checkpoint()
        if eval_data and eval_loss is None:
            eval_loss = _eval_loss(model, eval_data, config.batch_size, pad_id, device)
    finally:
        bar.close()
        if metrics.writer is not None:
            metrics.writer.close()
        torch.set_num_threads(threads)

    final = save_checkpoint(out, "final", model, tokenizer, {})
    summary = {
        "steps": st.step,
        "epochs": round(st.step / per_epoch, 4),
        "train_loss": st.train_loss,
        "eval_loss": eval_loss,
        "seconds": round(saved.get("seconds", 0.0) + time.monotonic() - started, 2),
        "examples": len(train),
        "eval_examples": len(eval_data),
        "skipped_too_long": skipped,
        "tokens": st.tokens,
        "resumed_from": saved.get("step"),
        "out": str(out),
        "final": str(final),
    }
    (out / "sft_summary.json").write_text(json.dumps(summary, indent=2))
    return summary
