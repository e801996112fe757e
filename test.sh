#!/bin/sh
# Runs every test of sse-tail on Debian 12, as root: installs what is
# missing, builds warning-free, runs the unit and end-to-end tests, then
# runs them again built with AddressSanitizer and UndefinedBehaviorSanitizer
# (the web-server tests need root and are skipped without it), then runs
# each fuzz harness for a minute (tests/fuzz/run.sh). After make distcheck
# it builds, lints, installs and purges the Debian package (tools/deb-test).
# Usage: ./test.sh            (from the top of a clone)
set -eu
cd "$(dirname "$0")"
top=$(pwd)

if [ -f config.status ]; then
	echo "test.sh builds in build/; this tree is configured in place:" \
	    "run 'make distclean' first" >&2
	exit 2
fi
tools/need-packages build-essential autoconf automake pkg-config libfcgi-dev \
	libfcgi-bin check python3 \
	lighttpd nginx-light apache2 libapache2-mod-fcgid spawn-fcgi systemd \
	curl openssl \
	chromium nodejs
# The browser tests drive Debian's chromium with playwright-core from npm.
command -v npm >/dev/null 2>&1 || tools/need-packages npm
(cd tests/browser && npm ci --no-audit --no-fund --silent)

status=0

# Each failed test's name and reason, collected as the runs go and printed
# again at the very end, so that a log cut to its last lines still says
# what failed. keep_failures LABEL FILE...
mkdir -p build
failures=$top/build/failures
: >"$failures"
keep_failures() {
	label=$1
	shift
	grep -hE '^(FAIL|ERROR)(:| -) |^# FAIL |:[0-9]+:[EF]:' "$@" 2>/dev/null |
	    cut -c1-300 | sed "s|^|$label: |" >>"$failures" || true
}

# Prints each runner's closing line from the automake logs, or the whole
# log of a failed runner.
report() {
	dir=$1
	keep_failures "$(basename "$dir")" "$dir"/tests/*.log
	for log in "$dir"/tests/*.log; do
		[ -f "$log" ] || continue
		grep -E '^[0-9]+%: Checks: |^[0-9]+ passed, [0-9]+ failed' "$log" || true
	done
	if ! grep -q '^# FAIL: *0$' "$dir/test-suite.log" 2>/dev/null ||
	   ! grep -q '^# ERROR: *0$' "$dir/test-suite.log" 2>/dev/null; then
		cat "$dir/test-suite.log" 2>/dev/null || true
	fi
}

# run_suite NAME CONFIGURE-ARGS...: builds in build/NAME and runs make check.
run_suite() {
	name=$1
	shift
	echo "== $name build"
	rm -rf "build/$name"
	mkdir -p "build/$name"
	(cd "build/$name" && "$top/configure" -q "$@" && make -s -j2) || return 1
	echo "== $name tests"
	rc=0
	(cd "build/$name" && make -s -j1 check >/dev/null 2>&1) || rc=1
	report "build/$name"
	return $rc
}

autoreconf -fi >/dev/null 2>&1

run_suite plain --enable-werror || status=1

# One static binary (configure --enable-static), run in a chroot that holds
# only it, its configuration and a log file.
echo "== static"
tests/static.sh build/static || status=1

# The release tarball builds and passes its tests on its own.
echo "== distcheck"
if (cd build/plain && make -s distcheck >distcheck.log 2>&1); then
	echo "distcheck: sse-tail-$(sed -n 's/^PACKAGE_VERSION = //p' build/plain/Makefile).tar.gz builds and passes make check"
else
	tail -50 build/plain/distcheck.log
	keep_failures distcheck build/plain/distcheck.log \
	    build/plain/sse-tail-*/_build/sub/tests/*.log
	status=1
fi

# The Debian package, built from that tarball with debian/ of this tree,
# linted, installed, checked, removed and purged (tools/deb-test: root
# only; it skips when another sse-tail is installed).
echo "== debian package"
tarball=build/plain/sse-tail-$(sed -n 's/^PACKAGE_VERSION = //p' build/plain/Makefile 2>/dev/null || true).tar.gz
[ -f "$tarball" ] || tarball=     # none: tools/deb-test runs make dist itself
if tools/deb-test $tarball >build/plain/deb-test.log 2>&1; then
	grep -E '^(deb-test: SKIP|[EW]: |lintian: |[0-9]+ passed, [0-9]+ failed)' \
	    build/plain/deb-test.log || true
else
	cat build/plain/deb-test.log
	keep_failures deb-test build/plain/deb-test.log
	status=1
fi

# Sanitizers: leaks, overflows and undefined behaviour abort the test.
ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:exitcode=99
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99
# Instrumented code runs several times slower: timing bounds stretch.
E2E_TIME_SCALE=4
export ASAN_OPTIONS UBSAN_OPTIONS E2E_TIME_SCALE
run_suite sanitize --enable-werror \
	CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	LDFLAGS="-fsanitize=address,undefined" || status=1

# Fuzzing: each libFuzzer harness for 60 s on a copy of its seed corpus.
echo "== fuzz"
tests/fuzz/run.sh 60 || status=1

if [ $status -eq 0 ]; then
	echo "== all tests passed"
else
	if [ -s "$failures" ]; then
		echo "== what failed"
		head -40 "$failures"
	fi
	echo "== FAILED"
fi
exit $status
