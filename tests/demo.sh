#!/bin/sh
# make demo: a throwaway PostgreSQL, a stand-in for the evaluation API
# that writes to the database as the application's route does, a few
# sample schedules, and evalsched-supervisor in the foreground for about
# half a minute: runs complete with their batch tests' results, a model
# that does not exist is disabled after three all-failed batch tests,
# and an outage of the application disables nobody.  Everything lives in
# one temporary directory that is removed on exit, Ctrl-C included.
#
#	sh tests/demo.sh		(after `make all`)
#
# DEMO_SECONDS sets how long the supervisor runs (default 30).

set -u

cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
build=$top/build
seconds=${DEMO_SECONDS:-30}
outage_from=8
outage_to=17

tmp=
pgbin=
pg_started=
sv_pid=
tail_pid=
api_pid=
failed=

if [ -t 1 ]; then
	bold=$(printf '\033[1m') plain=$(printf '\033[0m')
else
	bold='' plain=''
fi

# A narration line before each step; note is the same without the gap.
say() {
	printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"
}

note() {
	printf '%s==> %s%s\n' "$bold" "$*" "$plain"
}

die() {
	printf '\ndemo: %s\n' "$*" >&2
	failed=1
	exit 1
}

# Runs a command as the database's owner: PostgreSQL refuses root.
as_db() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_ctl_do() {
	as_db "$pgbin/pg_ctl" -D "$tmp/pgdata" -w -t 30 -l "$tmp/pg.log" \
	    -o "-k $tmp/pgsock -c listen_addresses='' -c fsync=off" "$@"
}

sql() {
	PGOPTIONS='-c client_min_messages=warning' psql -X -q \
	    -v ON_ERROR_STOP=1 -h "$tmp/pgsock" -U postgres -d postgres "$@"
}

ctl() {
	"$build/evalschedctl" -c "$tmp/evalsched.conf" "$@"
}

