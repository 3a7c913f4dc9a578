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

done_testing;
