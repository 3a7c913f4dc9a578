# One true run history against a stand-in that writes to the database as
# the application's route does: one row per fired slot, completed with
# its batch test's results; the route's own insert and its positional
# completion never land on our rows, also when it completes run N while
# run N+1 of the same schedule is still being dispatched; three
# all-failed batch tests disable a schedule; re-enabling resets the
# count; a batch test that never ends is closed at completion_timeout.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json);
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
$t->start_supervisor(config => $t->write_config(poll_interval => 2));

sub sched {
	my ($id, $cols) = @_;
	return @{ ($t->sql("SELECT $cols FROM scheduled_evaluations WHERE id = '$id'"))[0] };
}

sub due_again {
	my ($id) = @_;
	$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() WHERE id = '$id'");
}

# --- one row per run, completed with its results -------------------------

# Its batch test is short: on a busy machine it can end before the
# supervisor writes the jobrunner's answer, and the run still started
# (when the batch test was created) before it completed.
my $good = $t->add_schedule(name => 'nightly',
    model_id => 'standin:prompts=5,fail=1,quality=0.75,latency=120,duration=300');
ok($t->wait_until(sub { $t->count_runs($good, "status = 'completed'") == 1 }, 20),
    'the run completes once its batch test ends') or diag $t->supervisor_log;
sleep 0.5;	# the route's positional update has run by now
is($t->count_runs($good), 1, 'one row for the fired slot: the route\'s own insert did not land');
my ($st, $btr, $total, $ok, $failed, $lat, $q, $started, $completed, $err) = @{ ($t->runs_of($good,
    'status, batch_test_run_id, total_prompts, successful_prompts, failed_prompts, '
    . 'avg_latency_ms::float8, avg_quality_score::float8, '
    . 'started_at IS NOT NULL AND started_at <= completed_at, completed_at IS NOT NULL, error_message'))[0] };
is($st, 'completed', 'status completed');
is_deeply([$total, $ok, $failed], [5, 4, 1], 'total, successful and failed prompts');
is($lat, 120, 'avg_latency_ms: mean latency of the assistant messages');
is($q, 0.75, 'avg_quality_score: mean judgment score');
is($started, 't', 'started_at at acceptance, before completed_at');
is($completed, 't', 'completed_at set');
is($err, undef, 'no error');
is($t->sql_value("SELECT status FROM batch_test_runs WHERE id = '$btr'"), 'completed',
    'batch_test_run_id names the batch test');
is_deeply([sched($good, 'last_run_status, consecutive_failures, last_run_id')],
    ['success', 0, $btr], 'schedule: success, no failures, last_run_id the batch test');
ok($t->wait_log(qr/"nightly": run \S+ completed: 4 of 5 prompts succeeded, latency 120 ms, quality 75\.0%/, 5),
    'the completion is logged with its results');

# --- the route completes run N while run N+1 is still being dispatched ----

my $over = $t->add_schedule(name => 'overlap',
    model_id => 'standin:slow=2500,duration=1500,prompts=4,quality=0.9');
ok($t->wait_until(sub { $t->count_runs($over, "status IN ('running', 'completed')") == 1 }, 20),
    'overlap: run N accepted');
# N+1 asks with other results and answers slowly; N's batch test ends
# (with the route's positional update) while N+1 is still triggered.
$t->sql("UPDATE scheduled_evaluations SET model_id = "
    . "'standin:slow=2500,duration=200,prompts=6,fail=3,quality=0.5' WHERE id = '$over'");
due_again($over);
ok($t->wait_until(sub { $t->count_runs($over, "status = 'triggered'") == 1 }, 10),
    'overlap: run N+1 in dispatch');
ok($t->wait_until(sub { $t->count_runs($over, "status = 'completed'") == 2 }, 20),
    'overlap: both runs complete') or diag $t->supervisor_log;
my @two = $t->runs_of($over, 'batch_test_run_id, total_prompts, successful_prompts, '
    . 'avg_quality_score::float8');
