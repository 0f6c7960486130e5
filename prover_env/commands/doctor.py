"""``prover-gym doctor``: which backends work here, with versions, and how to fix the rest."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import time
from typing import Any

_COQ_FIX = "apt-get install coq libcoq-coquelicot coinor-csdp  (or: opam install coq coqide-server)"
_LEAN_FIX = (
    "curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf | sh; "
    "Lean backends arrive with the Lean REPL/LeanDojo support (see the README)"
)


def _version(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else None


def _check_coq() -> dict[str, Any]:
    report: dict[str, Any] = {"name": "coq", "ok": False}
    report["coqc"] = _version(["coqc", "--version"]) if shutil.which("coqc") else None
    idetop = shutil.which("coqidetop") or shutil.which("coqidetop.opt")
    report["coqidetop"] = idetop
    report["csdp (psatz)"] = shutil.which("csdp")
    where = _version(["coqc", "-where"]) if shutil.which("coqc") else None
    report["coquelicot"] = bool(
        where and os.path.isdir(os.path.join(where, "user-contrib", "Coquelicot"))
    )
    if not idetop:
        report["fix"] = _COQ_FIX
        return report
    from prover_env.coq.backend import CoqBackend
    from prover_env.types import Theorem

    theorem = Theorem(
        "doctor_check",
        "Theorem doctor_check : forall x : R, x + 0 = x.",
        header="Require Import Reals. Open Scope R_scope.",
    )
    try:
        t = time.perf_counter()
        with CoqBackend() as coq:
            state = coq.start(theorem)
            started = time.perf_counter() - t
            done = coq.run_tactic(state, "intros x. lra.")
            verdict = coq.verify(theorem, getattr(done, "proof", ()))
        report["ok"] = verdict.ok
        report["check"] = f"proved and kernel-checked a lemma ({started:.2f} s to start)"
        if not verdict.ok:
            report["check"] = f"a known-good proof was not accepted: {verdict.message}"
    except Exception as e:  # the doctor reports, never crashes
        report["check"] = f"failed: {e}"
    if not report["csdp (psatz)"] or not report["coquelicot"]:
        report["fix"] = _COQ_FIX
    return report


def _check_lean() -> dict[str, Any]:
    tools = {t: shutil.which(t) for t in ("elan", "lake", "lean")}
    report: dict[str, Any] = {"name": "lean4", "ok": False, **tools}
    if tools["lean"]:
        report["lean"] = _version(["lean", "--version"])
    report["status"] = "backend not in this release yet"
    if not tools["lake"]:
        report["fix"] = _LEAN_FIX
    return report


def _check_python() -> dict[str, Any]:
    extras = {
        "llm": ["torch", "transformers"],
        "rl": ["ray"],
        "lean": ["lean_dojo"],
    }
    found = {
        extra: all(importlib.util.find_spec(m) is not None for m in mods)
        for extra, mods in extras.items()
    }
    data = os.environ.get("PROVER_GYM_DATA")
    return {
        "name": "python",
        "extras": found,
        "PROVER_GYM_DATA": data,
        "suites": sorted(os.listdir(data)) if data and os.path.isdir(data) else [],
    }


def run_doctor(args: argparse.Namespace) -> int:
    """Print the report; exit 0 when the Coq backend works."""
    reports = [_check_coq(), _check_lean(), _check_python()]
    if args.json:
        print(json.dumps(reports, indent=2))
    else:
        for rep in reports:
            mark = {True: "ok ", False: "-- "}.get(rep.get("ok"), "   ") if "ok" in rep else "   "
            print(f"{mark} {rep['name']}")
            for key, value in rep.items():
                if key not in ("name", "ok"):
                    print(f"      {key}: {value}")
    return 0 if reports[0]["ok"] else 1
