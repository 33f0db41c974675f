#!/usr/bin/env bash
# Set up a fresh machine and run the whole test suite (what CI runs).
# Creates .venv, installs the pinned requirements and the test tools (at the versions in constraints.txt), installs Debian's Chromium
# for the browser tests when it is missing, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet -c constraints.txt -r requirements-test.txt
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
      || echo "warning: could not install chromium; browser tests will be skipped"
  else
    echo "note: chromium is not installed (sudo apt-get install --no-install-recommends chromium); browser tests will be skipped"
  fi
fi
exec .venv/bin/python -m pytest "$@"