cleanup() {
	status=$?
	trap - EXIT INT TERM HUP
	if [ -n "$sv_pid" ] && kill -0 "$sv_pid" 2>/dev/null; then
		kill -TERM "$sv_pid" 2>/dev/null
		i=0
		while kill -0 "$sv_pid" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$sv_pid" 2>/dev/null
	fi
	[ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
	if [ -n "$api_pid" ]; then
		kill -TERM "$api_pid" 2>/dev/null
		wait "$api_pid" 2>/dev/null
	fi
	[ -n "$pg_started" ] && pg_ctl_do -m immediate stop >/dev/null 2>&1
	[ -n "$tmp" ] && rm -rf "$tmp"
	if [ -n "$failed" ] && [ "$status" -eq 0 ]; then
		status=1
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

for f in evalsched-supervisor evalsched-jobrunner evalsched-notifier evalschedctl schema.sql; do
	[ -e "$build/$f" ] || die "$build/$f is missing: run 'make' first"
done
for c in psql python3; do
	command -v $c >/dev/null 2>&1 || die "$c not found: run 'make deps'"
done

pgbin=$(pg_config --bindir 2>/dev/null)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
	pgbin=
	for v in 17 16 15; do
		if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then
			pgbin=/usr/lib/postgresql/$v/bin
			break
		fi
	done
fi
[ -n "$pgbin" ] || die "no PostgreSQL server (initdb) found: run 'make deps'"
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 ||
	    die "running as root needs the postgres user to own the cluster"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/evalsched-demo.XXXXXX") ||
    die "cannot make a temporary directory"
chmod 755 "$tmp"
mkdir "$tmp/pgdata" "$tmp/pgsock" "$tmp/spool"
: > "$tmp/pg.log"
if [ "$(id -u)" -eq 0 ]; then
	chown postgres: "$tmp/pgdata" "$tmp/pgsock" "$tmp/pg.log"
fi

say "Starting a throwaway PostgreSQL $("$pgbin/postgres" -V | sed -n 's/^[^0-9]*\([0-9][0-9.]*\).*/\1/p') on a Unix socket only, in $tmp"
as_db "$pgbin/initdb" -D "$tmp/pgdata" -U postgres --auth=trust \
    --no-sync -E UTF8 --locale=C >>"$tmp/pg.log" 2>&1 ||
    { cat "$tmp/pg.log" >&2; die "initdb failed"; }
pg_ctl_do start >>"$tmp/pg.log" 2>&1 ||
    { cat "$tmp/pg.log" >&2; die "PostgreSQL did not start"; }
pg_started=1

say "Loading the schema (the application's two tables plus evalsched's additions)"
sql -f "$build/schema.sql" -o /dev/null || die "loading schema.sql failed"

# The stand-in on a given port (0: any), writing the port to api.port.
start_api() {
	rm -f "$tmp/api.port"
	tests/stand-in-api --port-file "$tmp/api.port" --port "$1" \
	    --log "$tmp/api.log" --service-key-file "$tmp/service.key" \
	    --database "host=$tmp/pgsock dbname=postgres user=postgres" \
	    </dev/null 2>>"$tmp/api.err" &
	api_pid=$!
	i=0
	while [ ! -s "$tmp/api.port" ]; do
		kill -0 "$api_pid" 2>/dev/null ||
		    { cat "$tmp/api.err" >&2; die "the stand-in API exited"; }
		[ $i -lt 100 ] || die "the stand-in API did not start"
		sleep 0.1
		i=$((i + 1))
	done
}

umask 077
od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > "$tmp/service.key"
umask 022

say "Starting the stand-in evaluation API on 127.0.0.1"
start_api 0
port=$(cat "$tmp/api.port")
echo "listening on port $port; like the application's route it records its own"
echo "run row, creates the batch test, answers, and writes the results when the"
echo "batch test ends; a model_id \"standin:...\" picks its behaviour"

say "Writing the configuration (the service key goes in a file of its own)"
cat > "$tmp/evalsched.conf" <<EOF
# evalsched.conf for the demo
database = "host=$tmp/pgsock dbname=postgres user=postgres"
app_url = http://127.0.0.1:$port
service_role_key_file = $tmp/service.key
jobrunner = $build/evalsched-jobrunner
notifier = $build/evalsched-notifier
pidfile = $tmp/evalsched-supervisor.pid
spool_dir = $tmp/spool
poll_interval = 3
run_timeout = 20
EOF
sed 's/^/    /' "$tmp/evalsched.conf"

say "Loading sample schedules"
sql <<'EOF' || die "loading the sample schedules failed"
-- The application's user and test suites the schedules refer to.
INSERT INTO auth.users (id, email)
VALUES ('11111111-1111-4111-8111-111111111111', 'demo@example.test')
ON CONFLICT DO NOTHING;
INSERT INTO test_suites (id, user_id, name)
SELECT ('aaaaaaaa-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
    '11111111-1111-4111-8111-111111111111', 'demo suite ' || i
FROM generate_series(1, 10) i
ON CONFLICT DO NOTHING;
INSERT INTO scheduled_evaluations (user_id, name, description,
    schedule_type, cron_expression, timezone, test_suite_id, model_id,
    batch_test_config, is_active, next_run_at)
VALUES
 ('11111111-1111-4111-8111-111111111111', 'nightly-regression',
  'due now; 8 prompts, one fails', 'daily', NULL, 'Europe/Paris',
  'aaaaaaaa-0000-4000-8000-000000000001',
  'standin:prompts=8,fail=1,quality=0.86,latency=420,duration=2000',
  '{"prompt_limit": 50}', true, now()),
 ('11111111-1111-4111-8111-111111111111', 'hourly-smoke',
  'overdue by 10 minutes', 'hourly', NULL, 'UTC',
  'aaaaaaaa-0000-4000-8000-000000000002', 'claude-3-haiku',
  '{"prompt_limit": 5}', true, now() - interval '10 minutes'),
 ('11111111-1111-4111-8111-111111111111', 'slow-endpoint',
  'due now; the API takes 1.5 s to answer', 'custom', '*/15 * * * *', 'UTC',
  'aaaaaaaa-0000-4000-8000-000000000003',
  'standin:slow=1500,prompts=3,quality=0.64,latency=900', '{}', true, now()),
 ('11111111-1111-4111-8111-111111111111', 'no-such-model',
  'accepted, then every prompt fails: auto-disabled after 3', 'daily',
  NULL, 'UTC', 'aaaaaaaa-0000-4000-8000-000000000005',
  'standin:allfail,prompts=4,duration=500', '{}', true, now()),
 ('11111111-1111-4111-8111-111111111111', 'suite-gone',
  'the application refuses it (404): the schedule''s fault', 'weekly',
  NULL, 'UTC', 'aaaaaaaa-0000-4000-8000-000000000004',
  'standin:status=404', '{}', true, now()),
 ('11111111-1111-4111-8111-111111111111', 'due-in-6s',
  'due six seconds after loading', 'weekly', NULL, 'America/New_York',
  'aaaaaaaa-0000-4000-8000-000000000006', 'mistral-small',
  '{}', true, now() + interval '6 seconds'),
 ('11111111-1111-4111-8111-111111111111', 'due-in-outage-1',
  'due during the outage', 'hourly', NULL, 'UTC',
  'aaaaaaaa-0000-4000-8000-000000000007', 'gpt-4o',
  '{}', true, now() + interval '9 seconds'),
 ('11111111-1111-4111-8111-111111111111', 'due-in-outage-2',
  'due during the outage', 'hourly', NULL, 'UTC',
  'aaaaaaaa-0000-4000-8000-000000000009', 'gpt-4o-mini',
  '{}', true, now() + interval '13 seconds'),
 ('11111111-1111-4111-8111-111111111111', 'due-after-outage',
  'due once the application is back', 'hourly', NULL, 'UTC',
  'aaaaaaaa-0000-4000-8000-00000000000a', 'llama-3-8b',
  '{}', true, now() + interval '19 seconds'),
 ('11111111-1111-4111-8111-111111111111', 'paused-eval',
  'due, but paused: left alone', 'daily', NULL, 'UTC',
  'aaaaaaaa-0000-4000-8000-000000000008', 'gpt-4o',
  '{}', false, now() - interval '1 hour');
EOF
sql -P footer=off -c "SELECT name, schedule_type AS type,
    coalesce(cron_expression, '') AS cron, model_id, is_active AS active,
    CASE WHEN next_run_at <= now() THEN 'now'
         ELSE 'in ' || ceil(extract(epoch FROM next_run_at - now())) || ' s'
    END AS due
    FROM scheduled_evaluations ORDER BY created_at, name" ||
    die "cannot read the schedules back"

say "Running evalsched-supervisor -f for $seconds s (max_concurrent 3; its log follows)"
echo "    'no-such-model' is triggered again with 'evalschedctl trigger' after each failure;"
echo "    the application is down from t=${outage_from}s to t=${outage_to}s"
if [ "$(id -u)" -eq 0 ]; then
	echo "    (it warns that it keeps root: an installed one sets 'user')"
fi
echo
"$build/evalsched-supervisor" -f -c "$tmp/evalsched.conf" </dev/null \
    >"$tmp/supervisor.log" 2>&1 &
sv_pid=$!
tail -n +1 -f "$tmp/supervisor.log" &
tail_pid=$!

# Re-trigger the failing schedule a moment after each failure (so that
# the log stays readable), until the supervisor disables it.
t=0
last=-10
while [ $t -lt "$seconds" ]; do
	sleep 1
	t=$((t + 1))
	kill -0 "$sv_pid" 2>/dev/null || {
		wait "$sv_pid"
		die "the supervisor exited early (status $?)"
	}
	if [ $t -eq $outage_from ]; then
		note "t=${t}s: the application goes down (connection refused)"
		kill -TERM "$api_pid" 2>/dev/null
		wait "$api_pid" 2>/dev/null
		api_pid=
	fi
	if [ $t -eq $outage_to ]; then
		note "t=${t}s: the application is back"
		start_api "$port"
	fi
	[ $((t - last)) -ge 3 ] || continue
	state=$(sql -At -F ' ' -c "SELECT is_active, consecutive_failures,
	    next_run_at > now() FROM scheduled_evaluations
	    WHERE name = 'no-such-model'") || continue
	# shellcheck disable=SC2086 # split the row into its fields
	set -- $state
	if [ "${1:-}" = t ] && [ "${2:-0}" -gt 0 ] && [ "${3:-}" = t ]; then
		note "t=${t}s: evalschedctl trigger no-such-model ($2 failure(s) so far)"
		ctl trigger no-such-model >/dev/null || echo "demo: trigger failed" >&2
		last=$t
	fi
done

say "Stopping the supervisor with SIGTERM"
kill -TERM "$sv_pid"
wait "$sv_pid"
sv_status=$?
sv_pid=
sleep 0.2
kill "$tail_pid" 2>/dev/null
tail_pid=
[ "$sv_status" -eq 0 ] || die "the supervisor exited with status $sv_status"

say "Runs recorded in scheduled_evaluation_runs: one row per fired slot"
sql -P footer=off -c "SELECT s.name AS schedule, r.status,
    to_char(r.triggered_at, 'HH24:MI:SS') AS triggered,
    CASE WHEN r.total_prompts > 0
        THEN r.successful_prompts || '/' || r.total_prompts END AS prompts,
    round(r.avg_latency_ms) || 'ms' AS latency,
    to_char(r.avg_quality_score * 100, 'FM990.0') || '%' AS quality,
    r.error_details->>'blame' AS blame,
    left(r.error_message, 44) AS error
    FROM scheduled_evaluation_runs r
    JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id
    ORDER BY r.triggered_at, s.name" || die "cannot read the runs"

say "Schedules now"
sql -P footer=off -c "SELECT name, is_active AS active,
    coalesce(last_run_status, '-') AS last_status,
    consecutive_failures AS failures,
    to_char(next_run_at AT TIME ZONE timezone, 'YYYY-MM-DD HH24:MI')
        || ' ' || timezone AS next_run
    FROM scheduled_evaluations ORDER BY created_at, name" ||
    die "cannot read the schedules"

say "The same through the ops tool: evalschedctl list, and runs of one schedule"
ctl list || echo "demo: evalschedctl list failed" >&2
echo
ctl runs nightly-regression || echo "demo: evalschedctl runs failed" >&2

say "What the supervisor said about the outage"
grep -E 'circuit (open|closed)' "$tmp/supervisor.log" | sed 's/^[^ ]* //'

# Check what the demo promised.
counts=$(sql -At -F ' ' -c "SELECT
    (SELECT count(*) FROM scheduled_evaluation_runs),
    (SELECT count(*) FROM scheduled_evaluation_runs
        WHERE status = 'completed' AND avg_quality_score IS NOT NULL),
    (SELECT count(*) FROM scheduled_evaluation_runs r
        JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id
        WHERE s.name = 'paused-eval'),
    (SELECT is_active::text FROM scheduled_evaluations
        WHERE name = 'no-such-model'),
    (SELECT count(*) FROM scheduled_evaluations
        WHERE NOT is_active AND name NOT IN ('no-such-model', 'paused-eval')),
    (SELECT count(*) FROM scheduled_evaluations
        WHERE name LIKE 'due-%outage%' AND consecutive_failures > 0)") ||
    die "cannot count the runs"
# shellcheck disable=SC2086 # split the row into its fields
set -- $counts
requests=$(grep -c '"path"' "$tmp/api.log")
[ "$1" -gt 0 ] || die "no runs were recorded"
[ "$2" -gt 0 ] || die "no run completed with results"
[ "$3" -eq 0 ] || die "the paused schedule was run"
[ "$4" = false ] || die "no-such-model was not auto-disabled"
[ "$5" -eq 0 ] || die "$5 schedule(s) were disabled that should not have been"
[ "$6" -eq 0 ] || die "the outage was counted against $6 schedule(s)"
grep -q 'circuit open' "$tmp/supervisor.log" || die "the outage did not open the circuit"
grep -q 'circuit closed' "$tmp/supervisor.log" || die "the circuit did not close"

say "Done: $1 runs, $2 completed with results, $requests requests to the stand-in; no-such-model auto-disabled, the outage disabled nobody, paused-eval left alone"
