# Whose fault a failure is.  The application refusing a schedule's request
# counts against that schedule; the platform failing (the application
# down, a wrong service key, a wrong app_url) counts against nobody,
# opens the circuit (dispatch paused, one probe at a time, logged once
# when it opens and once when it closes, evalschedctl status degraded)
# and dispatch resumes within moments of the platform coming back.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json);
use POSIX ();
use Time::HiRes qw(time sleep);
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
my $url = $t->start_api;
my ($port) = $url =~ /:(\d+)$/;
my $ctl = Evalsched::Test::bin('evalschedctl');

sub details {
	my ($id) = @_;
	return map { decode_json($_->[0]) } $t->sql("SELECT error_details FROM "
	    . "scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$id' "
	    . "AND status = 'failed' ORDER BY triggered_at");
}

sub status_of {
	my ($conf) = @_;
	my $out = `$ctl -c $conf status 2>&1`;
	return ($? >> 8, $out);
}

my $conf = $t->write_config(poll_interval => 2, run_timeout => 5, log_level => 'debug');

# --- the schedule's own failures count ------------------------------------

my %refused = (400 => 'standin:status=400', 404 => 'standin:status=404');
my %ids = map { $_ => $t->add_schedule(name => "refused $_", model_id => $refused{$_}) }
    keys %refused;
$t->start_supervisor(config => $conf);
for my $code (sort keys %ids) {
	ok($t->wait_until(sub { details($ids{$code}) == 1 }, 20), "$code: run failed");
	my ($d) = details($ids{$code});
	is($d->{blame}, 'schedule', "$code: blamed on the schedule");
	is($d->{http_status}, $code, "$code: the HTTP status is recorded");
	is($t->sql_value("SELECT consecutive_failures FROM scheduled_evaluations "
	    . "WHERE id = '$ids{$code}'"), 1, "$code: counted");
}
unlike($t->supervisor_log, qr/circuit open/, 'the schedule\'s failures leave the circuit closed');
$t->sql('UPDATE scheduled_evaluations SET is_active = false');

# --- a 20-second outage of the application --------------------------------

# Twenty schedules fall due one a second through the outage.
my @due = map { $t->add_schedule(name => "during outage $_",
    next_run_at => \"now() + interval '$_ seconds'") } 1 .. 20;
$t->stop_api;
my $down_at = time;
ok($t->wait_log(qr/circuit open: dispatch paused, one probe at a time: connection refused/, 10),
    'outage: the circuit opens');
my ($code, $out) = status_of($conf);
is($code, 1, 'outage: evalschedctl status exits 1 (degraded)');
like($out, qr/dispatch paused.*connection refused/, 'outage: status says why') or diag $out;
my $left = 20 - (time - $down_at);
sleep $left if $left > 0;
my $dispatched_in_outage = () = $t->supervisor_log =~ /"during outage \d+": dispatched/g;
$t->start_api(port => $port);
my $up_at = time;
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
    . "WHERE s.name LIKE 'during outage %' AND r.status IN ('running', 'completed')") > 0 }, 30),
    'outage over: dispatch resumes');
# "Within moments", without a stopwatch: the probes never pause longer
# than poll_interval (2 s), and the first probe sent once the application
# is back closes the circuit.
my @pauses = $t->supervisor_log =~ /circuit: probe run \S+ failed; next probe in (\d+) ms/g;
ok(@pauses && !grep({ $_ > 2000 } @pauses),
    'outage: probes never pause longer than poll_interval ('
    . join(', ', @pauses) . ' ms)');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
    . "WHERE s.name LIKE 'during outage %' AND r.status = 'failed' "
    . "AND r.triggered_at >= to_timestamp($up_at)"), 0,
    'outage over: no dispatch made after the application was back failed');
