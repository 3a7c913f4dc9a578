# Database outages: start-up with the database down, a restart and a
# terminated backend with runs in flight.  The supervisor keeps its pid,
# its children keep running, every outcome is written exactly once when
# the database is back, and a wake-up missed meanwhile is caught up.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api(mode => 'never');	# batch tests stay under way

# Stands in for the stopped server on its socket and hangs up on each of
# the next $n connection attempts; returns how many came (within 60 s).
sub refused_attempts {
	my ($n) = @_;
	my $path = $t->dir . '/pgsock/.s.PGSQL.5432';
	my $l = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $path,
	    Listen => 5) or die "listen on $path: $!";
	$l->blocking(0);
	my $seen = 0;
	$t->wait_until(sub {
		while (my $c = $l->accept) {
			close $c;
			$seen++;
		}
		return $seen >= $n;
	}, 60);
	close $l;
	unlink $path;
	return $seen;
}

sub count {
	my ($where) = @_;
	return $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
	    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id WHERE $where");
}

# Start-up with the database down: retry, say so, don't exit.
$t->pg_ctl('stop', '-m', 'fast') == 0 or die;
my $conf = $t->write_config(poll_interval => 60);
my $pid = $t->start_supervisor(config => $conf, wait_ready => 0);
ok($t->wait_log(qr/database unreachable, retrying/, 10), 'start-up: says the database is unreachable');
is(refused_attempts(3), 3, 'start-up: keeps trying: three more attempts, each refused');
my $st = $t->supervisor_status;
is($st && $st->{database}, 'unreachable',
    'start-up: keeps running while the database is down, and says so on SIGUSR1');
$t->pg_ctl('start') == 0 or die;
ok($t->wait_log(qr/\bready\b/, 30), 'start-up: ready once the database is back');
my $first = $t->add_schedule(name => 'first');
ok($t->wait_until(sub { count("s.name = 'first' AND r.status = 'running'") == 1 }, 10),
    'start-up: then dispatches');

# A restart with three runs in flight.
# Due together, so that all three are in flight within the 2.5 s the
# stand-in takes to answer, however slowly three inserts go.
my @slow = map { $t->add_schedule(name => "restart $_", model_id => 'standin:slow=2500,never',
    next_run_at => \"now() + interval '1 day'") } 1 .. 3;
$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() WHERE name LIKE 'restart %'");
ok($t->wait_until(sub { count("s.name LIKE 'restart %' AND r.status = 'triggered'") == 3 }, 10),
    'restart: three runs in flight');
$t->pg_ctl('restart', '-m', 'fast') == 0 or die 'pg restart';
ok($t->wait_until(sub { count("s.name LIKE 'restart %' AND r.status = 'running'") == 3 }, 30),
    'restart: every outcome recorded after the restart') or diag $t->supervisor_log;
is(count("s.name LIKE 'restart %'"), 3, 'restart: one run each, nothing doubled');
is($t->supervisor_pid, $pid, 'restart: same supervisor process');
ok(kill(0, $pid), 'restart: still running');
like($t->supervisor_log, qr/database connection lost/, 'restart: the loss is logged');

# The outcome arrives while the database is down: spooled, then written.
my @spool = map { $t->add_schedule(name => "spool $_", model_id => 'standin:slow=4000,never') } 1 .. 2;
ok($t->wait_until(sub { count("s.name LIKE 'spool %' AND r.status = 'triggered'") == 2 }, 20),
    'outage: two runs in flight');
# Their own "spooled" lines, not one the restart above left in the log.
my @spooled = map { $_->[0] } $t->sql("SELECT r.id FROM scheduled_evaluation_runs r "
    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id WHERE s.name LIKE 'spool %'");
$t->pg_ctl('stop', '-m', 'fast') == 0 or die;
ok($t->wait_until(sub { my $log = $t->supervisor_log; !grep { $log !~ /outcome of run \Q$_\E spooled/ } @spooled }, 15),
    'outage: outcomes spooled while the database is down');
my @files = glob($t->dir . '/spool/*.outcome');
ok(@files >= 1, 'outage: the spool holds them on disk');
$t->pg_ctl('start') == 0 or die;
ok($t->wait_until(sub { count("s.name LIKE 'spool %' AND r.status = 'running'") == 2 }, 30),
    'outage: written once the database is back');
ok($t->wait_until(sub { !glob($t->dir . '/spool/*.outcome') }, 5), 'outage: the spool is emptied');

# A terminated backend, and a wake-up sent while we were not listening.
my $bk = $t->add_schedule(name => 'backend', model_id => 'standin:slow=1500,never');
ok($t->wait_until(sub { count("s.name = 'backend' AND r.status = 'triggered'") == 1 }, 10),
    'terminate: one run in flight');
$t->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    . "WHERE application_name = 'evalsched-supervisor'");
my $missed = $t->add_schedule(name => 'missed notify');
ok($t->wait_until(sub { count("s.name = 'backend' AND r.status = 'running'") == 1 }, 20),
    'terminate: the outcome is recorded');
