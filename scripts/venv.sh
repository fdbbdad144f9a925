#!/usr/bin/env bash
# Sourced by serve.sh and test.sh: make .venv (once) and install termserver into it with the extras given.
#   install_termserver ""        → the server
#   install_termserver "[test]"  → the server and what the tests need
install_termserver() {
  local python=${PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".$1"
}
