#!/usr/bin/env bash
# Install termserver into .venv, load every release it finds, and serve the FHIR API.
#   bash scripts/serve.sh [--host 127.0.0.1] [--port 8080] [--workers 2]
# Releases: $TERMSERVER_DATA, else data/releases, else ../shared/data (see README "Getting the releases").
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
install_termserver ""
.venv/bin/termserver load
exec .venv/bin/termserver serve "$@"
