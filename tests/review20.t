# One batch test per slot, where it broke.  Each part says what it
# checks: a run whose request went out finds the batch test it started,
# and a run never takes a batch test that is not its own.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json);
use Evalsched::Test qw(uuid);

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;

my $BATCH = 'route,prompts=3,fail=1,quality=0.7,latency=90,duration=300';

sub run_rows {
	my ($id) = @_;
	return $t->sql("SELECT id, status, batch_test_run_id, total_prompts, "
	    . "successful_prompts, failed_prompts, error_message, error_details "
	    . "FROM scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$id' "
	    . "ORDER BY triggered_at, slot_at");
}

# The batch test each run's own request created: run id => batch id,
# from what the stand-in logged.
sub started_by {
	my %b;
	for my $r ($t->api_requests) {
		my $run = $r->{headers}{'x-scheduled-evaluation-run-id'} // next;
		$b{$run} = $r->{test_run_id} if defined $r->{test_run_id};
	}
	return %b;
}

sub batch_count {
	my ($user) = @_;
	return $t->sql_value("SELECT count(*) FROM batch_test_runs WHERE user_id = '$user'");
}

sub owner { $t->sql_value("SELECT user_id FROM scheduled_evaluations WHERE id = '$_[0]'") }

# Waits until the schedule's single run is completed; its row.
sub completed {
	my ($id, $timeout) = @_;
	$t->wait_until(sub { my @r = run_rows($id); @r == 1 && $r[0][1] eq 'completed' },
	    $timeout // 30);
	return (run_rows($id))[0];
}

# --- the trigger never fails the application's insert -------------------

# The additions install the trigger only on a batch_test_runs whose
# columns have the types it reads; a later migration of the application
# may change them.  The insert still goes through.
for my $change ('ALTER COLUMN config TYPE text USING config::text',
    'RENAME COLUMN config TO settings') {
	(my $col = $change) =~ s/^.* TO (\w+)$/$1/;
	$col = 'config' if $col eq $change;
	my @cmd = ($t->psql_cmd, '-c', "BEGIN; ALTER TABLE batch_test_runs $change; "
	    . "INSERT INTO batch_test_runs (user_id, model_name, $col) VALUES "
	    . "(gen_random_uuid(), 'm', '{\"custom_name\": \"x\"}'); ROLLBACK");
	my $pid = fork // die;
	if ($pid == 0) {
		open STDERR, '>', $t->dir . '/trigger.err';
		open STDOUT, '>', '/dev/null';
		exec @cmd or POSIX::_exit(127);
	}
	waitpid $pid, 0;
	is($?, 0, "the application's insert goes through after ALTER TABLE batch_test_runs $change")
	    or diag $t->slurp($t->dir . '/trigger.err');
}

# --- a next_run_at of -infinity --------------------------------------------

# A user may write their schedule's next_run_at: -infinity is due at
# once, a slot no clock shows.  It is dispatched like any, and the claim
# goes on for everyone.
{
	my $conf = $t->write_config(poll_interval => 2, run_timeout => 6);
	my $inf = $t->add_schedule(name => 'minus infinity', timezone => 'America/New_York',
	    next_run_at => '-infinity', model_id => "standin:$BATCH");
	$t->start_supervisor(config => $conf);
	my $r = completed($inf);
	is($r && $r->[1], 'completed', 'next_run_at -infinity: dispatched and completed')
	    or diag $t->supervisor_log;
	ok(!defined $t->wait_exit('supervisor', 1), 'next_run_at -infinity: the supervisor is still there');
	ok($t->run_sentinel, 'next_run_at -infinity: other schedules are dispatched after it');
	$t->stop_supervisor;
	$t->sql("UPDATE scheduled_evaluations SET is_active = false");
}

# --- batch tests that are not the run's own ---------------------------------

# Two schedules of one user with the same name and model fire at the
# same slot.  The first one's request reaches nothing (a gateway's 502);
# the second one's starts a batch test whose answer is lost.  That batch
# test is the second run's, not the first's.
{
	my $conf = $t->write_config(poll_interval => 2, run_timeout => 15);
	my $user = $t->add_user;
	my $slot = $t->sql_value("SELECT date_trunc('minute', now()) - interval '1 minute'");
	my $first = $t->add_schedule(name => 'Nightly', user_id => $user, next_run_at => $slot,
	    model_id => 'gpt-same');
	my $second = $t->add_schedule(name => 'Nightly', user_id => $user, next_run_at => $slot,
	    model_id => 'gpt-same', is_active => 'false');
	$t->api_mode('status=502');
	$t->start_supervisor(config => $conf);
	ok($t->wait_until(sub { my ($r) = run_rows($first); $r && $r->[1] eq 'running' }, 20),
	    'same name: the first run is unresolved');
	$t->api_mode("$BATCH,lost=504");
	$t->sql("UPDATE scheduled_evaluations SET is_active = true WHERE id = '$second'");
	ok($t->wait_until(sub { my ($r) = run_rows($second); $r && $r->[1] eq 'completed' }, 30),
	    'same name: the second run completed') or diag explain [run_rows($second)];
	my %by = started_by();
	my ($r2) = run_rows($second);
	is($r2->[2], $by{ $r2->[0] }, 'same name: with the batch test its own request started');
	ok($t->wait_until(sub { my ($r) = run_rows($first); $r && $r->[1] eq 'failed' }, 30),
	    'same name: the first run fails, as no batch test of its own turned up')
	    or diag explain [run_rows($first)];
	my ($r1) = run_rows($first);
	ok(!defined $r1->[2], 'same name: the first run has no batch test');
	$t->stop_supervisor;
	$t->api_mode('ok');
	$t->sql("UPDATE scheduled_evaluations SET is_active = false");
}

# A schedule that names its batch tests itself: a slot whose request
# reached nothing, then the next slot, whose batch test's answer is
# lost.  The batch test is the next slot's run's.
{
	my $conf = $t->write_config(poll_interval => 2, run_timeout => 15);
	my $own = $t->add_schedule(name => 'own name', model_id => 'gpt-own',
	    batch_test_config => '{"test_run_name": "weekly check"}');
	$t->api_mode('status=502');
	$t->start_supervisor(config => $conf);
	ok($t->wait_until(sub { my ($r) = run_rows($own); $r && $r->[1] eq 'running' }, 20),
	    'own name: the first slot\'s run is unresolved');
	$t->api_mode("$BATCH,lost=504");
	$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() WHERE id = '$own'");
	ok($t->wait_until(sub { my @r = run_rows($own); @r == 2 && $r[1][1] eq 'completed' }, 30),
	    'own name: the next slot\'s run completed') or diag explain [run_rows($own)];
	my %by = started_by();
	my (undef, $r2) = run_rows($own);
	is($r2->[2], $by{ $r2->[0] }, 'own name: with the batch test its own request started');
	ok($t->wait_until(sub { my ($r) = run_rows($own); $r->[1] eq 'failed' }, 30),
	    'own name: the first slot\'s run fails: no batch test of its own turned up')
	    or diag explain [run_rows($own)];
	$t->stop_supervisor;
	$t->api_mode('ok');
	$t->sql("UPDATE scheduled_evaluations SET is_active = false");
}

# --- a run whose request went out, whatever became of its supervisor ------

# The supervisor and its jobrunner die together (kill -9 of the process
# group) after the request went out; the route creates the batch test
# only after a new supervisor has taken over the dead one's runs.
{
	my $conf = $t->write_config(poll_interval => 2, run_timeout => 30, lease => 6);
	my $k = $t->add_schedule(name => 'died together',
	    model_id => "standin:$BATCH,lost=hang,late=5000");
	my $pid = $t->start_supervisor(config => $conf, name => 'old');
	ok($t->wait_until(sub { $t->requests_for($k) == 1 }, 20), 'died together: the request went out');
	kill 'KILL', -$pid;
	$t->wait_exit('old', 5);
	$t->start_supervisor(config => $conf, name => 'new');
	ok($t->wait_until(sub { my ($r) = run_rows($k); $r && $r->[1] ne 'triggered' }, 10),
	    'died together: the new supervisor took over the run');
	my $r = completed($k);
	is($r && $r->[1], 'completed', 'died together: the run completed with the batch test it started')
	    or diag explain [run_rows($k)];
	is_deeply([@{$r}[3, 4, 5]], [3, 2, 1], 'died together: with its results');
	is(scalar $t->requests_for($k), 1, 'died together: one POST');
	is(batch_count(owner($k)), 1, 'died together: one batch test');
	$t->stop_supervisor('new');
	$t->sql("UPDATE scheduled_evaluations SET is_active = false");
}

# The supervisor dies alone; its orphaned jobrunner's request times out
# (an unclear answer, left in the spool), and the route creates the
# batch test after the new supervisor took over.
{
	my $conf = $t->write_config(poll_interval => 2, run_timeout => 8, lease => 6);
	my $o = $t->add_schedule(name => 'orphaned',
	    model_id => "standin:$BATCH,lost=hang,late=3000");
	my $pid = $t->start_supervisor(config => $conf, name => 'old');
	ok($t->wait_until(sub { $t->requests_for($o) == 1 }, 20), 'orphaned: the request went out');
	kill 'KILL', $pid;
	$t->wait_exit('old', 5);
	$t->start_supervisor(config => $conf, name => 'new');
	ok($t->wait_log(qr/recorded the real outcome its orphaned|has no lost run to replace/, 30, 'new'),
	    'orphaned: the jobrunner\'s result was taken') or diag $t->supervisor_log('new');
	my $r = completed($o);
	is($r && $r->[1], 'completed', 'orphaned: the run completed with the batch test it started')
	    or diag explain [run_rows($o)];
	is(scalar $t->requests_for($o), 1, 'orphaned: one POST');
	is(batch_count(owner($o)), 1, 'orphaned: one batch test');
	$t->stop_supervisor('new');
	$t->sql("UPDATE scheduled_evaluations SET is_active = false");
}

# Nothing started: a lost supervisor's run fails once run_timeout has
# passed, the platform's fault, not counted, its owner told.
{
	my $conf = $t->write_config(poll_interval => 2, run_timeout => 5, lease => 6);
	my $lost = $t->add_schedule(name => 'lost, nothing started', model_id => 'standin:hang',
	    alert_on_failure => 'true');
	my $pid = $t->start_supervisor(config => $conf, name => 'old');
	ok($t->wait_until(sub { $t->requests_for($lost) == 1 }, 20),
	    'lost, nothing started: the request went out');
	kill 'KILL', -$pid;
	$t->wait_exit('old', 5);
	$t->start_supervisor(config => $conf, name => 'new');
	ok($t->wait_until(sub { my ($r) = run_rows($lost); $r && $r->[1] eq 'failed' }, 30),
	    'lost, nothing started: failed once run_timeout passed') or diag explain [run_rows($lost)];
	my ($r) = run_rows($lost);
	like($r->[6], qr/^lost: supervisor [0-9a-f-]{36} exited without closing its runs.*; no batch test turned up in the 5 s that followed$/,
	    "lost, nothing started: the error says what happened ($r->[6])");
	my $d = decode_json($r->[7]);
	is_deeply([@{$d}{qw(blame reason)}], ['platform', 'no batch test'],
	    'lost, nothing started: the platform\'s fault');
	is_deeply([$t->sql("SELECT consecutive_failures, last_run_status FROM scheduled_evaluations "
	    . "WHERE id = '$lost'")], [[0, 'failed']], 'lost, nothing started: not counted');
	is($t->sql_value("SELECT count(*) FROM evalsched_alerts WHERE event = 'scheduled_eval_failed' "
	    . "AND scheduled_evaluation_id = '$lost'"), 1, 'lost, nothing started: its owner is told');
	is(scalar $t->requests_for($lost), 1, 'lost, nothing started: one POST');
	$t->stop_supervisor('new');
	$t->sql("UPDATE scheduled_evaluations SET is_active = false");
}

# A shutdown stops the jobrunner while it waits for the answer; the
# route creates the batch test after the supervisor is gone.
{
	my $conf = $t->write_config(poll_interval => 2, run_timeout => 30, shutdown_grace => 0);
	my $c = $t->add_schedule(name => 'shut down',
	    model_id => "standin:$BATCH,lost=hang,late=3000");
	$t->start_supervisor(config => $conf);
	ok($t->wait_until(sub { $t->requests_for($c) == 1 }, 20), 'shut down: the request went out');
	$t->stop_supervisor;
	my ($r) = run_rows($c);
	isnt($r->[1], 'triggered', 'shut down: the dispatch was recorded');
	$t->start_supervisor(config => $conf);
	$r = completed($c);
	is($r && $r->[1], 'completed', 'shut down: the run completed with the batch test it started')
	    or diag explain [run_rows($c)];
	is(scalar $t->requests_for($c), 1, 'shut down: one POST');
	is(batch_count(owner($c)), 1, 'shut down: one batch test');
	$t->stop_supervisor;
	$t->sql("UPDATE scheduled_evaluations SET is_active = false");
}

# Nothing started: a run cut short by a shutdown is cancelled once
# run_timeout has passed, not counted, and nobody is told.
{
	my $conf = $t->write_config(poll_interval => 2, run_timeout => 5, shutdown_grace => 0);
	my $cut = $t->add_schedule(name => 'cut short, nothing started', model_id => 'standin:hang',
	    alert_on_failure => 'true');
	$t->start_supervisor(config => $conf);
	ok($t->wait_until(sub { $t->requests_for($cut) == 1 }, 20),
	    'cut short, nothing started: the request went out');
	$t->stop_supervisor;
	$t->start_supervisor(config => $conf);
	ok($t->wait_until(sub { my ($r) = run_rows($cut); $r && $r->[1] eq 'cancelled' }, 30),
	    'cut short, nothing started: cancelled once run_timeout passed') or diag explain [run_rows($cut)];
	my ($r) = run_rows($cut);
	like($r->[6], qr/^cancelled: the supervisor shut down before the dispatch finished; no batch test turned up/,
	    "cut short, nothing started: the error says so ($r->[6])");
	is_deeply([$t->sql("SELECT consecutive_failures, last_run_status FROM scheduled_evaluations "
	    . "WHERE id = '$cut'")], [[0, 'cancelled']], 'cut short, nothing started: not counted');
	is($t->sql_value("SELECT count(*) FROM evalsched_alerts WHERE scheduled_evaluation_id = '$cut'"),
	    0, 'cut short, nothing started: no alert');
	is(scalar $t->requests_for($cut), 1, 'cut short, nothing started: one POST');
	$t->stop_supervisor;
}

done_testing;
