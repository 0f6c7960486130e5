"""``prover-gym doctor``, Lean part: tool and project detection, the setup steps, the report.

No Lean toolchain is faked here: tool detection is tested against what this machine really has,
project detection against project folders written in ``tmp_path``.
"""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import pytest

from prover_env.cli import main
from prover_env.commands import doctor
from prover_env.commands.doctor import (
    LEAN_PROJECT_ENV_VAR,
    LEAN_SETUP_STEPS,
    LEAN_TOOLCHAIN,
    MATHLIB_REV,
    REPL_REV,
    _check_lean,
    find_lean_project,
    inspect_lean_project,
    lean_version_number,
    manifest_packages,
    read_lake_manifest,
)

HAS_LEAN = bool(shutil.which("lean") and shutil.which("lake"))
no_lean_here = pytest.mark.skipif(HAS_LEAN, reason="this machine has a Lean toolchain")

LAKEFILE = """name = "minif2f_lean"

[[require]]
name = "mathlib"
git = "https://github.com/leanprover-community/mathlib4"
rev = "v4.24.0"

[[require]]
name = "REPL"
git = "https://github.com/leanprover-community/repl"
rev = "v4.24.0"
"""


def _package(name: str, url: str, rev: str, input_rev: str | None) -> dict[str, object]:
    return {
        "url": url,
        "type": "git",
        "subDir": None,
        "scope": "",
        "rev": rev,
        "name": name,
        "manifestFile": "lake-manifest.json",
        "inputRev": input_rev,
        "inherited": False,
        "configFile": "lakefile.lean",
    }


MANIFEST = {
    "version": "1.1.0",
    "packagesDir": ".lake/packages",
    "packages": [
        _package(
            "mathlib",
            "https://github.com/leanprover-community/mathlib4",
            "f897ebcf72cd16f89ab4577d0c826cd14afaafc7",
            "v4.24.0",
        ),
        _package(
            "REPL",
            "https://github.com/leanprover-community/repl",
            "0123456789abcdef0123456789abcdef01234567",
            "v4.24.0",
        ),
        _package(
            "batteries",
            "https://github.com/leanprover-community/batteries",
            "8da40b72fece29b7d3fe3d768bac4c8910ce9bee",
            "main",
        ),
    ],
    "name": "minif2f_lean",
    "lakeDir": ".lake",
}


