#!/bin/sh
exec python3 "$(dirname "$0")/e2e/run.py" "$@"
