#!/usr/bin/env bash
# Re-create assets/plotly/plotly-jetlab.min.js, the partial plotly.js build the dashboard serves
# (scripts/partial_plotly.py). Needs node and npm with a registry; the app itself never runs this.
#   bash scripts/build_plotly_bundle.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)/assets/plotly"
work="$here/.build"  # a fixed folder: the bundle's one inlined <style> id is a hash of the build path
rm -rf "$work" && mkdir "$work"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/entry.js" "$here/build.js" "$work/"
(cd "$work" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null && node build.js entry.js bundle.js)
mv "$work/bundle.js" "$here/plotly-jetlab.min.js.tmp"
mv "$here/plotly-jetlab.min.js.tmp" "$here/plotly-jetlab.min.js"
echo "wrote $here/plotly-jetlab.min.js ($(wc -c <"$here/plotly-jetlab.min.js") bytes)"
