#!/bin/sh
# Builds sse-tail and shows it streaming a demo log that a generator
# appends to, in this terminal (CGI mode: no web server needed).
# Ctrl-C stops everything it started. Usage: ./demo.sh
set -eu
cd "$(dirname "$0")"
top=$(pwd)

tools/need-packages build-essential autoconf automake pkg-config libfcgi-dev
if [ ! -x build/demo/src/sse-tail ]; then
	autoreconf -fi >/dev/null 2>&1
	mkdir -p build/demo
	(cd build/demo && "$top/configure" -q && make -s -j2 src/sse-tail)
fi

dir=$(mktemp -d /tmp/sse-tail-demo.XXXXXX)
cat > "$dir/sse-tail.conf" <<CONF
heartbeat = 5
[stream demo]
path = $dir/demo.log
CONF
: > "$dir/demo.log"
(
	n=0
	while :; do
		n=$((n + 1))
		echo "$(date '+%H:%M:%S') demo line $n" >> "$dir/demo.log"
		sleep 1
	done
) &
gen=$!
trap 'kill $gen 2>/dev/null; rm -rf "$dir"; exit 0' INT TERM EXIT
echo "Following $dir/demo.log; Ctrl-C to stop."
GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET \
	build/demo/src/sse-tail --config "$dir/sse-tail.conf" || true
