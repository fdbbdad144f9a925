#!/usr/bin/env bash
# Install termserver into .venv, load every release it finds, and serve the FHIR API.
#   bash scripts/serve.sh [--host 127.0.0.1] [--port 8080] [--workers 2]
# Releases: $TERMSERVER_DATA, else data/releases, else ../shared/data (see README "Getting the releases").
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
.venv/bin/termserver load
exec .venv/bin/termserver serve "$@"
