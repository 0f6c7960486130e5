"""``prover-gym doctor``: which backends work here, with versions, and how to fix the rest."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from prover_env.lean.suites import MINIF2F_LEAN_SUITE, lean_toolchain

__all__ = [
    "find_lean_project",
    "inspect_lean_project",
    "lean_version_number",
    "manifest_packages",
    "read_lake_manifest",
    "run_doctor",
]

_COQ_FIX = "apt-get install coq libcoq-coquelicot coinor-csdp  (or: opam install coq coqide-server)"

#: Lean toolchain of a MiniF2F-ready project: the one the MiniF2F-Lean4 statements are checked
#: with (``minif2f-lean4/lean-toolchain``).
LEAN_TOOLCHAIN = "leanprover/lean4:v4.24.0"
#: Mathlib tag matching :data:`LEAN_TOOLCHAIN`.
MATHLIB_REV = "v4.24.0"
#: Tag of github.com/leanprover-community/repl for :data:`LEAN_TOOLCHAIN` (the REPL is tagged
#: with the Lean version it is built for).
REPL_REV = "v4.24.0"

#: How to set up a MiniF2F-ready Lean 4 project. ``prover-gym doctor`` prints it when something is
#: missing; the README quotes it. Shell lines start at column 0 so that the here-document works
#: when pasted.
LEAN_SETUP_STEPS = """\
Set up Lean 4 for prover-gym: Lean v4.24.0, Mathlib v4.24.0 and the Lean REPL in one project.

# 1. elan, Lean's toolchain manager (puts lean and lake in ~/.elan/bin)
curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf | sh -s -- -y
source ~/.elan/env

# 2. a project pinned to Lean v4.24.0, with Mathlib and the REPL as dependencies
mkdir -p ~/minif2f-lean && cd ~/minif2f-lean
echo 'leanprover/lean4:v4.24.0' > lean-toolchain
cat > lakefile.toml <<'EOF'
name = "minif2f_lean"

[[require]]
name = "mathlib"
git = "https://github.com/leanprover-community/mathlib4"
rev = "v4.24.0"

[[require]]
name = "REPL"
git = "https://github.com/leanprover-community/repl"
rev = "v4.24.0"
EOF

# 3. fetch both, download Mathlib's compiled files (~5 GB; compiling them takes hours),
#    build the REPL and try it
lake update
lake exe cache get
lake build repl
echo '{"cmd": "example : 2 + 2 = 4 := rfl"}' | lake exe repl

# 4. point prover-gym at the project (or pass lean_project="~/minif2f-lean" to gym.make) and check
export PROVER_GYM_LEAN_PROJECT=~/minif2f-lean
prover-gym doctor --lean-project ~/minif2f-lean

# 5. MiniF2F in Lean 4: a folder holding minif2f-lean4/, named by PROVER_GYM_DATA
mkdir -p ~/prover-gym-data
git clone https://github.com/yangky11/miniF2F-lean4 ~/prover-gym-data/minif2f-lean4
export PROVER_GYM_DATA=~/prover-gym-data
"""

#: Environment variable naming the Lean project, as the Lean backend reads it.
LEAN_PROJECT_ENV_VAR = "PROVER_GYM_LEAN_PROJECT"
_LAKEFILES = ("lakefile.lean", "lakefile.toml")
_REPL_EXE = re.compile(
    r"lean_exe\s+«?repl»?(?![\w'])|\[\[lean_exe\]\][^\[]*?name\s*=\s*[\"']repl[\"']"
)


def _version(cmd: list[str], cwd: str | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=cwd)
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


def lean_version_number(text: str | None) -> str | None:
    """The version in ``lean --version`` output or a toolchain name.

    ``"Lean (version 4.24.0, x86_64-unknown-linux-gnu, ...)"`` and
    ``"leanprover/lean4:v4.24.0"`` both give ``"4.24.0"``; None when there is no version.
    """
    m = re.search(r"(\d+\.\d+\.\d+(?:-rc\d+)?)", text or "")
    return m.group(1) if m else None


def find_lean_project(
    path: str | os.PathLike[str] | None = None, cwd: str | os.PathLike[str] | None = None
) -> Path | None:
    """The Lean project to inspect, looked for as the Lean backend does.

    Args:
        path: The folder given with ``--lean-project``; default ``$PROVER_GYM_LEAN_PROJECT``.
            Either is returned resolved even when it is not a project (the report says why).
        cwd: Where to look when neither is set (default: the current directory); it is the
            project when it holds ``lakefile.lean`` or ``lakefile.toml``.
    """
    if path is None and os.environ.get(LEAN_PROJECT_ENV_VAR):
        path = os.environ[LEAN_PROJECT_ENV_VAR]
    if path is not None:
        return Path(path).expanduser().resolve()
    here = Path(cwd if cwd is not None else os.getcwd())
    return here.resolve() if _lakefile(here) else None


def _lakefile(root: Path) -> Path | None:
    return next((root / n for n in _LAKEFILES if (root / n).is_file()), None)


def read_lake_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    """``<root>/lake-manifest.json`` as a JSON object; ``{}`` when missing or unreadable."""
    try:
        data = json.loads((Path(root) / "lake-manifest.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def manifest_packages(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The manifest's packages by lower-case name (``"mathlib"``, ``"repl"``, ...)."""
    packages = manifest.get("packages")
    if not isinstance(packages, list):
        return {}
    return {str(p["name"]).lower(): p for p in packages if isinstance(p, dict) and p.get("name")}


