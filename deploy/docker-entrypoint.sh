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
