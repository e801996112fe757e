#!/bin/sh
# The end-to-end tests (tests/e2e/run.py), TAP for automake's tap-driver.sh.
# Usage: SSE_TAIL=/path/to/sse-tail tests/e2e.sh [TEST | TOPIC | PREFIX* ...]
exec python3 "$(dirname "$0")/e2e/run.py" "$@"
