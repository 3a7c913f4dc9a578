# A database that stops answering while it keeps the connection open (a
# stuck pooler, a hung server, a full pool), made by the stall injector
# between the supervisor and PostgreSQL.  The loop goes on meanwhile:
# finished jobrunners are reaped, run_timeout is enforced, SIGUSR1 and
# SIGTERM are obeyed; the statement's deadline drops the connection, and
# nothing is lost or done twice once it answers again.  Stalls during a
# claim, a record and a lease recovery each end the same way.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);
use Evalsched::Test;
use Evalsched::Stall;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api(mode => 'never');	# batch tests stay under way
my $p = Evalsched::Stall->start($t);

# A jobrunner that hangs, for the schedules named "sleeper ...": only the
# supervisor's run_timeout and shutdown end it.
my $wrapper = $t->dir . '/jobrunner-wrapper';
$t->spew($wrapper, sprintf <<'EOS', Evalsched::Test::bin("evalsched-jobrunner"));
#!/bin/sh
job=$(cat)
case "$job" in
*'"sleeper '*) exec sleep 60 ;;
esac
printf '%%s' "$job" | exec %s
EOS
chmod 0755, $wrapper;

# A third of the lease is a statement's deadline: 2 s here.
my %stalled = (database => $p->conninfo, lease => 6, shutdown_grace => 2,
    run_timeout => 3, jobrunner => $wrapper);
my $pid = $t->start_supervisor(config => $t->write_config(%stalled));

sub runs {
	my ($name, $status) = @_;
	my $where = "s.name = " . Evalsched::Test::quote($name)
	    . (defined $status ? " AND r.status = " . Evalsched::Test::quote($status) : '');
	return $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
	    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
	    . "WHERE $where");
}

# The supervisor's children that are zombies now.
sub zombies {
	my ($parent) = @_;
	my $n = 0;
	for my $stat (glob '/proc/[0-9]*/stat') {
		open my $fh, '<', $stat or next;
		my $line = <$fh> // next;
		my ($state, $ppid) = $line =~ /\)\s+(\S)\s+(\d+)/ or next;
		$n++ if $ppid == $parent && $state eq 'Z';
	}
	return $n;
}

# 1. Runs in flight when the database stops answering.
$t->add_schedule(name => 'ends', model_id => 'standin:slow=1500,never');
$t->add_schedule(name => 'sleeper hangs');
ok($t->wait_until(sub { runs('ends', 'triggered') == 1 && runs('sleeper hangs', 'triggered') == 1 }, 20),
    'stall: two runs in flight');
$p->freeze;
ok($t->wait_log(qr/schedule "ends": run \S+ accepted/, 20),
    'stall: a jobrunner that ends is reaped and its outcome logged');
is(zombies($pid), 0, 'stall: no zombie is left');
ok($t->wait_log(qr/schedule "sleeper hangs": run \S+ outlived run_timeout/, 20),
    'stall: run_timeout is enforced');
ok($t->wait_log(qr/schedule "sleeper hangs": run \S+ unresolved: timed out/, 20),
    'stall: the timed-out jobrunner is reaped (its run unresolved: it may have sent)');
kill 'USR1', $pid;
ok($t->wait_log(qr/status: supervisor/, 10), 'stall: SIGUSR1 is answered');
ok($t->wait_log(qr/database connection lost: no answer within 2000 ms/, 20),
    'stall: the statement deadline drops the connection, and says so');
is(runs('ends', 'running'), 0, 'stall: nothing was written meanwhile');
$p->thaw;
ok($t->wait_until(sub { runs('ends', 'running') == 1 && runs('sleeper hangs', 'running') == 1 }, 30),
    'stall: both outcomes are written once it answers again')
    or diag $t->supervisor_log;
ok($t->wait_log(qr/database reachable again after \d+ s/, 20),
    'stall: its end is logged');
my $log = $t->supervisor_log;
my $lost = () = $log =~ /database connection lost/g;
is($lost, 1, 'stall: one line when it starts');
# (The SIGUSR1 status line says "database unreachable" too when it comes
# after the loss: it is not a line per attempt.)
unlike($log, qr/database unreachable, retrying/, 'stall: and none for each attempt');
unlike($log, qr/^(?!.*evalsched-supervisor).*FATAL/m,
    "stall: libpq's messages go through our log");
is(runs('ends'), 1, 'stall: one run, nothing doubled');

# 2. A stall during the claim: the claim is dropped and made again once.
$p->freeze_on('FOR UPDATE OF s SKIP LOCKED');
$t->add_schedule(name => 'claimed');
ok($p->wait_tripped(30), 'claim: the claim statement stalls');
my $cpu0 = $t->cpu_seconds($pid);
sleep 1;
cmp_ok($t->cpu_seconds($pid) - $cpu0, '<', 0.5,
    'claim: waiting for the answer is no busy loop');
