#!/usr/bin/env bash
# Set up a fresh machine and start the dashboard on the embedded sample and shipped checkpoints.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet -c constraints.txt -r requirements.txt
exec .venv/bin/python scripts/serve.py "$@"   # streamlit run app.py, imports and the first page warmed first