is(scalar @two, 2, 'overlap: two rows, one per slot');
isnt($two[0][0], $two[1][0], 'overlap: each run has its own batch test');
is_deeply([@{ $two[0] }[1 .. 3]], [4, 4, 0.9], 'overlap: run N has N\'s results');
is_deeply([@{ $two[1] }[1 .. 3]], [6, 3, 0.5], 'overlap: run N+1 has N+1\'s results');
my ($end_n) = grep { $_->{test_run_id} eq $two[0][0] } $t->api_batch_ends;
my ($req_n1) = grep { ($_->{test_run_id} // '') eq $two[1][0] } $t->api_requests;
ok($end_n && $req_n1 && $req_n1->{t_start} < $end_n->{t} && $end_n->{t} < $req_n1->{t_end},
    'overlap: N\'s batch test ended (and the route updated by position) '
    . 'while N+1 was in dispatch');

# --- three all-failed batch tests disable the schedule --------------------

my $nomodel = $t->add_schedule(name => 'no such model', model_id => 'standin:allfail,prompts=3');
for my $n (1 .. 3) {
	ok($t->wait_until(sub { $t->count_runs($nomodel, "status = 'failed'") == $n }, 20),
	    "all failed $n: the run fails at completion");
	due_again($nomodel) if $n < 3;
}
my ($msg, $det, $tot) = @{ ($t->runs_of($nomodel, 'error_message, error_details, total_prompts'))[2] };
is($msg, 'every prompt failed (3 of 3)', 'all failed: the error says so');
is(decode_json($det)->{blame}, 'schedule', 'all failed: blamed on the schedule');
is($tot, 3, 'all failed: the counts are kept');
is_deeply([sched($nomodel, 'consecutive_failures, is_active, last_run_status')],
    [3, 'f', 'failed'], 'all failed three times: disabled');
ok($t->wait_log(qr/"no such model": auto-disabled after 3 consecutive failures/, 5),
    'the auto-disable is logged');

# --- re-enabling from any client resets the count -------------------------

$t->sql("UPDATE scheduled_evaluations SET is_active = true WHERE id = '$nomodel'");
is((sched($nomodel, 'consecutive_failures'))[0], 0, 're-enabled by SQL: consecutive_failures 0');
$t->sql("UPDATE scheduled_evaluations SET is_active = false, "
    . "consecutive_failures = 2 WHERE id = '$nomodel'");
my $ctl = join ' ', Evalsched::Test::bin('evalschedctl'), '-c', $t->write_config;
my $said = `$ctl resume 'no such model' 2>&1`;
is($? >> 8, 0, 'evalschedctl resume') or diag $said;
is_deeply([sched($nomodel, 'consecutive_failures, is_active')], [0, 't'],
    'resumed by evalschedctl: consecutive_failures 0');
$t->sql("UPDATE scheduled_evaluations SET is_active = false WHERE id = '$nomodel'");

# --- a batch test that crashed, one cancelled, one that never ends --------

my $crash = $t->add_schedule(name => 'crashes', model_id => 'standin:crash');
my $cancel = $t->add_schedule(name => 'cancelled', model_id => 'standin:cancel');
my $never = $t->add_schedule(name => 'never ends', model_id => 'standin:never');
ok($t->wait_until(sub { $t->count_runs($crash, "status = 'failed'") == 1 }, 20),
    'a crashed batch test fails the run');
($msg, $det) = @{ ($t->runs_of($crash, 'error_message, error_details'))[0] };
is($msg, 'the batch test failed: batch worker crashed', 'crashed: the error names the cause');
is(decode_json($det)->{blame}, 'platform', 'crashed: blamed on the platform');
is((sched($crash, 'consecutive_failures'))[0], 0, 'crashed: not counted');
ok($t->wait_until(sub { $t->count_runs($cancel, "status = 'cancelled'") == 1 }, 20),
    'a batch test cancelled by its user cancels the run');
is((sched($cancel, 'last_run_status'))[0], 'cancelled', 'cancelled: last_run_status');
ok($t->wait_until(sub { $t->count_runs($never, "status = 'running'") == 1 }, 20),
    'never ends: the run waits in running');
# Its start moved back past completion_timeout (86400 s by default).
$t->sql("UPDATE scheduled_evaluation_runs SET started_at = now() - interval '2 days', "
    . "evalsched_rev = evalsched_rev + 1 WHERE scheduled_evaluation_id = '$never'");
ok($t->wait_until(sub { $t->count_runs($never, "status = 'failed'") == 1 }, 10),
    'never ends: closed within poll_interval once past completion_timeout');
($msg, $det) = @{ ($t->runs_of($never, 'error_message, error_details'))[0] };
is($msg, 'no result within 86400 s: the batch test is still running',
    'never ends: the reason says so');
is(decode_json($det)->{blame}, 'platform', 'never ends: blamed on the platform');

# --- completions count in the order the runs fired ------------------------

# Run N is accepted and its batch test takes a while; run N+1 is refused
# as the schedule's fault meanwhile.  N completing later does not wipe
# out N+1's failure, nor does it make the schedule's last status success.
my $late = $t->add_schedule(name => 'late completion', model_id => 'standin:duration=2500');
ok($t->wait_until(sub { $t->count_runs($late, "status = 'running'") == 1 }, 20),
    'order: run N under way');
$t->sql("UPDATE scheduled_evaluations SET model_id = 'standin:status=404' WHERE id = '$late'");
due_again($late);
ok($t->wait_until(sub { $t->count_runs($late, "status = 'failed'") == 1 }, 20),
    'order: run N+1 refused');
ok($t->wait_until(sub { $t->count_runs($late, "status = 'completed'") == 1 }, 20),
    'order: run N completed after it');
is_deeply([sched($late, 'consecutive_failures, last_run_status')], [1, 'failed'],
    'order: the later failure still counts and is the last status');

$t->stop_supervisor;

# --- listen = no: completion within poll_interval -------------------------

$t->sql('UPDATE scheduled_evaluations SET is_active = false');
my $polled = $t->add_schedule(name => 'polled', model_id => 'standin:duration=100');
$t->start_supervisor(config => $t->write_config(listen => 'no', poll_interval => 2));
ok($t->wait_until(sub { $t->count_runs($polled, "status = 'completed'") == 1 }, 10),
    'listen = no: completed by the periodic pass');
is($t->stop_supervisor >> 8, 0, 'clean exit');
unlike($t->supervisor_log, qr/ERROR|database: /, 'no database errors logged');

# --- -n names the results tables that are missing -------------------------

# CASCADE: the application's llm_traces refers to messages (its key goes, not
# the table).
$t->sql('DROP TABLE judgments; DROP TABLE messages CASCADE');
my $conf = $t->write_config;
my $check = `${\ Evalsched::Test::bin('evalsched-supervisor')} -n -c $conf 2>&1`;
is($? >> 8, 78, '-n: missing results tables exit 78');
like($check, qr/^\Q$conf\E: database: the application's results tables are missing: messages, judgments /m,
    '-n: names them') or diag $check;

done_testing;
