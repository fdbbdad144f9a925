#!/bin/sh
# For a streaming read replica (docker-compose.yml, `replica`): mounted into the primary's
# /docker-entrypoint-initdb.d, it runs once, when the primary's data directory is created. It makes the role the
# replica connects as and lets that role connect for replication (the image's pg_hba.conf allows databases only).
set -eu
: "${POSTGRES_REPLICATION_PASSWORD:?set POSTGRES_REPLICATION_PASSWORD to create the replication role}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     --set password="$POSTGRES_REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
