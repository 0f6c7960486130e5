"""The documentation: the site builds with warnings as errors, and its Python examples run.

Code blocks are read the way the site renders them (``--8<--`` includes of README sections
resolved), then each page's ``python`` blocks run in order in one fresh interpreter, as a reader
pasting them would; blocks that need a Lean toolchain or MiniF2F data skip without them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import coqidetop_pids, minif2f_available

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
INCLUDE = re.compile(r'^--8<-- "([^":]+)(?::([\w-]+))?"\s*$', re.M)
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def section(path: Path, name: str | None) -> str:
    """A file, or its ``--8<-- [start:NAME]`` ... ``[end:NAME]`` section, markers dropped."""
    text = (REPO / path).read_text()
    if name is not None:
        start, end = f"--8<-- [start:{name}]", f"--8<-- [end:{name}]"
        assert start in text and end in text, f"{path} has no section {name!r}"
        text = text.split(start, 1)[1].split("\n", 1)[1].split(end, 1)[0].rsplit("\n", 1)[0]
    return "\n".join(line for line in text.splitlines() if "--8<-- [" not in line)


def rendered(page: Path) -> str:
    return INCLUDE.sub(lambda m: section(Path(m.group(1)), m.group(2)), page.read_text())


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def test_every_include_resolves() -> None:
    for page in pages():
        for m in INCLUDE.finditer(page.read_text()):
            assert section(Path(m.group(1)), m.group(2)).strip(), f"{page.name}: empty {m[0]}"


def test_every_page_is_in_the_nav() -> None:
    nav = (REPO / "mkdocs.yml").read_text()
    for page in pages():
        assert str(page.relative_to(DOCS)) in nav, f"{page} is not in mkdocs.yml's nav"


def test_site_builds_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict``: broken links, anchors, API references and docstrings fail."""
    pytest.importorskip("mkdocstrings")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    cli = (tmp_path / "site" / "cli" / "index.html").read_text()
    for command in ("demo", "doctor", "play", "eval", "synth", "sft", "train", "suite"):
        assert f'id="prover-gym-{command}"' in cli
    api = (tmp_path / "site" / "api" / "prover_env" / "index.html").read_text()
    assert 'id="prover_env.env.ProverEnv"' in api
    assert 'href="#prover_env.types.Theorem"><code>Theorem</code></a>' in api  # a :class: role
    assert 'id="prover_env.registration.ENV_IDS"' in api  # a constant documented by `#:`
    for page in (tmp_path / "site" / "api").rglob("*.html"):
        assert ":class:`" not in page.read_text(), f"{page}: a Sphinx role left unrendered"


def code_pages() -> list[Path]:
    return [p for p in pages() if BLOCK.search(rendered(p))]


@pytest.mark.parametrize("page", code_pages(), ids=lambda p: p.stem)
def test_python_examples_run(page: Path, tmp_path: Path) -> None:
    code = "\n\n".join(BLOCK.findall(rendered(page)))
    if "Lean" in code and shutil.which("lake") is None:
        code = "\n\n".join(b for b in BLOCK.findall(rendered(page)) if "Lean" not in b)
    if ("minif2f" in code.lower()) and not minif2f_available():
        pytest.skip("MiniF2F-rocq not found (PROVER_GYM_DATA)")
    if not code.strip():
        pytest.skip("only Lean examples, and no Lean toolchain here")
    before = set(coqidetop_pids())
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, f"{page.name}:\n{proc.stderr[-4000:]}"
    assert set(coqidetop_pids()) <= before, "an example left a coqidetop behind"


def test_examples_page_lists_every_example_and_its_ci_command() -> None:
    from test_examples import SMOKE

    text = (DOCS / "examples.md").read_text()
    for name, args in SMOKE.items():
        assert f"examples/{name}" in text
        assert f"CI: `{' '.join(['python', f'examples/{name}', *args])}`" in text, name
