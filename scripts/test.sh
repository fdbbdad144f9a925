#!/usr/bin/env bash
# Install termserver with its test extras into .venv (and Debian's Chromium for the web page tests, iptables for
# the unreachable-database test) and run the whole test suite: once on SQLite, then again on PostgreSQL when a
# server can be started here (always in CI).
#   bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
install_termserver "[test]"
# tests/web drive a real browser: Playwright (a test extra) with Debian's chromium, not a downloaded one
missing=()
if ! command -v chromium >/dev/null 2>&1 && [ -z "${TERMSERVER_CHROMIUM:-}" ]; then
  missing+=(chromium)
fi
# the unreachable-database test drops PostgreSQL's packets with iptables (as root; skipped where it cannot)
if [ "$(id -u)" = "0" ] && ! command -v iptables >/dev/null 2>&1; then
  missing+=(iptables)
fi
if [ ${#missing[@]} -gt 0 ]; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >&2
fi

echo "== tests on SQLite"
.venv/bin/python -m pytest "$@"

if [ "${TERMSERVER_SKIP_POSTGRES:-}" = "1" ]; then
  echo "== PostgreSQL run skipped (TERMSERVER_SKIP_POSTGRES=1)"
  exit 0
fi
url=$(bash scripts/postgres.sh) || { echo "PostgreSQL could not be started" >&2; exit 1; }
echo "== tests on PostgreSQL"
TERMSERVER_TEST_DATABASE_URL="$url" .venv/bin/python -m pytest "$@"
