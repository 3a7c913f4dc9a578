# Failures: the third consecutive failure of the schedule's disables it
# and a completed run resets the count; a hung API is cut off at
# run_timeout; a jobrunner that hangs, kills itself or cannot be executed
# gives a run naming why (and not where: its stderr, which names paths,
# stays in the supervisor's log), blamed on the platform (counted against
# nobody), and the supervisor keeps going.  One that may have sent its
# request (all but the one that could not be executed) leaves its run
# unresolved: 'running' without a batch test, until the database shows
# whether one started (oneslot.t has the rest).
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json);
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;

sub runs_of {
	my ($id, $status) = @_;
	return $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
	    . "WHERE scheduled_evaluation_id = '$id'"
	    . ($status ? " AND status = '$status'" : " AND status <> 'triggered'"));
}

sub due_again {
	my ($id) = @_;
	$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() WHERE id = '$id'");
}

sub sched {
	my ($id, $cols) = @_;
	return @{ ($t->sql("SELECT $cols FROM scheduled_evaluations WHERE id = '$id'"))[0] };
}

$t->start_supervisor(config => $t->write_config(run_timeout => 4));

# Three failures in a row disable the schedule.
my $bad = $t->add_schedule(name => 'always refused', model_id => 'standin:status=400');
for my $n (1 .. 3) {
	ok($t->wait_until(sub { runs_of($bad) == $n }, 20), "failure $n recorded");
	is_deeply([sched($bad, 'consecutive_failures, is_active')],
	    [$n, $n < 3 ? 't' : 'f'], "after failure $n: count $n, "
	    . ($n < 3 ? 'still active' : 'disabled'));
	due_again($bad) if $n < 3;
}
ok($t->wait_log(qr/"always refused": auto-disabled after 3 consecutive failures/, 5),
    'the auto-disable is logged');
due_again($bad);
# Were it dispatched, it would be no later than a schedule due after it.
ok($t->run_sentinel, 'a sentinel schedule due after it ran');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
    . "WHERE scheduled_evaluation_id = '$bad'"), 3,
    'a disabled schedule is not dispatched');

# Two failures, then a success resets the count.
my $flaky = $t->add_schedule(name => 'recovers', model_id => 'standin:status=404');
ok($t->wait_until(sub { runs_of($flaky) == 1 }, 20), 'recovers: failure 1');
due_again($flaky);
ok($t->wait_until(sub { runs_of($flaky) == 2 }, 20), 'recovers: failure 2');
$t->sql("UPDATE scheduled_evaluations SET model_id = 'standin:duration=1500' "
    . "WHERE id = '$flaky'");
due_again($flaky);
ok($t->wait_until(sub { runs_of($flaky, 'running') + runs_of($flaky, 'completed') == 1 }, 20),
    'recovers: then a success');
is_deeply([sched($flaky, 'consecutive_failures, is_active')], [2, 't'],
    'an accepted run leaves the count while its batch test is under way');
ok($t->wait_until(sub { runs_of($flaky, 'completed') == 1 }, 20), 'recovers: completed');
is_deeply([sched($flaky, 'consecutive_failures, is_active, last_run_status')],
    [0, 't', 'success'], 'a completed run resets the count');

# A hung API: the jobrunner gives up inside run_timeout and says so.
my $hung = $t->add_schedule(name => 'hung api', model_id => 'standin:hang');
ok($t->wait_until(sub { runs_of($hung) == 1 }, 20), 'hung API: run recorded');
is(runs_of($hung, 'running'), 1, 'hung API: unresolved, as its request went out');
my ($msg, $det) = @{ ($t->sql("SELECT error_message, error_details FROM "
    . "scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$hung'"))[0] };
# The jobrunner's own deadline, not the supervisor's kill, ended it, and
# that deadline came from run_timeout: 9/10 of its 4 s.  The message
# says so; the time gets a lower bound only, which a slow (sanitizer)
# build meets as well.
like($msg, qr/^timed out after 3\.6 s \(1 attempt\)$/,
    "hung API: the jobrunner gave up at its deadline, from run_timeout ($msg)");
