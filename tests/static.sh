#!/bin/sh
# The one static binary: configures and builds sse-tail with
# --enable-static in its own build directory, then runs tests/static.py,
# which checks that ldd finds no shared library and that the binary answers
# a stream in CGI and in FastCGI mode inside a chroot holding nothing but
# itself, a configuration and a log file. Needs root (chroot); skipped
# without it. Usage: tests/static.sh [BUILD-DIR] (default build/static,
# relative to the top of the source tree). The last line is
# "N passed, N failed"; exits non-zero on a failure.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "static: skipped (chroot needs root)"
	exit 0
fi
dir=${1:-build/static}
case $dir in
/*) ;;
*) dir=$top/$dir ;;
esac
rm -rf "$dir"
mkdir -p "$dir"
# The linker warns that getaddrinfo and libfcgi's unused gethostbyname
# would need glibc's NSS at run time: this build never asks it (see
# configure.ac's --enable-static), so the warnings are kept out of the log.
if ! (cd "$dir" && "$top/configure" -q --enable-static &&
    make -s -j2 src/sse-tail) >"$dir/build.log" 2>&1; then
	tail -30 "$dir/build.log"
	echo "0 passed, 1 failed"
	exit 1
fi
bin=$dir/src/sse-tail
if command -v file >/dev/null 2>&1; then
	echo "# $(file -b "$bin" | cut -d, -f1-4)"
fi
strip -o "$dir/sse-tail.stripped" "$bin"
echo "# $(wc -c <"$bin") bytes, $(wc -c <"$dir/sse-tail.stripped") stripped"
exec python3 "$top/tests/static.py" "$bin"
