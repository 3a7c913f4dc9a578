#!/bin/sh
# `make bench`: measures evalsched's dispatch latency, burst throughput,
# claim query cost and footprint on a throwaway PostgreSQL cluster with the
# stand-in API, and pg_cron side by side.  A benchmark, not a test: it
# prints a table and exits 0 unless it could not measure at all.  Not part
# of `make check`.
#
# Environment knobs (all optional):
#   BENCH_SPREAD=200     schedules in the dispatch-lag measurement
#   BENCH_BURST=1000     schedules due at once in the burst
#   BENCH_BIG=1000000    table size for the large claim query measurement
#   BENCH_PGCRON=0       skip the pg_cron comparison
#   BENCH_ONLY=burst,... only these parts: idle, standin, dispatch,
#                        trigger, burst, jobrunner, completion, claim,
#                        metrics, scrape, pgcron
#   EVALSCHED_KEEP=1     keep the clusters' directories and logs
set -e
cd "$(dirname "$0")/../.."

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'
}

# Installs a package when it is missing and we may; says so when not.
want() {
	pkg=$1
	command -v dpkg-query >/dev/null 2>&1 || return 0
	installed "$pkg" && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "# bench: $pkg is not installed (run as root to install it)"
		return 0
	fi
	echo "# bench: installing $pkg"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends "$pkg" >/dev/null 2>&1 ||
	    { apt-get update -q >/dev/null 2>&1 &&
	      apt-get install -y -q --no-install-recommends "$pkg" \
	          >/dev/null 2>&1; } ||
	    echo "# bench: could not install $pkg"
}

pgmajor=$(pg_config --version 2>/dev/null |
    sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
# pg_cron only when its part runs.
case ",${BENCH_ONLY:-pgcron}," in
*,pgcron,*)
	[ "${BENCH_PGCRON:-1}" = 0 ] || want "postgresql-${pgmajor:-15}-cron" ;;
esac
# GNU time reports the jobrunner's peak RSS.
want time

exec perl -Itests/lib tests/bench/bench.pl "$@"