my $hd = decode_json($det);
is($hd->{blame}, 'platform', 'hung API: blamed on the platform');
cmp_ok($hd->{elapsed_ms}, '>=', 3600, 'hung API: it waited for the deadline');

$t->stop_supervisor;

# Jobrunners that misbehave, as a stand-in program.
sub fake_jobrunner {
	my ($name, $script) = @_;
	my $path = $t->dir . "/$name";
	$t->spew($path, "#!/bin/sh\n$script\n");
	chmod 0755, $path;
	return $path;
}

# Each is the platform's fault, not the schedule's: none counts.
my %cases = (
	# exec: the sleep is the jobrunner, SIGTERM still ignored, and the
	# supervisor's SIGKILL leaves no sleep behind.
	'ignores SIGTERM' => [fake_jobrunner('stubborn', "trap '' TERM\nexec sleep 30"),
	    qr/^timed out: the jobrunner outlived run_timeout \(2 s\) and was killed$/],
	'kills itself' => [fake_jobrunner('suicidal', 'kill -SEGV $$'),
	    qr/^jobrunner killed by signal 11 \(Segmentation fault\)$/],
	'is missing' => [$t->dir . '/no-such-jobrunner',
	    qr/^cannot run the jobrunner \(see the supervisor's log\)$/,
	    qr/jobrunner \d+: cannot execute \S+no-such-jobrunner: No such file or directory$/m],
	'exits 75 silently' => [fake_jobrunner('silent', 'cat >/dev/null; exit 75'),
	    qr/^jobrunner exited 75$/],
	'writes a result larger than its bound' => [fake_jobrunner('verbose',
	    "cat >/dev/null; head -c 200000 /dev/zero | tr '\\0' x; exit 0"),
	    qr/^jobrunner exited 0: its result was larger than 65536 bytes$/],
	'writes bytes that are not UTF-8' => [fake_jobrunner('latin1',
	    "cat >/dev/null; printf 'caf\\351 \\001 \\342\\202\\254 page\\n' >&2; exit 75"),
	    qr/^jobrunner exited 75 \(see the supervisor's log\)$/,
	    qr/jobrunner \d+: caf\? \? \xe2\x82\xac page$/m],
);
for my $case (sort keys %cases) {
	my ($path, $re, $logged) = @{ $cases{$case} };
	$t->sql('UPDATE scheduled_evaluations SET is_active = false');
	my $id = $t->add_schedule(name => "jobrunner $case");
	$t->start_supervisor(config => $t->write_config(jobrunner => $path,
	    run_timeout => 2));
	ok($t->wait_until(sub { runs_of($id) == 1 }, 20), "jobrunner $case: run recorded")
	    or diag $t->supervisor_log;
	my $sent = $case eq 'is missing' ? 'failed' : 'running';
	is(runs_of($id, $sent), 1, "jobrunner $case: $sent"
	    . ($sent eq 'running' ? ' (unresolved: it may have sent)' : ''));
	my ($m, $d) = @{ ($t->sql("SELECT error_message, error_details FROM "
	    . "scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$id'"))[0] };
	like($m, $re, "jobrunner $case: $m");
	unlike($m, qr{/}, "jobrunner $case: no path in the error");
	like($t->supervisor_log, $logged, "jobrunner $case: its words are in the log")
	    if $logged;
	unlike($d, qr/jobrunner_stderr/, "jobrunner $case: nor in the error's details");
	is(decode_json($d)->{blame}, 'platform', "jobrunner $case: blamed on the platform");
	is((sched($id, 'consecutive_failures'))[0], 0,
	    "jobrunner $case: does not count toward auto-disable");
	ok(kill(0, $t->supervisor_pid), "jobrunner $case: the supervisor keeps going");
	is($t->count_log(qr/jobrunner \d+: its result is larger than/), 1,
	    "jobrunner $case: said once") if $case =~ /larger/;
	is($t->stop_supervisor >> 8, 0, "jobrunner $case: clean exit");
}
done_testing;
