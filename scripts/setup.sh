#!/usr/bin/env bash
# Set up prover-gym on a fresh Debian/Ubuntu machine: the Coq prover from apt, then a
# virtual environment in .venv with the package and its test tools. Idempotent: a second run
# only checks that everything is there.
#
#   bash scripts/setup.sh            # Coq + .venv with prover-gym[dev,llm,eval,rl,docs]
#   EXTRAS=dev bash scripts/setup.sh  # without the LLM parts
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${EXTRAS:-dev,llm,eval,rl,docs}"
VENV="${VENV:-.venv}"
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

# 1. Coq 8.16 (Debian bookworm), Coquelicot for MiniF2F's real-analysis statements, csdp for psatz.
need=()
command -v coqidetop.opt >/dev/null 2>&1 || command -v coqidetop >/dev/null 2>&1 || need+=(coq)
[ -d /usr/lib/ocaml/coq/user-contrib/Coquelicot ] || [ -d /usr/lib/coq/user-contrib/Coquelicot ] \
  || need+=(libcoq-coquelicot)
command -v csdp >/dev/null 2>&1 || need+=(coinor-csdp)
if [ ${#need[@]} -gt 0 ]; then
  echo "[setup] installing ${need[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq coq libcoq-coquelicot coinor-csdp >/dev/null
fi

# 2. The virtual environment. torch==2.13.0 goes first, on its own: a bare `torch` requirement
#    from any extra would otherwise pull a multi-GB CUDA build.
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  python3 -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "[setup] installing torch==2.13.0 (CPU)"
  "${PIP[@]}" "torch==2.13.0"
fi
if ! "$VENV/bin/python" -c "import prover_env" >/dev/null 2>&1 \
   || [ pyproject.toml -nt "$VENV/.prover-gym-installed" ] \
   || [ "$(cat "$VENV/.prover-gym-installed" 2>/dev/null)" != "$EXTRAS" ]; then
  echo "[setup] installing prover-gym[$EXTRAS] (editable)"
  "${PIP[@]}" -e ".[$EXTRAS]"
  echo "$EXTRAS" > "$VENV/.prover-gym-installed"
fi
echo "[setup] ready: $VENV/bin/prover-gym"
