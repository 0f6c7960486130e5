"""A readable report of an evaluation: Markdown (or HTML), a CSV, and a plot of pass rate
against search budget."""

from __future__ import annotations

import csv
import html
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.runner import SUMMARY, load_results

__all__ = ["pass_rate_by_budget", "plot_curves", "write_report"]

_CSV_FIELDS = (
    "theorem", "split", "proved", "successes", "attempts", "expansions", "tactic_calls",
    "errors", "reason", "seconds", "proof",
)  # fmt: skip


def pass_rate_by_budget(records: Sequence[dict[str, Any]]) -> list[tuple[int, float]]:
    """``(budget, rate)`` points: the share of usable theorems proved within ``budget``
    expansions (a proved theorem counts from the expansions its search used)."""
    usable = [r for r in records if r["reason"] != "unusable"]
    if not usable:
        return []
    needed = sorted(r["expansions"] for r in usable if r["proved"])
    top = max([r["expansions"] for r in usable] + [1])
    budgets = sorted({1, top, *needed})
    return [(b, sum(1 for n in needed if n <= b) / len(usable)) for b in budgets]


def write_report(out_dir: str | os.PathLike[str], fmt: str = "md") -> Path:
    """Write ``results.csv``, ``pass_vs_budget.png`` and ``report.md`` (or ``.html``).

    Returns:
        The report's path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    records = load_results(out)
    summary = json.loads((out / SUMMARY).read_text()) if (out / SUMMARY).exists() else {}
    with (out / "results.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=_CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for r in records:
            writer.writerow({**r, "proof": " ".join(r.get("proof") or [])})
    points = pass_rate_by_budget(records)
    fig, ax = plt.subplots(figsize=(6, 4))
    if points:
        xs, ys = zip(*points, strict=True)
        ax.step(xs, [100 * y for y in ys], where="post")
    ax.set_xscale("log")
    ax.set_xlabel("search budget (expansions)")
    ax.set_ylabel("theorems proved (%)")
    ax.set_title(f"pass rate vs budget ({summary.get('search', '?')}, {len(records)} theorems)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "pass_vs_budget.png", dpi=120)
    plt.close(fig)
    proved = [r for r in records if r["proved"]]
    unusable = [r for r in records if r["reason"] == "unusable"]
    lines = [
        "# prover-gym evaluation",
        "",
        "| measure | value |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in summary.items() if not isinstance(v, dict)],
        "",
        "![pass rate against search budget](pass_vs_budget.png)",
        "",
        f"## Proved ({len(proved)})",
        "",
        *[f"- `{r['theorem']}`: `{' '.join(r['proof'])}`" for r in proved],
        "",
        f"## Unusable on this prover ({len(unusable)})",
        "",
        *[f"- `{r['theorem']}`: {(r.get('unusable') or '')[:160]}" for r in unusable],
        "",
    ]
    text = "\n".join(lines)
    if fmt == "html":
        body = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
        path = out / "report.html"
        path.write_text(f"<html><body>{body}<img src='pass_vs_budget.png'></body></html>")
    else:
        path = out / "report.md"
        path.write_text(text + "\n", encoding="utf-8")
    return path


def plot_curves(
    rows: Sequence[dict[str, Any]],
    x: str,
    ys: Sequence[str],
    path: str | os.PathLike[str],
    title: str,
) -> Path | None:
    """Plot columns ``ys`` of ``rows`` against column ``x`` into ``path`` (PNG); one panel per
    column. Missing or empty values are skipped; returns ``None`` when there is nothing to plot.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = []
    for y in ys:
        points = [(float(r[x]), float(r[y])) for r in rows if r.get(y) not in (None, "")]
        if points:
            series.append((y, points))
    if not series:
        return None
    fig, axes = plt.subplots(1, len(series), figsize=(4.2 * len(series), 3.2), squeeze=False)
    for ax, (y, points) in zip(axes[0], series, strict=True):
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3)
        ax.set_xlabel(x)
        ax.set_title(y)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
