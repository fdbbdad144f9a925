# syntax=docker/dockerfile:1.7
# termserver: FHIR R4 terminology server for Danish general practice.
#
#   docker build -t termserver .
#   docker run -p 8080:8080 \
#       -v /path/to/releases:/data/releases:ro \
#       -v termserver-data:/var/lib/termserver \
#       termserver
#
# On start the container loads the releases mounted at /data/releases (a no-op for files already loaded),
# then serves the API with gunicorn on port 8080. Without a mount it serves what the volume already holds.
# Any other command runs instead, e.g. `docker run --rm -v termserver-data:/var/lib/termserver termserver
# termserver info`. WORKERS sets the number of gunicorn workers (default 2).
# Needs BuildKit (the default builder since Docker 23) for the heredoc and the bind mount below.

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: the termserver wheel plus wheels of all its dependencies
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# pyproject.toml names README.md as the long description, so the build needs it
COPY pyproject.toml README.md ./
COPY termserver ./termserver
COPY loaders ./loaders
RUN pip wheel --wheel-dir /wheels .

# ---- runtime
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="termserver" \
      org.opencontainers.image.description="FHIR R4 terminology server for Danish general practice (ICPC-2, SKS, ICD-10, NPU, MCS)"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TERMSERVER_DATA_DIR=/var/lib/termserver \
    TERMSERVER_DATA=/data/releases \
    TERMSERVER_LEXICONS=/usr/share/termserver/synonyms-da.tsv \
    WORKERS=2

# the wheels are bind-mounted from the build stage, so they never become a layer of this image;
# pip chose the versions once, in the build stage; --no-index installs exactly those wheels
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels termserver

COPY data/synonyms-da.tsv /usr/share/termserver/synonyms-da.tsv

RUN groupadd --system --gid 10001 termserver \
 && useradd --system --uid 10001 --gid termserver --home-dir /var/lib/termserver --no-create-home \
        --shell /usr/sbin/nologin termserver \
 && mkdir -p /var/lib/termserver /data/releases \
 && chown termserver:termserver /var/lib/termserver

COPY --chmod=0755 <<'EOF' /usr/local/bin/termserver-entrypoint
#!/bin/sh
# Load the mounted releases (unchanged files are a no-op), then serve. A failed load stops the container:
# the database keeps its previous content, but a release that does not load should not go unnoticed.
set -eu
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
releases="${TERMSERVER_DATA:-/data/releases}"
if [ -d "$releases" ] && [ -n "$(ls -A "$releases" 2>/dev/null)" ]; then
    termserver load --quiet "$releases" ${TERMSERVER_LEXICONS:+$(echo "$TERMSERVER_LEXICONS" | tr ':' ' ')}
else
    echo "termserver: no releases mounted at $releases; serving what the database holds" >&2
fi
exec termserver serve --host 0.0.0.0 --port 8080 --workers "${WORKERS:-2}"
EOF

# numeric, so that Kubernetes' runAsNonRoot can check it
USER 10001:10001
WORKDIR /var/lib/termserver
# declared after the chown, so a new named volume starts out owned by the termserver user
VOLUME ["/var/lib/termserver"]
EXPOSE 8080

# /fhir/metadata needs no database query: this checks that gunicorn answers, not what is loaded
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/fhir/metadata', timeout=4)"]

ENTRYPOINT ["/usr/local/bin/termserver-entrypoint"]
