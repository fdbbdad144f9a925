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
# out of the build context). Builds with BuildKit and with the classic builder alike (no heredocs, no RUN --mount,
# no `# syntax=` line, so nothing but the base image is pulled). Without Docker Hub: deploy/offline-images.sh.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: termserver and its dependencies in a virtual environment, copied whole into the runtime stage
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# pyproject.toml names README.md as the long description, so the build needs it
COPY pyproject.toml README.md ./
COPY termserver ./termserver
COPY loaders ./loaders
# no pip inside the environment: the base image's pip installs into it (--python), so the runtime image carries
# neither a second pip nor the wheels; the runtime stage copies the environment as one layer
# the dependencies' own test suites (pandas, numpy, fhir.resources: ~70 MB) are never run here
RUN python -m venv --without-pip /opt/termserver \
 && pip --python /opt/termserver/bin/python install . \
 && find /opt/termserver/lib -depth -type d -name tests -path '*/site-packages/*' -exec rm -rf {} + \
 && /opt/termserver/bin/python -c "import termserver, loaders, gunicorn, pandas, numpy, fhir.resources"

# ---- runtime
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="termserver" \
      org.opencontainers.image.description="FHIR R4 terminology server for Danish general practice (ICPC-2, SKS, ICD-10, NPU, MCS)"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/termserver/bin:$PATH \
    TERMSERVER_DATA_DIR=/var/lib/termserver \
    TERMSERVER_DATA=/data/releases \
    TERMSERVER_LEXICONS=/usr/share/termserver/synonyms-da.tsv \
    WORKERS=2 \
    LOAD_ON_START=auto

# same base image, same path: the environment's python links to the same interpreter in both stages
COPY --from=build /opt/termserver /opt/termserver

COPY data/synonyms-da.tsv /usr/share/termserver/synonyms-da.tsv

RUN groupadd --system --gid 10001 termserver \
 && useradd --system --uid 10001 --gid termserver --home-dir /var/lib/termserver --no-create-home \
        --shell /usr/sbin/nologin termserver \
 && mkdir -p /var/lib/termserver /data/releases \
 && chown termserver:termserver /var/lib/termserver

# executable in git (mode 0755), and COPY keeps the mode
COPY deploy/docker-entrypoint.sh /usr/local/bin/termserver-entrypoint

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
