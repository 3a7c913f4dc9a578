#!/bin/sh
# Builds and runs every libFuzzer target tests/fuzz/fuzz_NAME.c on a
# copy of its corpus, tests/fuzz/corpus/NAME.
#
#	sh tests/fuzz/run.sh brief	about 20 seconds each (make check)
#	sh tests/fuzz/run.sh long	10 minutes each (make fuzz)
#
# FUZZ_SECONDS overrides either duration, FUZZ_CC the compiler, FUZZ_JOBS
# how many run at once (one per processor).  A target names the sources
# it needs besides itself, and the pkg-config packages it links, on lines
#	// fuzz-link: common/x.c common/y.c
#	// fuzz-pkgs: json-c libbsd-overlay
# Objects, logs, grown corpora and crashes go under build/fuzz.

set -u

mode=${1:-brief}
case $mode in
brief)	secs=${FUZZ_SECONDS:-20} ;;
long)	secs=${FUZZ_SECONDS:-600} ;;
*)	echo "usage: sh tests/fuzz/run.sh brief|long" >&2; exit 64 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/build/fuzz
cc=${FUZZ_CC:-clang}
pkgs="libpq libcurl json-c libbsd-overlay"
fuzzflags="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz: skipped: no $cc (libFuzzer needs clang)"
	exit 0
fi
mkdir -p "$out"
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
    '{ (void)d; (void)n; return 0; }' > "$out/probe.c"
if ! "$cc" $fuzzflags -o "$out/probe" "$out/probe.c" >/dev/null 2>&1; then
	echo "fuzz: skipped: $cc cannot build with -fsanitize=fuzzer"
	exit 0
fi
cflags=$(pkg-config --cflags $pkgs) || exit 1

# build_target file name: compiles into $out/name, output in $out/name.build
build_target() {
	srcs=
	for s in $(sed -n 's|^// fuzz-link: ||p' "$1"); do
		srcs="$srcs $top/$s"
	done
	libs=
	pkgs_of=$(sed -n 's|^// fuzz-pkgs: ||p' "$1")
	if [ -n "$pkgs_of" ]; then
		libs=$(pkg-config --libs $pkgs_of) || return 1
	fi
	"$cc" -std=gnu11 -D_GNU_SOURCE -g -O1 $fuzzflags \
	    -fno-omit-frame-pointer -I"$top/common" $cflags \
	    -DVERSION='"fuzz"' -o "$out/$2" "$1" $srcs $libs \
	    >"$out/$2.build" 2>&1
}

# run_target name corpusdir: runs on a fresh copy of the corpus
run_target() {
	work=$out/corpus-$1
	rm -rf "$work" "$out/crash-$1"
	mkdir -p "$work" "$out/crash-$1"
	[ -d "$2" ] && cp -R "$2/." "$work/"
	ASAN_OPTIONS=detect_leaks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    "$out/$1" -max_total_time="$secs" -timeout=10 \
	    -print_final_stats=1 -artifact_prefix="$out/crash-$1/" \
	    "$work" >"$out/$1.log" 2>&1
}

# The targets are built and run side by side, as many at a time as there
# are processors (FUZZ_JOBS overrides): each is one process, and its
# duration is wall-clock time, so that one at a time on an idle machine
# would leave processors unused and take longer for no more runs each.
jobs=${FUZZ_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1

# each_target command: runs "command name" for every target, $jobs at a
# time, each in the background; its exit status lands in $out/name.status.
each_target() {
	n=0
	for name in $names; do
		{ "$1" "$name"; echo $? >"$out/$name.status"; } &
		n=$((n + 1))
		if [ "$n" -ge "$jobs" ]; then
			wait
			n=0
		fi
	done
	wait
}

build_one() { build_target "$here/$1.c" "$1"; }
run_one() { run_target "$1" "$here/corpus/${1#fuzz_}"; }

names=
for f in "$here"/fuzz_*.c; do
	[ -e "$f" ] || continue
	names="$names $(basename "$f" .c)"
done

failed=0
each_target build_one
built=
for name in $names; do
	if [ "$(cat "$out/$name.status")" != 0 ]; then
		echo "fuzz: $name: build failed:"
		sed 's/^/    /' "$out/$name.build"
		failed=1
		continue
	fi
	built="$built $name"
	echo "fuzz: $name: running ${secs}s"
done
names=$built
each_target run_one
for name in $names; do
	if [ "$(cat "$out/$name.status")" = 0 ]; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
		    "$out/$name.log")
		echo "fuzz: $name: ok, ${runs:-?} runs, corpus $(ls "$out/corpus-$name" | wc -l) inputs"
	else
		echo "fuzz: $name: FAILED; log $out/$name.log, inputs in $out/crash-$name/"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' \
		    "$out/$name.log" | head -5 | sed 's/^/    /'
		failed=1
	fi
done
exit $failed