ok($t->wait_until(sub { $t->supervisor_log =~ /lost: no answer.*\n(?:.*\n)*.*lost: no answer/ }, 20),
    'claim: its deadline drops the connection');
is(runs('claimed'), 0, 'claim: nothing claimed meanwhile');
$p->thaw;
ok($t->wait_until(sub { runs('claimed', 'running') == 1 }, 30),
    'claim: dispatched once it answers again');
sleep 0.5;
is(runs('claimed'), 1, 'claim: exactly one run');

# 3. A stall while an outcome is written: kept, and written once.
$p->freeze_on('run_id uuid, owner uuid');	# the outcomes' write
$t->add_schedule(name => 'recorded');
ok($p->wait_tripped(30), 'record: the write stalls');
ok($t->wait_log(qr/schedule "recorded": run \S+ accepted/, 10),
    'record: the outcome was there to write');
$p->thaw;
ok($t->wait_until(sub { runs('recorded', 'running') == 1 }, 30),
    'record: written once it answers again');
is(runs('recorded'), 1, 'record: one run');

# 4. A stall during lease recovery: a lost supervisor's run is taken
# over once the database answers again.
my $dead = $t->sql_value("INSERT INTO evalsched_supervisors (node, pid, "
    . "version, lease_seconds, max_concurrent, heartbeat_at) VALUES "
    . "('elsewhere', 1, 'x', 6, 1, now() - interval '1 hour') RETURNING id");
my $orphan = $t->add_schedule(name => 'orphan', is_active => 0);
$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, "
    . "status, slot_at, supervisor_id, evalsched_rev) VALUES ('$orphan', "
    . "'triggered', now(), '$dead', 0)");
$p->freeze_on('stopped renewing its lease');
ok($p->wait_tripped(40), 'recovery: the lease recovery stalls');
is(runs('orphan', 'triggered'), 1, 'recovery: nothing taken over meanwhile');
$p->thaw;
ok($t->wait_until(sub { runs('orphan', 'triggered') == 0 && runs('orphan') == 1 }, 40),
    'recovery: the lost run is taken over once it answers again')
    or diag $t->supervisor_log;

# 4b. The first completion pass on a new connection fails at a row lock,
# after its statement was prepared: the server keeps the statement, and
# the next pass uses it rather than failing to prepare it again.
my $old = $t->add_schedule(name => 'old run', next_run_at => \"now() + interval '1 day'");
$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, status, "
    . "slot_at, started_at, triggered_at, evalsched_rev) VALUES ('$old', 'running', "
    . "now() - interval '3 days', now() - interval '3 days', now() - interval '3 days', 0)");
my $locker = fork // die "fork: $!";
if ($locker == 0) {
	open STDOUT, '>', '/dev/null';
	exec($t->psql_cmd, '-c', "BEGIN; SELECT 1 FROM scheduled_evaluations "
	    . "WHERE id = '$old' FOR UPDATE; SELECT pg_sleep(3); COMMIT;")
	    or POSIX::_exit(127);
}
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM pg_locks l JOIN pg_class c "
    . "ON c.oid = l.relation WHERE c.relname = 'scheduled_evaluations' "
    . "AND l.mode = 'RowShareLock' AND l.pid <> pg_backend_pid()") > 0 }, 10),
    'lock: a row of the schedule is held');
$p->drop;	# a new connection: its first pass prepares the statement
ok($t->wait_until(sub { $t->count_runs($old, "status = 'failed'") == 1 }, 30),
    'lock: the run past completion_timeout is closed once the lock is gone')
    or diag $t->supervisor_log;
waitpid $locker, 0;
unlike($t->supervisor_log, qr/already exists/, 'lock: the prepared statement was kept');

# 5. SIGTERM during a stall: gone within shutdown_grace + 2 s, the
# outcome spooled, and recorded by the next supervisor.
$t->add_schedule(name => 'sleeper stopped');
ok($t->wait_until(sub { runs('sleeper stopped', 'triggered') == 1 }, 20),
    'shutdown: a run in flight');
$p->freeze;
my $t0 = time;
kill 'TERM', $pid;
my $status = $t->wait_exit('supervisor', 30);
my $took = time - $t0;
is($status, 0, 'shutdown: exit 0');
# The bound is the manual's; the second is for a slow (sanitizer) build.
cmp_ok($took, "<", 2 + 2 + 1, 'shutdown: within shutdown_grace + 2 s');
ok(scalar(glob($t->dir . '/spool/*.outcome')), 'shutdown: its outcome is spooled');
$p->thaw;
$t->start_supervisor(config => $t->write_config(%stalled, database => $t->conninfo));
# Cut short, the run waits for its batch test (cancelled if none turns
# up, at a completion pass after run_timeout): recorded all the same.
ok($t->wait_until(sub { runs('sleeper stopped', 'running')
    + runs('sleeper stopped', 'cancelled') == 1 }, 30),
    'shutdown: the next supervisor records it')
    or diag $t->supervisor_log;
$t->stop_supervisor;

done_testing;