def _repl_package(packages: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The REPL among a manifest's packages: named REPL, or a git URL ending in /repl."""
    if "repl" in packages:
        return packages["repl"]
    for p in packages.values():
        url = str(p.get("url") or "").rstrip("/").removesuffix(".git")
        if url.lower().endswith("/repl"):
            return p
    return None


def _rev(package: dict[str, Any]) -> str:
    rev = str(package.get("rev") or "")[:12]
    wanted = package.get("inputRev")
    return f"{wanted} (rev {rev})" if wanted and rev else str(wanted or rev or "?")


def _subdir(folder: Path, name: str) -> Path | None:
    """``folder/name``, the name matched case-insensitively (``REPL`` or ``repl``)."""
    if not folder.is_dir():
        return None
    return next(
        (p for p in sorted(folder.iterdir()) if p.is_dir() and p.name.lower() == name.lower()),
        None,
    )


def inspect_lean_project(root: str | os.PathLike[str]) -> dict[str, Any]:
    """What a Lean project holds, read from its files alone (no Lean run).

    Returns:
        ``project``, ``lakefile``, ``lean-toolchain``, ``mathlib`` (the dependency's tag and
        commit, or None), ``mathlib built`` (``.lake/packages/mathlib/.lake/build`` exists),
        ``repl`` (how the REPL is provided, or None) and ``repl built`` (its executable exists).
    """
    root = Path(root)
    lakefile = _lakefile(root)
    manifest = read_lake_manifest(root)
    packages = manifest_packages(manifest)
    packages_dir = root / str(manifest.get("packagesDir") or ".lake/packages")
    info: dict[str, Any] = {
        "project": str(root),
        "lakefile": lakefile.name if lakefile else None,
        "lean-toolchain": lean_toolchain(root),
    }
    mathlib = packages.get("mathlib")
    mathlib_dir = _subdir(packages_dir, "mathlib")
    info["mathlib"] = _rev(mathlib) if mathlib else ("present" if mathlib_dir else None)
    info["mathlib built"] = bool(mathlib_dir and (mathlib_dir / ".lake" / "build").is_dir())

    repl = _repl_package(packages)
    repl_dir = _subdir(packages_dir, str(repl["name"])) if repl else _subdir(packages_dir, "repl")
    lakefile_text = lakefile.read_text(encoding="utf-8", errors="replace") if lakefile else ""
    if repl:
        info["repl"] = f"dependency {repl['name']} {_rev(repl)}"
    elif repl_dir:
        info["repl"] = f"package folder {repl_dir.relative_to(root)}"
    elif _REPL_EXE.search(lakefile_text):
        info["repl"] = f"this project's `lean_exe repl` ({lakefile.name if lakefile else ''})"
    else:
        info["repl"] = None
    exes = [root / ".lake" / "build" / "bin" / "repl"]
    if repl_dir:
        exes.insert(0, repl_dir / ".lake" / "build" / "bin" / "repl")
    info["repl built"] = any(p.is_file() for p in exes)
    return info


def _minif2f_lean_data() -> tuple[Path, str | None] | None:
    """Where ``$PROVER_GYM_DATA/minif2f-lean4`` is and the toolchain it pins; None if absent."""
    from prover_env.error import DataNotFoundError
    from prover_env.suites import resolve_suite_dir

    try:
        root = resolve_suite_dir(MINIF2F_LEAN_SUITE)
    except DataNotFoundError:
        return None
    return root, lean_toolchain(root)


def _lean_dojo_version() -> str | None:
    """The installed LeanDojo's version, looked up without importing it; None when absent."""
    if importlib.util.find_spec("lean_dojo") is None:
        return None
    try:
        return importlib.metadata.version("lean-dojo")
    except importlib.metadata.PackageNotFoundError:
        return "installed (version unknown)"


def _dojo_warning(lean_dojo: str | None, lean: str | None) -> str | None:
    try:
        from prover_env.lean.dojo import dojo_version_warning
    except ImportError:  # the LeanDojo backend is not in this build
        return None
    try:
        return dojo_version_warning(lean_dojo, lean)
    except Exception as e:  # the doctor reports, never crashes
        return f"could not compare the LeanDojo and Lean versions: {e}"


def _check_lean(project: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The Lean 4 part of the report.

    Args:
        project: The Lean project (``--lean-project``); default ``$PROVER_GYM_LEAN_PROJECT``,
            else the current directory when it holds a lakefile.
    """
    report: dict[str, Any] = {"name": "lean4", "ok": False}
    root = find_lean_project(project)
    cwd = str(root) if root and root.is_dir() else None
    missing: list[str] = []
    versions: dict[str, str | None] = {}
    for tool in ("elan", "lake", "lean"):
        where = shutil.which(tool)
        if where is None:
            report[tool] = None
            missing.append(tool)
            continue
        # Run in the project, elan picks the project's toolchain (and may first download it:
        # past _version's time limit the answer is "no version answer").
        versions[tool] = version = _version([tool, "--version"], cwd=cwd)
        report[tool] = f"{version} ({where})" if version else f"{where} (no version answer)"

    info: dict[str, Any] = {
        "project": None,
        "lakefile": None,
        "lean-toolchain": None,
        "mathlib": None,
        "mathlib built": False,
        "repl": None,
        "repl built": False,
    }
    if root is None:
        missing.append(
            f"a Lean project (--lean-project PATH, ${LEAN_PROJECT_ENV_VAR}, "
            "or run in a folder with a lakefile)"
        )
    elif not root.is_dir():
        info["project"] = str(root)
        missing.append(f"a Lean project: {root} is not a folder")
    else:
        info = inspect_lean_project(root)
        if not info["lakefile"]:
            missing.append(f"a Lean project: no lakefile.lean or lakefile.toml in {root}")
        if not info["mathlib"]:
            missing.append("Mathlib as a dependency of the project")
        elif not info["mathlib built"]:
            missing.append("Mathlib's compiled files (lake exe cache get)")
        if not info["repl"]:
            missing.append("the REPL as a dependency of the project")
        elif not info["repl built"]:
            missing.append("the REPL executable (lake build repl)")
    report.update(info)

    toolchain = info["lean-toolchain"]
    lean_version = lean_version_number(versions.get("lean")) or lean_version_number(toolchain)
    dojo = _lean_dojo_version()
    report["lean_dojo"] = dojo or "not installed (optional: pip install 'prover-gym[lean]')"
    data = _minif2f_lean_data()
    data_toolchain = data[1] if data else None
    report["minif2f-lean4 data"] = (
        None if data is None else f"{data[0]} ({data_toolchain or 'no lean-toolchain file'})"
    )
    if data is None:
        missing.append("MiniF2F-Lean4 data (PROVER_GYM_DATA with minif2f-lean4/)")

    warnings = []
    dojo_warning = _dojo_warning(dojo, lean_version)
    if dojo_warning:
        warnings.append(dojo_warning)
    if toolchain and data_toolchain and toolchain != data_toolchain:
        warnings.append(
            f"the project uses {toolchain} but the MiniF2F-Lean4 data pins {data_toolchain}: "
            "some statements may not elaborate"
        )
    if warnings:
        report["warning"] = "; ".join(warnings)

    report["ok"] = bool(report["lake"] and report["lean"] and info["lakefile"] and info["repl"])
    report["missing"] = missing
    if report["ok"]:
        report["status"] = f"ready: the REPL runs with `lake exe repl` in {root}"
        if missing:
            report["status"] += "; still to do: " + "; ".join(missing)
    else:
        report["status"] = "not ready: the Lean backends need " + "; ".join(
            m for m in missing if not m.startswith("MiniF2F")
        )
    if missing:
        report["fix"] = LEAN_SETUP_STEPS
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
    reports = [_check_coq(), _check_lean(getattr(args, "lean_project", None)), _check_python()]
    if args.json:
        print(json.dumps(reports, indent=2))
    else:
        for rep in reports:
            ok = rep.get("ok")
            mark = "ok " if ok is True else ("-- " if ok is False else "   ")
            print(f"{mark} {rep['name']}")
            for key, value in rep.items():
                if key in ("name", "ok"):
                    continue
                if isinstance(value, str) and "\n" in value:  # setup steps: print them pasteable
                    print(f"      {key}:\n{value.rstrip()}")
                elif isinstance(value, list):
                    print(f"      {key}: {'; '.join(map(str, value)) or 'nothing'}")
                else:
                    print(f"      {key}: {value}")
    return 0 if reports[0]["ok"] else 1
