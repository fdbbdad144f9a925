#!/bin/sh
# Stand-ins for the base images the Dockerfile and docker-compose.yml pull from Docker Hub, for a machine that
# cannot reach Docker Hub but can reach Debian's package mirrors (and PyPI, which the image build needs anyway).
#
#   sudo sh deploy/offline-images.sh            # then, unchanged: docker build -t termserver . / docker-compose up
#
# It debootstraps a minimal Debian bookworm (variant minbase), imports it as termserver-offline/debian:bookworm and
# builds on it, tagged with the names the committed files use, so neither needs a build argument or an edit:
#
#   python:3.11-slim-bookworm   Debian's python3 (3.11), python3-venv and pip; `python`/`pip` on PATH and pip allowed
#                               to install into the system (no EXTERNALLY-MANAGED), as in the official image
#   postgres:16                 Debian's PostgreSQL 15 (bookworm has no 16; the schema needs nothing newer) with a
#                               small entrypoint: initdb as the postgres user on first start, POSTGRES_USER,
#                               POSTGRES_PASSWORD, POSTGRES_DB, /docker-entrypoint-initdb.d/*.sh|*.sql, scram-sha-256
#                               for network clients, then `postgres` as uid postgres
#   nginx:stable-alpine         Debian's nginx (1.22), wget for the health check, logs to stdout/stderr; reads
#                               /etc/nginx/nginx.conf as the official image does (Debian, not Alpine, inside)
#
# These tags shadow the real images on this machine: `docker rmi` them before pulling the real ones where Docker
# Hub is reachable. Sizes differ from the official images' (here: debian 74 MB, python 147 MB, postgres 377 MB,
# nginx 90 MB), so image sizes measured on them are approximate. Needs root (debootstrap, docker); a few minutes.
#
# Variables: DEBIAN_MIRROR (default http://deb.debian.org/debian), ROOTFS_DIR (default: a temporary directory),
# KEEP_ROOTFS=1 to keep it, EXTRA_CA_CERTS (CA files the python stand-in trusts besides Debian's, for pip behind a
# TLS-intercepting proxy; default: the host's /usr/local/share/ca-certificates/*.crt).
set -eu

mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
base=termserver-offline/debian:bookworm

command -v debootstrap >/dev/null || {
    echo "offline-images: debootstrap is missing (apt-get install debootstrap)" >&2
    exit 1
}

if docker image inspect "$base" >/dev/null 2>&1; then
    echo "offline-images: $base exists; not bootstrapping again (docker rmi $base to rebuild it)"
else
    rootfs="${ROOTFS_DIR:-$(mktemp -d /tmp/termserver-rootfs.XXXXXX)}"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
    cat > "$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
    # as in Docker's debian images: no package caches, lists or documentation in the layers of images built on it
    cat > "$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
    cat > "$rootfs/etc/dpkg/dpkg.cfg.d/docker-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    tar --numeric-owner -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - "$base"
    if [ "${KEEP_ROOTFS:-0}" != 1 ]; then
        rm -rf "$rootfs"
    fi
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# ---- python:3.11-slim-bookworm
# behind a TLS-intercepting proxy, pip in the image build needs the proxy's CA: the host's local CAs are trusted too
mkdir -p "$tmp/python/certs"
for cert in ${EXTRA_CA_CERTS:-/usr/local/share/ca-certificates/*.crt}; do
    if [ -f "$cert" ]; then cp "$cert" "$tmp/python/certs/"; fi
done
cat > "$tmp/python/Dockerfile" <<EOF
FROM $base
ENV LANG=C.UTF-8
COPY certs/ /usr/local/share/ca-certificates/
# pip may install into the system, as in the official image; python and pip under their short names
RUN apt-get update \\
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates \\
 && rm -rf /var/lib/apt/lists/* \\
 && rm -f /usr/lib/python3.*/EXTERNALLY-MANAGED \\
 && ln -s /usr/bin/python3 /usr/local/bin/python \\
 && ln -s /usr/bin/pip3 /usr/local/bin/pip \\
 && python --version && pip --version
CMD ["python3"]
EOF
docker build -t python:3.11-slim-bookworm "$tmp/python"

# ---- postgres:16 (PostgreSQL 15)
mkdir -p "$tmp/postgres"
cat > "$tmp/postgres/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# The parts of the official postgres image's entrypoint that termserver's docker-compose.yml uses.
set -eu
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    export POSTGRES_USER="${POSTGRES_USER:-postgres}"
    export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    # initialise over the Unix socket only, then start for real
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
        # psql interpolates :"db" in its input, not in -c
        echo 'CREATE DATABASE :"db";' | psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
            --set db="$POSTGRES_DB" >/dev/null
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh) echo "docker-entrypoint: running $f"; sh "$f" ;;
            *.sql) echo "docker-entrypoint: running $f"
                psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f "$f" ;;
            *) ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "docker-entrypoint: database initialised"
fi
exec "$@"
EOF
cat > "$tmp/postgres/Dockerfile" <<EOF
FROM $base
# no cluster from the package: the entrypoint makes one in \$PGDATA
RUN mkdir -p /etc/postgresql-common/createcluster.d \\
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/no-main.conf \\
 && apt-get update \\
 && apt-get install -y --no-install-recommends postgresql-15 \\
 && rm -rf /var/lib/apt/lists/*
ENV LANG=C.UTF-8 \\
    PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PGDATA=/var/lib/postgresql/data
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh \\
 && mkdir -p /docker-entrypoint-initdb.d "\$PGDATA" /var/run/postgresql \\
 && chown postgres:postgres "\$PGDATA" /var/run/postgresql
VOLUME /var/lib/postgresql/data
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
EOF
docker build -t postgres:16 "$tmp/postgres"

# ---- nginx:stable-alpine (Debian's nginx)
docker build -t nginx:stable-alpine - <<EOF
FROM $base
RUN apt-get update \\
 && apt-get install -y --no-install-recommends nginx wget \\
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \\
 && ln -sf /dev/stdout /var/log/nginx/access.log \\
 && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
EOF

docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' \
    | grep -E '^(termserver-offline/debian:bookworm|python:3.11-slim-bookworm|postgres:16|nginx:stable-alpine) '
