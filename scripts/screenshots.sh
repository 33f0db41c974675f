#!/usr/bin/env bash
# Re-make the README screenshots (assets/screenshots/*.png): runs the browser tests with JETLAB_SCREENSHOTS=1,
# the only way they are written (a plain `scripts/test.sh` run leaves the tracked files alone).
# Needs Debian's Chromium at /usr/bin/chromium (apt-get install --no-install-recommends chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
JETLAB_SCREENSHOTS=1 exec "$PY" -m pytest tests/browser -m browser -x -q "$@"
