#!/bin/sh
# Builds the libFuzzer harnesses of sse-tail with clang
# (-fsanitize=fuzzer,address,undefined, the library sources compiled in
# directly) and runs each for a bounded time on a copy of its seed corpus,
# so that the committed corpus never grows. A crash, a leak, undefined
# behaviour, a broken invariant (the harnesses abort) or an input slower
# than 10 s fails the harness; its input is kept and named.
#
# Usage: tests/fuzz/run.sh [SECONDS [HARNESS...]]   each harness SECONDS
#                                                   (default 60); all five
#                                                   when none is named
#        tests/fuzz/run.sh --repro HARNESS FILE...  runs HARNESS once on
#                                                   each FILE (a crash input)
# Harnesses: cfg req sse ring fcgi (tests/fuzz/fuzz_NAME.c; seeds in
# tests/fuzz/corpus/NAME, made by tests/fuzz/seeds.py).
# FUZZ_KEEP=1 keeps the work directory (binaries, grown corpora, logs);
# it is kept anyway when a harness fails. Needs root to install clang.
set -eu
cd "$(dirname "$0")/../.."
top=$(pwd)
fuzz=$top/tests/fuzz

all="cfg req sse ring fcgi"

# The library sources each harness links; everything else is its own.
sources() {
	case $1 in
	cfg)	echo src/cfg.c src/cfg_value.c ;;
	req)	echo src/req.c src/cfg.c src/cfg_value.c src/id.c ;;
	sse)	echo src/sse.c src/id.c ;;
	ring)	echo src/ring.c ;;
	fcgi)	echo src/fcgi.c src/fcgi_mgmt.c ;;
	*)	return 1 ;;
	esac
}

usage() {
	sed -n 's/^# \{0,1\}//; 9,15p' "$0" >&2
	exit 2
}

repro=0
if [ "${1:-}" = "--repro" ]; then
	[ $# -ge 3 ] || usage
	repro=1
	shift
	harnesses=$1
	shift
else
	seconds=${1:-60}
	case $seconds in
	''|*[!0-9]*) usage ;;
	esac
	[ $# -gt 0 ] && shift
	harnesses=${*:-$all}
fi
for h in $harnesses; do
	sources "$h" >/dev/null || { echo "run.sh: no harness $h" >&2; usage; }
done

# Debian 12's clang is clang 14; libFuzzer's runtime is in libclang-rt-14-dev,
# which clang only recommends. fastcgi.h is libfcgi-dev's.
"$top/tools/need-packages" clang libclang-rt-14-dev libfcgi-dev
CC=${FUZZ_CC:-clang}
CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -Wall -Wextra"
symbolizer=$(ls /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | tail -1)
[ -n "$symbolizer" ] && ASAN_SYMBOLIZER_PATH=$symbolizer && export ASAN_SYMBOLIZER_PATH
ASAN_OPTIONS=detect_leaks=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS

work=$(mktemp -d "${TMPDIR:-/tmp}/sse-tail-fuzz.XXXXXX")
mkdir -p "$work/bin" "$work/crash"

# build NAME: compiles tests/fuzz/fuzz_NAME.c with its library sources into
# $work/bin/fuzz_NAME; the compiler's output goes to $work/NAME.build.
build() {
	# shellcheck disable=SC2046,SC2086
	(cd "$top" && $CC $CFLAGS -Isrc -Itests/fuzz \
	    $(pkg-config --cflags fcgi 2>/dev/null) \
	    "tests/fuzz/fuzz_$1.c" $(sources "$1") -o "$work/bin/fuzz_$1") \
	    >"$work/$1.build" 2>&1
}

if [ $repro -eq 1 ]; then
	if ! build "$harnesses"; then
		cat "$work/$harnesses.build"
		exit 1
	fi
	rc=0
	"$work/bin/fuzz_$harnesses" "$@" || rc=$?
	rm -rf "$work"
	exit $rc
fi

# A last "#N DONE cov: C ft: F corp: K/..." line, as a summary.
stats() {
	sed -n 's/^#\([0-9]*\)[[:space:]]*DONE[[:space:]]*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\)\/.*/\1 runs, cov \2, ft \3, corpus \4/p' "$1" | tail -1
}

passed=0
failed=0
for h in $harnesses; do
	log=$work/$h.log
	if ! build "$h"; then
		echo "fuzz_$h: FAILED to build:"
		cat "$work/$h.build"
		failed=$((failed + 1))
		continue
	fi
	[ -s "$work/$h.build" ] && cat "$work/$h.build"
	mkdir -p "$work/corpus/$h"
	cp "$fuzz/corpus/$h"/* "$work/corpus/$h/"
	dict=
	[ -f "$fuzz/$h.dict" ] && dict=-dict=$fuzz/$h.dict
	rc=0
	# The outer timeout only guards against libFuzzer itself hanging.
	timeout -k 10 $((seconds + 120)) "$work/bin/fuzz_$h" \
	    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$work/crash/$h-" \
	    ${dict:+"$dict"} "$work/corpus/$h" >"$log" 2>&1 || rc=$?
	crash=$(ls "$work/crash/$h-"* 2>/dev/null | head -1)
	if [ $rc -eq 0 ] && [ -z "$crash" ]; then
		echo "fuzz_$h: ok, $(stats "$log") in ${seconds} s"
		passed=$((passed + 1))
		continue
	fi
	failed=$((failed + 1))
	echo "fuzz_$h: FAILED (exit $rc)"
	grep -v '^#[0-9]' "$log" | tail -60
	if [ -n "$crash" ]; then
		echo "fuzz_$h: crash input: $crash"
		echo "fuzz_$h: reproduce: tests/fuzz/run.sh --repro $h $crash"
		if [ "$(wc -c <"$crash")" -le 4096 ]; then
			echo "fuzz_$h: the input, base64 (base64 -d >crash):"
			base64 "$crash"
		fi
	fi
done

if [ $failed -eq 0 ] && [ "${FUZZ_KEEP:-0}" != 1 ]; then
	rm -rf "$work"
else
	echo "fuzz: work directory kept: $work"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
