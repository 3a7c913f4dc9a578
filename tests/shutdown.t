# SIGTERM: no new dispatches, runs in flight get shutdown_grace to finish,
# then are terminated and recorded as cut short: unresolved, as their
# requests may have gone out (cancelled once run_timeout has passed
# without a batch test, review20.t); exit 0 and the pid file is removed.
# -1: dispatch what is due, wait for it, exit.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api(mode => 'never');	# batch tests stay under way

# Finishes within the grace: recorded normally.
my $quick = $t->add_schedule(name => 'quick', model_id => 'standin:slow=800,never');
# Hangs past the grace: cut short.
my @hung = map { $t->add_schedule(name => "hung $_", model_id => 'standin:hang') } 1 .. 2;
my $conf = $t->write_config(shutdown_grace => 2, run_timeout => 60);
$t->start_supervisor(config => $conf);
ok($t->wait_until(sub { scalar($t->api_requests) == 3 }, 20), 'three requests in flight');
my $pidfile = $t->dir . '/supervisor1.pid';
ok(-s $pidfile, 'the pid file exists while running');
my $t0 = time;
kill 'TERM', $t->supervisor_pid;
my $later = $t->add_schedule(name => 'due during shutdown');
my $status = $t->wait_exit('supervisor', 20);
ok(defined $status, 'the supervisor exits');
is($status >> 8, 0, 'exit status 0');
ok(time - $t0 >= 2, 'it waited for shutdown_grace');
ok(!-e $pidfile, 'the pid file is removed');
is($t->sql_value("SELECT status FROM scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$quick'"),
    'running', 'a run that finished within the grace is recorded as it ended');
for my $id (@hung) {
	my ($st, $msg, $batch, $details) = @{ ($t->sql("SELECT status, error_message, "
	    . "batch_test_run_id, error_details FROM scheduled_evaluation_runs "
	    . "WHERE scheduled_evaluation_id = '$id'"))[0] };
	is($st, 'running', 'a run cut short by shutdown waits for its batch test, unresolved');
	ok(!defined $batch, '... which has not turned up');
	like($msg, qr/^cancelled: the supervisor shut down/, 'and says it was cut short');
	like($details, qr/"cancelled": true/, 'and so do its details');
}
is_deeply([$t->sql("SELECT last_run_status, consecutive_failures, is_active FROM scheduled_evaluations "
    . "WHERE id = '$hung[0]'")], [[undef, 0, 't']],
    'a run cut short is not a failure of the schedule');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$later'"),
    0, 'nothing new is dispatched once stopping');
is($t->sql_value("SELECT count(*) FROM evalsched_supervisors WHERE stopped_at IS NOT NULL"), 1,
    'the supervisor marked itself stopped');
like($t->supervisor_log, qr/terminating/, 'logs terminating');

# -1: dispatch what is due now, wait for those runs, exit.
$t->sql('UPDATE scheduled_evaluations SET is_active = false');
my @once = map { $t->add_schedule(name => "once $_", model_id => 'standin:slow=300,never') } 1 .. 5;
$t->add_schedule(name => 'not yet', next_run_at => \"now() + interval '1 hour'");
$t->start_supervisor(config => $conf, args => ['-1'], name => 'once', wait_ready => 0);
$status = $t->wait_exit('once', 30);
ok(defined $status, '-1 exits by itself');
is($status >> 8, 0, '-1 exit status 0');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r JOIN scheduled_evaluations s "
    . "ON s.id = r.scheduled_evaluation_id WHERE s.name LIKE 'once %' AND r.status = 'running'"), 5,
    '-1 dispatched and recorded all five due schedules (three at a time)');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r JOIN scheduled_evaluations s "
    . "ON s.id = r.scheduled_evaluation_id WHERE s.name = 'not yet'"), 0, '-1 left the future one alone');
is($t->sql_value("SELECT count(*) FROM evalsched_supervisors WHERE stopped_at IS NULL "
    . "AND lost_at IS NULL"), 0, '-1 marks itself stopped, as every supervisor before it');

# A jobrunner that ignores SIGTERM needs SIGKILL, two seconds after the
# grace: its run is still recorded, and the supervisor still marked
# stopped, before it exits.
my $stubborn = $t->dir . '/stubborn-jobrunner';
my $ready = $t->dir . '/stubborn.ready';
$t->spew($stubborn, "#!/bin/sh\ntrap '' TERM\ncat >/dev/null\n: > '$ready'\nexec sleep 60\n");
chmod 0755, $stubborn;
$t->sql('UPDATE scheduled_evaluations SET is_active = false');
my $kill = $t->add_schedule(name => 'stubborn');
$t->start_supervisor(name => 'stubborn', config => $t->write_config(
    shutdown_grace => 0, run_timeout => 60, jobrunner => $stubborn));
ok($t->wait_until(sub { $t->count_runs($kill, "status = 'triggered'") == 1 }, 20),
    'stubborn: its run is in flight');
ok($t->wait_until(sub { -e $ready }, 20), 'stubborn: it has its job and ignores SIGTERM');
kill 'TERM', $t->supervisor_pid('stubborn');
$status = $t->wait_exit('stubborn', 30);
is($status >> 8, 0, 'stubborn: exit 0');
is($t->count_runs($kill, "status = 'running' AND error_message LIKE 'cancelled:%'"), 1,
    'stubborn: its run is recorded as cut short');
is($t->sql_value("SELECT count(*) FROM evalsched_supervisors WHERE stopped_at IS NULL "
    . "AND lost_at IS NULL"), 0, 'stubborn: marked stopped');
done_testing;
