#!/bin/sh
# Builds sse-tail and starts a demo: lighttpd on 127.0.0.1:8080 runs it
# from conf/lighttpd-fastcgi.conf (only paths filled in) and streams a log
# that a small generator appends to. Ctrl-C stops everything it started.
# Usage: ./demo.sh [PORT]
set -eu
cd "$(dirname "$0")"
top=$(pwd)
port=${1:-8080}

tools/need-packages build-essential autoconf automake pkg-config libfcgi-dev lighttpd
if [ -f config.status ]; then
	# Configured in place (./configure && make): use that build.
	make -s src/sse-tail
	bin=$top/src/sse-tail
else
	[ -x configure ] || autoreconf -fi >/dev/null 2>&1
	mkdir -p build/demo
	(cd build/demo && { [ -f Makefile ] || "$top/configure" -q; } &&
		make -s -j2 src/sse-tail)
	bin=$top/build/demo/src/sse-tail
fi

dir=$(mktemp -d /tmp/sse-tail-demo.XXXXXX)
chmod 755 "$dir"
mkdir "$dir/www"
cat > "$dir/sse-tail.conf" <<CONF
heartbeat = 15
[stream demo]
path = $dir/demo.log
CONF
: > "$dir/demo.log"
chmod 644 "$dir/demo.log"

# The shipped snippet, with only the paths filled in.
sed -e "s|/usr/bin/sse-tail|$bin|" \
    -e "s|/etc/sse-tail.conf|$dir/sse-tail.conf|" \
    -e "s|/run/lighttpd/sse-tail.sock|$dir/sse-tail.sock|" \
    conf/lighttpd-fastcgi.conf > "$dir/sse-tail-lighttpd.conf"
cat > "$dir/lighttpd.conf" <<CONF
server.bind          = "127.0.0.1"
server.port          = $port
server.document-root = "$dir/www"
server.pid-file      = "$dir/lighttpd.pid"
server.errorlog      = "$dir/error.log"
include "$dir/sse-tail-lighttpd.conf"
CONF

gen=
lighttpd_pid=
cleanup() {
	trap - INT TERM EXIT
	set +e
	[ -n "$gen" ] && kill "$gen" 2>/dev/null
	if [ -n "$lighttpd_pid" ]; then
		# lighttpd stops its sse-tail on the way out.
		kill "$lighttpd_pid" 2>/dev/null
		wait "$lighttpd_pid" 2>/dev/null
	fi
	rm -rf "$dir"
	exit 0
}
trap cleanup INT TERM EXIT

lighttpd -D -f "$dir/lighttpd.conf" &
lighttpd_pid=$!
i=0
until grep -q . "$dir/lighttpd.pid" 2>/dev/null || [ $i -ge 100 ]; do
	if ! kill -0 "$lighttpd_pid" 2>/dev/null; then
		cat "$dir/error.log" >&2
		echo "lighttpd did not start (is port $port free? ./demo.sh PORT)" >&2
		exit 1
	fi
	sleep 0.05
	i=$((i + 1))
done

(
	n=0
	while :; do
		n=$((n + 1))
		echo "$(date '+%H:%M:%S') demo line $n: $(tr -dc 'a-z ' </dev/urandom | head -c 40)" >> "$dir/demo.log"
		sleep 1
	done
) &
gen=$!

cat <<MSG

sse-tail is streaming $dir/demo.log through lighttpd.
  Open in a browser:  http://127.0.0.1:$port/events/demo
  Or in a terminal:   curl -N http://127.0.0.1:$port/events/demo
Ctrl-C stops lighttpd, sse-tail and the generator.

MSG
wait "$lighttpd_pid"