def make_project(
    root: Path,
    *,
    toolchain: str = "leanprover/lean4:v4.24.0",
    manifest: dict[str, object] | None = None,
    mathlib_built: bool = True,
    repl_built: bool = False,
) -> Path:
    """A Lean project's files (no Lean involved): toolchain, lakefile, manifest, package dirs."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "lean-toolchain").write_text(toolchain + "\n", encoding="utf-8")
    (root / "lakefile.toml").write_text(LAKEFILE, encoding="utf-8")
    (root / "lake-manifest.json").write_text(json.dumps(manifest or MANIFEST), encoding="utf-8")
    packages = root / ".lake" / "packages"
    (packages / "mathlib").mkdir(parents=True)
    (packages / "REPL").mkdir(parents=True)
    if mathlib_built:
        (packages / "mathlib" / ".lake" / "build").mkdir(parents=True)
    if repl_built:
        (packages / "REPL" / ".lake" / "build" / "bin").mkdir(parents=True)
        (packages / "REPL" / ".lake" / "build" / "bin" / "repl").write_bytes(b"")
    return root


# ---------------------------------------------------------------- pure functions


def test_setup_steps_are_complete() -> None:
    steps = LEAN_SETUP_STEPS
    assert (
        "curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf "
        "| sh -s -- -y" in steps
    )
    assert f"echo '{LEAN_TOOLCHAIN}' > lean-toolchain" in steps
    assert LAKEFILE.strip() in steps  # both [[require]] entries, exactly as a lakefile.toml
    assert steps.count("[[require]]") == 2
    assert f'rev = "{MATHLIB_REV}"' in steps and f'rev = "{REPL_REV}"' in steps
    assert "github.com/leanprover-community/repl" in steps
    for command in ("lake update", "lake exe cache get", "lake build repl"):
        assert f"\n{command}\n" in steps
    assert "| lake exe repl\n" in steps
    assert "--lean-project" in steps and "lean_project=" in steps
    assert f"export {LEAN_PROJECT_ENV_VAR}=" in steps
    assert "PROVER_GYM_DATA" in steps and "minif2f-lean4" in steps
    assert "git clone https://github.com/yangky11/miniF2F-lean4" in steps
    # pasteable: the here-document's delimiter stands alone at column 0
    assert "cat > lakefile.toml <<'EOF'\n" in steps and "\nEOF\n" in steps


def test_lean_version_number() -> None:
    out = "Lean (version 4.24.0, x86_64-unknown-linux-gnu, commit 797c613eb9b6, Release)"
    assert lean_version_number(out) == "4.24.0"
    assert lean_version_number("leanprover/lean4:v4.24.0") == "4.24.0"
    assert lean_version_number("leanprover/lean4:v4.9.0-rc1") == "4.9.0-rc1"
    assert lean_version_number("leanprover/lean4:nightly") is None
    assert lean_version_number(None) is None


def test_read_lake_manifest(tmp_path: Path) -> None:
    assert read_lake_manifest(tmp_path) == {}
    (tmp_path / "lake-manifest.json").write_text("{not json", encoding="utf-8")
    assert read_lake_manifest(tmp_path) == {}
    (tmp_path / "lake-manifest.json").write_text("[1, 2]", encoding="utf-8")
    assert read_lake_manifest(tmp_path) == {}
    (tmp_path / "lake-manifest.json").write_text(json.dumps(MANIFEST), encoding="utf-8")
    manifest = read_lake_manifest(tmp_path)
    assert manifest["packagesDir"] == ".lake/packages"
    packages = manifest_packages(manifest)
    assert set(packages) == {"mathlib", "repl", "batteries"}
    assert packages["repl"]["name"] == "REPL"
    assert manifest_packages({}) == {} and manifest_packages({"packages": "x"}) == {}


def test_the_shared_data_manifest_lists_mathlib() -> None:
    data = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "minif2f-lean4"
    if not (data / "lake-manifest.json").is_file():
        pytest.skip(f"no {data}/lake-manifest.json")
    packages = manifest_packages(read_lake_manifest(data))
    assert packages["mathlib"]["inputRev"] == "v4.24.0"


@pytest.fixture(autouse=True)
def _no_project_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LEAN_PROJECT_ENV_VAR, raising=False)


def test_find_lean_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_lean_project(cwd=tmp_path) is None
    (tmp_path / "lakefile.lean").write_text("import Lake\n", encoding="utf-8")
    assert find_lean_project(cwd=tmp_path) == tmp_path.resolve()
    monkeypatch.chdir(tmp_path)
    assert find_lean_project() == tmp_path.resolve()
    other = tmp_path / "elsewhere"
    assert find_lean_project(other) == other.resolve()  # given explicitly: kept, even if absent
    monkeypatch.setenv(LEAN_PROJECT_ENV_VAR, str(other))  # as the Lean backend reads it
    assert find_lean_project() == other.resolve()
    assert find_lean_project(tmp_path) == tmp_path.resolve()  # the option wins


def test_inspect_a_project(tmp_path: Path) -> None:
    info = inspect_lean_project(make_project(tmp_path / "proj"))
    assert info == {
        "project": str(tmp_path / "proj"),
        "lakefile": "lakefile.toml",
        "lean-toolchain": "leanprover/lean4:v4.24.0",
        "mathlib": "v4.24.0 (rev f897ebcf72cd)",
        "mathlib built": True,
        "repl": "dependency REPL v4.24.0 (rev 0123456789ab)",
        "repl built": False,
    }
    built = inspect_lean_project(make_project(tmp_path / "p2", repl_built=True))
    assert built["repl built"] is True
    bare = inspect_lean_project(make_project(tmp_path / "p3", mathlib_built=False))
    assert bare["mathlib built"] is False


def test_inspect_a_project_without_dependencies(tmp_path: Path) -> None:
    (tmp_path / "lakefile.lean").write_text("import Lake\nopen Lake DSL\n", encoding="utf-8")
    info = inspect_lean_project(tmp_path)
    assert info["lakefile"] == "lakefile.lean"
    assert info["lean-toolchain"] is None
    assert info["mathlib"] is None and info["mathlib built"] is False
    assert info["repl"] is None and info["repl built"] is False


def test_repl_from_a_fork_or_the_repl_itself(tmp_path: Path) -> None:
    fork = {
        "packages": [
            _package("repl", "https://github.com/someone/repl.git", "abc", "v4.24.0"),
        ]
    }
    info = inspect_lean_project(make_project(tmp_path / "fork", manifest=fork))
    assert info["repl"] == "dependency repl v4.24.0 (rev abc)"

    itself = tmp_path / "repl"
    itself.mkdir()
    (itself / "lakefile.toml").write_text(
        'name = "REPL"\n\n[[lean_exe]]\nname = "repl"\nroot = "REPL.Main"\n', encoding="utf-8"
    )
    (itself / ".lake" / "build" / "bin").mkdir(parents=True)
    (itself / ".lake" / "build" / "bin" / "repl").write_bytes(b"")
    info = inspect_lean_project(itself)
    assert info["repl"] and "lean_exe repl" in info["repl"]
    assert info["repl built"] is True


# ---------------------------------------------------------------- the report


@no_lean_here
def test_no_lean_on_this_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no lakefile here: no project
    report = _check_lean()
    assert report["name"] == "lean4" and report["ok"] is False
    assert report["lean"] is None and report["lake"] is None
    assert report["project"] is None
    for what in ("lake", "lean", "a Lean project"):
        assert any(m.startswith(what) for m in report["missing"])
    assert "not ready" in report["status"] and "lean" in report["status"]
    assert report["fix"] == LEAN_SETUP_STEPS
    json.dumps(report)  # the report is JSON


def test_project_fields_in_the_report(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    report = _check_lean(str(root))
    assert report["project"] == str(root)
    assert report["lean-toolchain"] == "leanprover/lean4:v4.24.0"
    assert report["mathlib"] == "v4.24.0 (rev f897ebcf72cd)" and report["mathlib built"] is True
    assert report["repl"].startswith("dependency REPL") and report["repl built"] is False
    assert "the REPL executable (lake build repl)" in report["missing"]
    assert report["ok"] is HAS_LEAN  # the project is complete enough; the tools decide
    if not HAS_LEAN:
        assert report["fix"] == LEAN_SETUP_STEPS


def test_project_that_is_not_one(tmp_path: Path) -> None:
    report = _check_lean(str(tmp_path / "missing"))
    assert report["ok"] is False
    assert any("is not a folder" in m for m in report["missing"])
    report = _check_lean(str(tmp_path))  # a folder, but no lakefile
    assert report["ok"] is False
    assert any("no lakefile" in m for m in report["missing"])


def test_toolchain_differs_from_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data" / "minif2f-lean4"
    (data / "valid").mkdir(parents=True)
    (data / "lean-toolchain").write_text("leanprover/lean4:v4.24.0\n", encoding="utf-8")
    monkeypatch.setenv("PROVER_GYM_DATA", str(tmp_path / "data"))
    monkeypatch.setitem(sys.modules, "prover_env.lean.dojo", None)  # no LeanDojo warning
    report = _check_lean(str(make_project(tmp_path / "old", toolchain="leanprover/lean4:v4.9.0")))
    assert report["minif2f-lean4 data"] == f"{data} (leanprover/lean4:v4.24.0)"
    assert "v4.9.0" in report["warning"] and "v4.24.0" in report["warning"]
    same = _check_lean(str(make_project(tmp_path / "new")))
    assert "warning" not in same
    assert not any("MiniF2F" in m for m in same["missing"])


def test_lean_dojo_field() -> None:
    report = _check_lean()
    if doctor.importlib.util.find_spec("lean_dojo") is None:
        assert report["lean_dojo"].startswith("not installed")
        assert "prover-gym[lean]" in report["lean_dojo"]
    else:
        assert not report["lean_dojo"].startswith("not installed")


def test_dojo_version_warning_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str | None, str | None]] = []

    def dojo_version_warning(lean_dojo_version: str | None, lean_version: str | None) -> str:
        calls.append((lean_dojo_version, lean_version))
        return "LeanDojo 1.x cannot trace Lean >= 4.12"

    fake = types.ModuleType("prover_env.lean.dojo")
    fake.dojo_version_warning = dojo_version_warning  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "prover_env.lean.dojo", fake)
    report = _check_lean(str(make_project(tmp_path / "proj")))
    assert "LeanDojo 1.x cannot trace Lean >= 4.12" in report["warning"]
    assert len(calls) == 1
    assert calls[0][0] == doctor._lean_dojo_version()
    if not HAS_LEAN:  # no `lean --version` here: the version comes from the project's toolchain
        assert calls[0][1] == "4.24.0"


def test_doctor_works_without_the_dojo_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prover_env.lean.dojo", None)  # import raises ImportError
    report = _check_lean()
    assert "warning" not in report or "LeanDojo" not in report["warning"]


def test_a_broken_dojo_warning_does_not_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dojo_version_warning(lean_dojo_version: str | None, lean_version: str | None) -> str:
        raise ValueError("bad version")

    fake = types.ModuleType("prover_env.lean.dojo")
    fake.dojo_version_warning = dojo_version_warning  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "prover_env.lean.dojo", fake)
    assert "bad version" in _check_lean(str(tmp_path))["warning"]


# ---------------------------------------------------------------- the command line


def test_cli_lean_project_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(tmp_path / "proj")
    code = main(["doctor", "--json", "--lean-project", str(root)])
    reports = json.loads(capsys.readouterr().out)
    coq = next(r for r in reports if r["name"] == "coq")
    assert code == (0 if coq["ok"] else 1)  # the exit code follows the Coq backend only
    lean = next(r for r in reports if r["name"] == "lean4")
    assert set(lean) >= {"name", "ok", "elan", "lake", "lean", "project", "repl", "missing"}
    assert isinstance(lean["ok"], bool)
    assert lean["project"] == str(root) and lean["mathlib"].startswith("v4.24.0")


@no_lean_here
def test_cli_text_prints_pasteable_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    main(["doctor"])
    out = capsys.readouterr().out
    assert "--  lean4" in out
    assert "\ncat > lakefile.toml <<'EOF'\n" in out and "\nEOF\n" in out
    assert "\nlake exe cache get\n" in out
