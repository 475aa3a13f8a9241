# Tandem's web and worker image (docs/operations.md#docker). One image, two commands: `tandem serve` and
# `tandem worker`; compose.yaml runs both beside PostgreSQL and Redis.
FROM python:3.11-slim

# TANDEM_VAR_DIR: data that must survive the container (uploads, the generated secret key when none is given);
# mount a volume on it. The hashed static files are part of the image, outside it. PROMETHEUS_MULTIPROC_DIR:
# gunicorn's workers sum their request metrics through this folder (a tmpfs in compose.yaml).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TANDEM_VAR_DIR=/var/lib/tandem \
    TANDEM_STATIC_DIR=/opt/tandem/static \
    TANDEM_LOG_FORMAT=json \
    PROMETHEUS_MULTIPROC_DIR=/tmp/tandem-metrics

RUN useradd --system --uid 10001 --home-dir /var/lib/tandem --create-home --shell /usr/sbin/nologin tandem

WORKDIR /opt/tandem/src
COPY pyproject.toml README.md ./
COPY src ./src
# With the s3 extra, so several nodes can share uploads in a bucket (TANDEM_S3_BUCKET, docs/operations.md).
# Then the hashed, gzip-compressed static files, built once here; the key serves this step only (nothing is signed).
RUN pip install ".[s3]" \
    && TANDEM_SECRET_KEY=collectstatic-only TANDEM_VAR_DIR=/tmp/build-var tandem collectstatic --noinput \
    && rm -rf /tmp/build-var

USER tandem
WORKDIR /var/lib/tandem
EXPOSE 8000

# The worker runs as its own container (compose.yaml's `worker`), so `serve` starts gunicorn alone.
CMD ["tandem", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
