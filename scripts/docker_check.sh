#!/usr/bin/env bash
# Build the hosted image here and check it: Docker engine and mmdebstrap from Debian (installed if missing, as
# root), a Debian bookworm base built with mmdebstrap and imported (no image registry needed), the image built on
# it, started, waited for its health check, every page opened in Chromium (Playwright) with one and with five
# browser sessions; prints image size, start-up time and container memory.
#
#   sudo scripts/docker_check.sh            # everything
#   KEEP=1 scripts/docker_check.sh          # leave the container running afterwards
# Environment: WORK (scratch folder, default /var/tmp/jetlab-docker), PORT (default 8599), PYTHON (a Python with
# pip and Playwright; default .venv/bin/python), LOCAL_WHEELS (1: wheels downloaded here and served to the build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=${WORK:-/var/tmp/jetlab-docker}
PORT=${PORT:-8599}
IMAGE=${IMAGE:-jetlab:check}
BASE=${BASE:-jetlab-base:bookworm}
NAME=jetlab-check
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=/work/main/.venv/bin/python
mkdir -p "$WORK"
say() { printf '[docker_check %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# 1. Tools from Debian.
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "error: run as root to install ${need[*]}" >&2; exit 2; }
    say "installing ${need[*]} from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" uidmap >/dev/null
fi

# 2. A Docker engine (host networking only: no bridge or iptables needed).
if ! docker info >/dev/null 2>&1; then
    say "starting dockerd (log: $WORK/dockerd.log)"
    for driver in overlay2 vfs; do
        dockerd --storage-driver="$driver" --iptables=false --ip6tables=false --bridge=none \
            >"$WORK/dockerd.log" 2>&1 &
        echo $! >"$WORK/dockerd.pid"
        for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
        docker info >/dev/null 2>&1 && break
        say "dockerd with $driver did not start; $(tail -n 2 "$WORK/dockerd.log" | tr '\n' ' ')"
        kill "$(cat "$WORK/dockerd.pid")" 2>/dev/null || true
        sleep 2
    done
    docker info >/dev/null 2>&1 || { echo "error: dockerd does not start here (see $WORK/dockerd.log)" >&2; exit 1; }
fi
say "docker: $(docker version --format '{{.Server.Version}}') storage $(docker info --format '{{.Driver}}')"

# 3. The base image: Debian bookworm minbase from Debian's own packages.
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    say "building the base with mmdebstrap"
    mmdebstrap --variant=minbase --quiet bookworm "$WORK/base.tar" http://deb.debian.org/debian
    docker import "$WORK/base.tar" "$BASE" >/dev/null
    rm -f "$WORK/base.tar"
fi

# 4. The image. With LOCAL_WHEELS=1 (the default here, where the build cannot reach PyPI through this machine's
# TLS proxy), every wheel is first downloaded on this machine with its own pip configuration (local mirrors, the
# CPU torch wheel) and served to the build over 127.0.0.1; LOCAL_WHEELS=0 lets the build use the internet.
args=(--build-arg "BASE_IMAGE=$BASE")
if [ "${LOCAL_WHEELS:-1}" = 1 ]; then
    say "downloading wheels with this machine's pip (log: $WORK/download.log)"
    "$PYTHON" -m pip download --only-binary=:all: -c constraints.txt -r requirements.txt -d "$WORK/wheels" >"$WORK/download.log" 2>&1 \
        || { tail -n 20 "$WORK/download.log"; echo "error: pip download failed" >&2; exit 1; }
    MPORT=8765
    "$PYTHON" -m http.server "$MPORT" --bind 127.0.0.1 --directory "$WORK/wheels" >"$WORK/wheels.log" 2>&1 &
    WHEELS_PID=$!
    trap 'kill $WHEELS_PID 2>/dev/null || true' EXIT
    sleep 1
    args+=(--build-arg "PIP_INDEX_URL=http://127.0.0.1:$MPORT/" --build-arg "PIP_FIND_LINKS=http://127.0.0.1:$MPORT/"
        --build-arg "PIP_TRUSTED_HOST=127.0.0.1" --build-arg "TORCH_INDEX_URL=")
    say "$(ls "$WORK/wheels" | wc -l) wheels served on 127.0.0.1:$MPORT"
fi
say "building $IMAGE"
t0=$(date +%s)
docker build --network host "${args[@]}" -t "$IMAGE" . >"$WORK/build.log" 2>&1 \
    || { tail -n 30 "$WORK/build.log"; echo "error: docker build failed (log: $WORK/build.log)" >&2; exit 1; }
say "built in $(( $(date +%s) - t0 )) s"
size=$(docker image inspect "$IMAGE" --format '{{.Size}}')

# 5. Start it and wait for the health check.
docker rm -f "$NAME" >/dev/null 2>&1 || true
t0=$(date +%s%N)
docker run -d --name "$NAME" --network host -e STREAMLIT_SERVER_PORT="$PORT" "$IMAGE" >/dev/null
until [ "$(docker inspect -f '{{.State.Health.Status}}' "$NAME")" = healthy ]; do
    [ "$(docker inspect -f '{{.State.Running}}' "$NAME")" = true ] || { docker logs "$NAME" | tail -n 20; exit 1; }
    curl -fsS "http://127.0.0.1:$PORT/_stcore/health" >/dev/null 2>&1 && break
    sleep 0.5
done
startup=$(( ($(date +%s%N) - t0) / 100000000 ))
startup="$(( startup / 10 )).$(( startup % 10 ))"
user=$(docker exec "$NAME" id -un)
hosted=$(docker exec "$NAME" printenv JETLAB_HOSTED)
mem() { docker stats --no-stream --format '{{.MemUsage}}' "$NAME" | cut -d/ -f1 | tr -d ' '; }
idle=$(mem)
say "healthy after ${startup}s as user $user (JETLAB_HOSTED=$hosted); memory idle $idle"
say "$(docker logs "$NAME" 2>&1 | grep -m1 'plotly' || echo 'the server printed no plotly.js line')"

# 6. Every page in Chromium, with one and then five browser sessions at once.
"$PYTHON" scripts/docker_pages.py "http://127.0.0.1:$PORT" 1 && one=$(mem)
"$PYTHON" scripts/docker_pages.py "http://127.0.0.1:$PORT" 5 && five=$(mem)
say "image $(( size / 1024 / 1024 )) MiB; start-up ${startup}s; memory idle $idle, one session $one, five sessions $five"
[ -n "${KEEP:-}" ] || docker rm -f "$NAME" >/dev/null