# A failed probe's slot stays failed in the history; every other slot
# waited and ran once the application was back.
sub outage_runs {
	my ($status) = @_;
	return $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
	    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
	    . "WHERE s.name LIKE 'during outage %' AND r.status IN ($status)");
}
ok($t->wait_until(sub { outage_runs("'running', 'completed', 'failed'") == 20 }, 20),
    'outage over: every schedule that came due has run');
cmp_ok(outage_runs("'failed'"), '<=', $dispatched_in_outage,
    'outage over: only probes failed; the slots held back ran once it was over');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
    . "WHERE s.name LIKE 'during outage %'"), 20, 'outage: one run per due slot');
# One probe a poll_interval (2 s) at most, after a ramp of 1 and 2 s: the
# outage's length as it was, on a loaded machine too.
my $most = int(($up_at - $down_at) / 2) + 3;
cmp_ok($dispatched_in_outage, '<=', $most,
    "outage: the circuit held calls back ($dispatched_in_outage probes for 20 due schedules, "
    . "at most $most)");
is($t->sql_value("SELECT count(*) FROM scheduled_evaluations WHERE name LIKE 'during outage %' "
    . "AND (NOT is_active OR consecutive_failures > 0)"), 0,
    'outage: nobody disabled or charged');
my @lost = map { details($_) } @due;
ok(@lost > 0 && !grep({ $_->{blame} ne 'platform' } @lost),
    'outage: the failed probes stay in the history, blamed on the platform');
is(scalar(() = $t->supervisor_log =~ /circuit open/g), 1, 'outage: "circuit open" logged once');
is(scalar(() = $t->supervisor_log =~ /circuit closed/g), 1, 'outage: "circuit closed" logged once');
($code) = status_of($conf);
is($code, 0, 'outage over: evalschedctl status exits 0');
$t->stop_supervisor;
$t->sql('UPDATE scheduled_evaluations SET is_active = false');

# --- a wrong service key ---------------------------------------------------

my @keyed = map { $t->add_schedule(name => "wrong key $_") } 1 .. 3;
$t->spew($t->dir . '/wrong.key', "sk-not-the-deployment-key\n");
my $wrong = $t->write_config(poll_interval => 2, run_timeout => 5,
    service_role_key_file => $t->dir . '/wrong.key');
$t->start_supervisor(config => $wrong);
ok($t->wait_log(qr/circuit open: .*HTTP 401 .*Invalid service role key/, 15),
    'wrong key: the circuit opens on the 401');
# utime + stime of a process, in seconds.
my $cpu0 = $t->cpu_seconds($t->supervisor_pid);
sleep 6;	# the circuit stays open, with nothing due
cmp_ok($t->cpu_seconds($t->supervisor_pid) - $cpu0, '<', 1,
    'wrong key: an open circuit with nothing due is no busy loop');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluations WHERE name LIKE 'wrong key %' "
    . "AND (NOT is_active OR consecutive_failures > 0)"), 0,
    'wrong key: none disabled or charged');
my @d = map { details($_) } @keyed;
ok(@d && !grep({ $_->{blame} ne 'platform' || $_->{http_status} != 401 } @d),
    'wrong key: the failures are the platform\'s, HTTP 401');
unlike($t->supervisor_log, qr/\Q${\ $t->key }\E|sk-not-the-deployment-key/,
    'wrong key: neither key is logged');
$t->stop_supervisor;

# --- a wrong app_url: a configuration error, never a run -------------------

my $typo = $t->write_config(app_url => 'http://exa mple.com');
my $err = `${\ Evalsched::Test::bin('evalsched-supervisor')} -n -c $typo 2>&1`;
is($? >> 8, 78, 'app_url with a space: -n exits 78');
like($err, qr/^\Q$typo\E:\d+: app_url: 'http:\/\/exa mple\.com' is not a valid URL/m,
    'app_url with a space: file:line: message');
$err = `${\ Evalsched::Test::bin('evalsched-supervisor')} -f -c $typo 2>&1`;
is($? >> 8, 78, 'app_url with a space: the supervisor refuses to start (78)');

done_testing;
