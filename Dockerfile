# syntax=docker/dockerfile:1.7
# termserver: FHIR R4 terminology server for Danish general practice.
#
#   docker build -t termserver .
#
# One container, SQLite (the database lives in the volume):
#   docker run -p 8080:8080 -v /path/to/releases:/data/releases:ro -v termserver-data:/var/lib/termserver termserver
#   On start it loads the releases mounted at /data/releases (a no-op for files already loaded), then serves the API
#   with gunicorn on port 8080. Without a mount it serves what the volume already holds.
#
# Scale-out, PostgreSQL (docker-compose.yml): with TERMSERVER_DATABASE_URL=postgresql+psycopg://... the container
#   only serves; a one-shot loader job (`termserver db upgrade && termserver load ...`) writes the primary, and every
#   node rebuilds its index when it sees the store's generation change.
#
# Variables of this entrypoint (the server's own TERMSERVER_* settings are in the README):
#   WORKERS        gunicorn workers (default 2; each costs ~70 MiB after warm-up, ~300 MiB after a release reload)
#   LOAD_ON_START  auto (default: load /data/releases when the database is SQLite, never for PostgreSQL) | true | false
#   GUNICORN_CMD_ARGS  further gunicorn options, read by gunicorn itself (e.g. "--timeout 30 --graceful-timeout 20")
# Any other command runs instead of the server, e.g. `docker run --rm termserver termserver info`.
# Release files are licensed: they are mounted at run time and never part of the image (.dockerignore keeps them
# out of the build context). Needs BuildKit (the default builder since Docker 23) for the heredoc and bind mount.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

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
    WORKERS=2 \
    LOAD_ON_START=auto

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
# Serve; with SQLite, first load the mounted releases (unchanged files are a no-op). A failed load stops the
# container: the database keeps its previous content, but a release that does not load should not go unnoticed.
# With PostgreSQL several nodes share one store, so none of them loads: the loader job does, once, on the primary.
set -eu
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
load="${LOAD_ON_START:-auto}"
if [ "$load" = auto ]; then
    case "${TERMSERVER_DATABASE_URL:-sqlite}" in
        postgres*) load=false ;;
        *) load=true ;;
    esac
fi
releases="${TERMSERVER_DATA:-/data/releases}"
if [ "$load" = true ]; then
    if [ -d "$releases" ] && [ -n "$(ls -A "$releases" 2>/dev/null)" ]; then
        # the schema first, where this version of termserver has migrations
        if termserver db --help >/dev/null 2>&1; then
            termserver db upgrade
        fi
        # word splitting of the ':'-separated lexicon list into paths is intended
        # shellcheck disable=SC2046
        termserver load --quiet "$releases" ${TERMSERVER_LEXICONS:+$(echo "$TERMSERVER_LEXICONS" | tr ':' ' ')}
    else
        echo "termserver: no releases mounted at $releases; serving what the database holds" >&2
    fi
fi
exec termserver serve --host 0.0.0.0 --port 8080 --workers "${WORKERS:-2}"
EOF

# numeric, so that Kubernetes' runAsNonRoot can check it
USER 10001:10001
WORKDIR /var/lib/termserver
# declared after the chown, so a new named volume starts out owned by the termserver user (SQLite only; a node on
# PostgreSQL writes nothing and can run with a read-only root file system and a tmpfs /tmp)
VOLUME ["/var/lib/termserver"]
EXPOSE 8080

# /healthz: the process answers (no database query, no index check). Readiness (store reachable, index built) is
# /readyz, for the load balancer and orchestrators; an unready node is not an unhealthy one and must not be killed.
# With SQLite the load runs before gunicorn starts: the start period covers a first load of every release (~15 s).
HEALTHCHECK --interval=15s --timeout=3s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]

ENTRYPOINT ["/usr/local/bin/termserver-entrypoint"]
