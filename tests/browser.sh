#!/bin/sh
# Tests sse-tail's viewer page in headless Chromium through lighttpd
# (tests/browser/run.js), and many streams on one page through nginx over
# HTTP/1.1 and HTTP/2 (which also need nginx-light and openssl). Needs root (lighttpd runs sse-tail as its own
# user otherwise), /usr/bin/chromium (apt-get install chromium), node and
# lighttpd, and playwright-core in tests/browser/node_modules (npm ci
# there; no browser is ever downloaded). Without them it says TAP's
# "1..0 # SKIP why" and exits 0 (skipped).
# Screenshots go to tests/browser/out/ (or $BROWSER_OUT).
# Usage: SSE_TAIL=/path/to/sse-tail tests/browser.sh [TEST-NAME...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "1..0 # SKIP browser tests: $*"; exit 0; }

[ "$(id -u)" = 0 ] || skip "not root"
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || skip "no $chromium (apt-get install chromium)"
command -v node >/dev/null 2>&1 || skip "no node (apt-get install nodejs npm)"
command -v lighttpd >/dev/null 2>&1 || skip "no lighttpd"
# test.sh installs it (npm ci in tests/browser); a tree without it, such
# as make distcheck's copy, skips.
[ -d "$here/browser/node_modules/playwright-core" ] ||
	skip "no playwright-core (cd tests/browser && npm ci)"

if [ -z "${BROWSER_OUT:-}" ]; then
	BROWSER_OUT=$here/browser/out
	mkdir -p "$BROWSER_OUT" 2>/dev/null && [ -w "$BROWSER_OUT" ] ||
		BROWSER_OUT=$(pwd)/browser-out
fi
export BROWSER_OUT CHROMIUM=$chromium
exec node "$here/browser/run.js" "$@"