ok($t->wait_until(sub { count("s.name = 'missed notify'") == 1 }, 10),
    'terminate: a schedule added meanwhile is caught by the catch-up poll (poll_interval is 60 s)');
is($t->supervisor_pid, $pid, 'terminate: same supervisor process');
is(count("r.status = 'triggered'"), 0, 'no run left triggered');
is($t->sql_value("SELECT count(*) FROM (SELECT scheduled_evaluation_id, slot_at FROM "
    . "scheduled_evaluation_runs GROUP BY 1, 2 HAVING count(*) > 1) d"), 0, 'no slot fired twice');
my %posts;
$posts{ $_->{headers}{'x-scheduled-evaluation-run-id'} }++ for $t->api_requests;
is(scalar(grep { $_ > 1 } values %posts), 0, 'no run POSTed twice');
is($t->stop_supervisor >> 8, 0, 'clean exit');

# A crash during an outage: the next incarnation writes the spooled
# outcome before it closes what is left of the dead one's runs as lost.
my $crash = $t->add_schedule(name => 'crash in outage', model_id => 'standin:slow=2000,never');
$pid = $t->start_supervisor(config => $conf, name => 'crashing');
ok($t->wait_until(sub { count("s.name = 'crash in outage' AND r.status = 'triggered'") == 1 }, 10),
    'crash: one run in flight');
$t->pg_ctl('stop', '-m', 'fast') == 0 or die;
ok($t->wait_log(qr/outcome of run \S+ spooled/, 15, 'crashing'), 'crash: its outcome is spooled');
kill 'KILL', $pid;
$t->wait_exit('crashing', 5);
$t->pg_ctl('start') == 0 or die;
$t->start_supervisor(config => $conf, name => 'next');
ok($t->wait_until(sub { count("s.name = 'crash in outage' AND r.status = 'running' "
    . "AND r.batch_test_run_id IS NOT NULL") == 1 }, 15),
    'crash: the next incarnation recorded the real outcome from the spool, not a loss');
ok($t->wait_log(qr/spool: recovered the outcome of run/, 5, 'next'), 'crash: and says so');
is(count("r.status = 'triggered'"), 0, 'crash: no run left triggered');

# A claim whose COMMIT reply was lost: the run is ours and 'triggered',
# but no jobrunner has it.  After the reconnect it is released and runs.
my $orphan = $t->add_schedule(name => 'orphaned claim', next_run_at => \"now() + interval '1 day'");
my ($me) = $t->sql_value("SELECT id FROM evalsched_supervisors WHERE stopped_at IS NULL "
    . "AND lost_at IS NULL ORDER BY started_at DESC LIMIT 1");
$t->sql("WITH c AS (UPDATE scheduled_evaluations SET next_run_at = now() + interval '1 hour' "
    . "WHERE id = '$orphan' RETURNING id) INSERT INTO scheduled_evaluation_runs "
    . "(scheduled_evaluation_id, status, slot_at, supervisor_id) "
    . "SELECT id, 'triggered', now() - interval '1 second', '$me' FROM c");
$t->sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    . "WHERE application_name = 'evalsched-supervisor'");
ok($t->wait_log(qr/"orphaned claim": run \S+ was claimed but never started/, 15, 'next'),
    'orphan: noticed after the reconnect');
ok($t->wait_until(sub { count("s.name = 'orphaned claim' AND r.status = 'running'") == 1 }, 15),
    'orphan: released, its slot due again, and dispatched');
is(count("s.name = 'orphaned claim'"), 1, 'orphan: one run row in the end');
is($t->stop_supervisor('next') >> 8, 0, 'clean exit');
done_testing;
