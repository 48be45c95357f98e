# The pipeline image: Prefect flows, the xfmr CLI, the MLflow tracking server and the Prefect server.
# The same pinned lock as development (requirements.lock); the scoring API has its own slim image
# (serving/Dockerfile). Build from the repository root:
#   docker build -f docker/flows.Dockerfile -t xfmr-flows .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    XFMR_HOME=/var/lib/xfmr \
    PREFECT_HOME=/var/lib/xfmr/prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    DO_NOT_TRACK=1 \
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false \
    OMP_NUM_THREADS=1

# XGBoost's OpenMP runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Pinned dependencies first (cached layer), then the package itself without resolving anything again.
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY pyproject.toml README.md ./
COPY tasks ./tasks
COPY flows ./flows
COPY monitoring ./monitoring
COPY serving ./serving
COPY replay ./replay
COPY fleetsim ./fleetsim
COPY cli ./cli
COPY demo ./demo
COPY launcher ./launcher
RUN pip install --no-deps . && xfmr --help > /dev/null

# One unprivileged user owns the state folders the services write: the pipeline's home,
# MLflow's artifacts and user store, and Prefect's home.
RUN useradd --system --uid 10001 --home-dir /var/lib/xfmr --shell /usr/sbin/nologin xfmr \
    && mkdir -p /var/lib/xfmr/prefect /var/lib/xfmr/predictions /var/lib/mlflow/artifacts /var/lib/prefect \
    && chown -R xfmr /var/lib/xfmr /var/lib/mlflow /var/lib/prefect
USER xfmr
WORKDIR /var/lib/xfmr

STOPSIGNAL SIGTERM
CMD ["xfmr", "--help"]
