# syntax=docker/dockerfile:1
# Trackstream container images: one per service, from one Dockerfile.
#
#   docker build --build-arg SERVICE=ingest  -t trackstream-ingest .     # python -m ingest
#   docker build --build-arg SERVICE=history -t trackstream-history .    # python -m history
#   docker build --target job --build-arg SERVICE=provision -t trackstream-provision .
#   docker build --target job --build-arg SERVICE=simulator -t trackstream-simulator .
#
# The build stage runs `make image-install`, the same install step CI runs for every image
# (`make image-check`, which also smoke-tests the result). The final stages hold the Python
# runtime, the service's virtual environment and nothing to build with; they run as a non-root
# user and work on a read-only root file system (the chart mounts an emptyDir at /tmp).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --------------------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# build-essential: gcc and the C library headers for trackstream_protocols' C extension, which
# the install step compiles (the runtime stages get the compiled module, not the compiler)
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1 build-essential=12.9 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile pyproject.toml uv.lock ./
COPY protos protos
COPY libs libs
COPY services services
ARG SERVICE=ingest
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
RUN make image-install SERVICE="${SERVICE}" IMAGE_VENV=/opt/trackstream/venv

# --------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE=ingest
ENV PATH=/opt/trackstream/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TRACKSTREAM_SERVICE=${SERVICE}
# .run/<service> (under /app): where a service keeps local state by default (identity's signing
# key when no file is given), owned by the user so that a volume mounted there is writable; the
# root file system itself stays read-only
RUN groupadd --system --gid 10001 trackstream \
    && useradd --system --uid 10001 --gid trackstream --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin trackstream \
    && mkdir -p "/app/.run/${SERVICE}" \
    && chown 10001:10001 "/app/.run/${SERVICE}"
WORKDIR /app
COPY --from=build /opt/trackstream/venv /opt/trackstream/venv
# the provisioning job runs the same script and migrations as `make provision`
COPY deploy/local/provision.py deploy/local/provision.py
COPY deploy/cassandra/migrations deploy/cassandra/migrations
USER 10001:10001

# --------------------------------------------------------------------------- job
# provision (python deploy/local/provision.py) and simulator (python -m trackstream_simulator)
FROM runtime AS job
HEALTHCHECK NONE
CMD ["/bin/sh", "-c", "if [ \"$TRACKSTREAM_SERVICE\" = provision ]; then exec python deploy/local/provision.py; else exec python -m trackstream_simulator; fi"]

# --------------------------------------------------------------------------- service (default)
# a long-running service: python -m <SERVICE>; healthy while its ops port answers /healthz
# (<SERVICE>_OPS_PORT, which the chart and deploy/compose.yaml set)
FROM runtime AS service
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; s = os.environ['TRACKSTREAM_SERVICE']; port = os.environ[s.upper() + '_OPS_PORT']; urllib.request.urlopen('http://127.0.0.1:' + port + '/healthz', timeout=2)"]
CMD ["/bin/sh", "-c", "exec python -m \"$TRACKSTREAM_SERVICE\""]
