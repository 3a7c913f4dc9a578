# One batch test per slot, whatever fails where.  The application's route
# is not idempotent: a request whose answer is lost (a gateway's 502 or
# 504 after the route accepted it, a connection dropped after it, a
# timeout after the request went out) is never sent again.  Its run
# finds the batch test it started in the database, by the name evalsched
# gave it, and completes with that batch test's results; nobody is
# charged.  A run for which no batch test turns up fails as the
# platform's fault, and meanwhile blocks neither its schedule's next
# slot nor anything else.  Only what provably started nothing (the
# route's own error answers) is tried again.  A supervisor lost with a
# run in flight whose batch test had started leaves a run that goes on.
# The old worker's 'triggered' rows never take the route's completion,
# and the schema additions close them.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json);
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
my $conf = $t->write_config(poll_interval => 2, run_timeout => 10,
    max_concurrent => 8);

my $BATCH = 'route,prompts=3,fail=1,quality=0.7,latency=90,duration=300';

sub owner { $t->sql_value("SELECT user_id FROM scheduled_evaluations WHERE id = '$_[0]'") }

# The batch tests of a schedule's owner (each schedule has its own).
sub batches {
	my ($id) = @_;
	return $t->sql("SELECT id, config->>'custom_name' FROM batch_test_runs "
	    . "WHERE user_id = '" . owner($id) . "' ORDER BY created_at");
}

sub run_row {
	my ($id) = @_;
	my @r = $t->sql("SELECT status, batch_test_run_id, total_prompts, "
	    . "successful_prompts, failed_prompts, error_message, batch_name, "
	    . "error_details FROM scheduled_evaluation_runs "
	    . "WHERE scheduled_evaluation_id = '$id' ORDER BY triggered_at");
	return @r;
}

sub sched {
	my ($id, $cols) = @_;
	return $t->sql("SELECT $cols FROM scheduled_evaluations WHERE id = '$id'");
}

# Pre-evalsched: a row the old worker's era left 'triggered', of a
# schedule evalsched is about to run.
my $old = $t->add_schedule(name => 'old era', model_id => "standin:$BATCH");
$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, status, "
    . "triggered_at) VALUES ('$old', 'triggered', now() - interval '3 days')");

my %lost = (
	'502' => 'lost=502',
	'504' => 'lost=504',
	'dropped connection' => 'lost=close',
	'timeout after sending' => 'lost=hang',
	'504, batch created later' => 'lost=504,late=3000',
);
my %id = map { $_ => $t->add_schedule(name => "lost $_", alert_on_failure => 'true',
    model_id => "standin:$BATCH,$lost{$_}") } sort keys %lost;
my $gateway = $t->add_schedule(name => 'gateway', alert_on_failure => 'true',
    model_id => 'standin:route,status=502');
my $route500 = $t->add_schedule(name => 'route 500', model_id => 'standin:route,status=500');

$t->start_supervisor(config => $conf);

# While its batch test has not turned up, a run is 'running' without one.
my $late = $id{'504, batch created later'};
ok($t->wait_until(sub { my ($r) = run_row($late);
    $r && $r->[0] eq 'running' && !defined $r->[1] }, 20),
    'an unclear answer: the run is running, without a batch test, meanwhile');
my (undef, $out) = $t->ctl('-c', $conf, 'runs', 'lost 504, batch created later');
like($out, qr/running, unresolved/, 'evalschedctl runs says it is unresolved') or diag $out;
my (undef, $json) = $t->ctl('-c', $conf, '--json', 'runs', 'lost 504, batch created later');
my ($j) = @{ decode_json($json) };
ok($j->{unresolved}, '... and so does its JSON');

# A 502 from in front of the application: the request reached nothing,
# which only the database can tell.
ok($t->wait_until(sub { my ($r) = run_row($gateway); $r && $r->[0] eq 'running' }, 20),
    'gateway 502: the run waits, unresolved');
is(scalar $t->requests_for($gateway), 1, 'gateway 502: not sent again');
# Its next slot is not blocked by it.
$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() WHERE id = '$gateway'");
ok($t->wait_until(sub { run_row($gateway) == 2 && $t->requests_for($gateway) == 2 }, 20),
    'gateway 502: the next slot is dispatched while the first is unresolved');
ok((run_row($gateway))[0]->[0] eq 'running', '... the first still unresolved then');

for my $what (sort keys %lost) {
	my $s = $id{$what};
	ok($t->wait_until(sub { (run_row($s))[0]->[0] eq 'completed' }, 30),
	    "$what: the run completed") or diag explain [run_row($s)];
	is(scalar $t->requests_for($s), 1, "$what: one POST");
	my @b = batches($s);
	is(scalar @b, 1, "$what: one batch test");
	my @r = run_row($s);
	is(scalar @r, 1, "$what: one run");
	my ($status, $batch, $total, $ok, $bad, $err, $name) = @{ $r[0] };
	is($batch, $b[0][0], "$what: the run has the batch test that started");
	is_deeply([$total, $ok, $bad], [3, 2, 1], "$what: with its results");
	ok(!defined $err, "$what: no error left on the run");
	like($name, qr/^lost \Q$what\E - \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC \(\Q@{[substr($s, 0, 8)]}\E\)$/,
	    "$what: the batch test is named after the schedule, its slot and its id ($name)");
	is($b[0][1], $name, "$what: the name the application stored");
	is_deeply([sched($s, 'consecutive_failures, is_active, last_run_status, last_run_id')],
	    [[0, 't', 'success', $b[0][0]]], "$what: nobody charged; the schedule shows the batch test");
	is($t->sql_value("SELECT count(*) FROM evalsched_alerts WHERE scheduled_evaluation_id = '$s'"),
	    0, "$what: no failure alert");
}

# A 502 from in front of the application: the request reached nothing.
ok($t->wait_until(sub { !grep { $_->[0] ne 'failed' } run_row($gateway) }, 30),
    'gateway 502: no batch test turned up: failed');
my ($g) = run_row($gateway);
like($g->[5], qr/^HTTP 502 from the application: .*; no batch test turned up in the 10 s that followed$/,
    "gateway 502: the error says what happened ($g->[5])");
my $d = decode_json($g->[7]);
is_deeply([@{$d}{qw(blame reason http_status)}], ['platform', 'no batch test', 502],
    'gateway 502: the platform\'s fault, recorded');
is_deeply([sched($gateway, 'consecutive_failures, is_active, last_run_status')],
    [[0, 't', 'failed']], 'gateway 502: not counted');
is(scalar batches($gateway), 0, 'gateway 502: no batch test');
like($t->sql_value("SELECT message FROM evalsched_alerts WHERE event = 'scheduled_eval_failed' "
    . "AND scheduled_evaluation_id = '$gateway' ORDER BY created_at LIMIT 1") // '',
    qr/^Your scheduled evaluation failed\. HTTP 502 .*no batch test turned up.*not of the schedule/,
    'gateway 502: its owner is told');

# The route's own error answer started nothing: tried again.
ok($t->wait_until(sub { my ($r) = run_row($route500); $r && $r->[0] eq 'failed' }, 20),
    'route 500: failed');
is(scalar $t->requests_for($route500), 3, 'route 500: tried three times');
is(scalar batches($route500), 0, 'route 500: no batch test');

# The route's completion by position never lands on the old era's row.
ok($t->wait_until(sub { grep { $_->[0] eq 'completed' } run_row($old) }, 30),
    'old era: evalsched\'s run completed');
my ($old_batch) = map { $_->[1] } grep { defined $_->[6] } run_row($old);
ok($t->wait_until(sub { grep { $_->{test_run_id} eq $old_batch
    && defined $_->{scheduled_runs_updated} } $t->api_batch_ends }, 10),
    'old era: the route\'s update by position ran');
is_deeply([map { [@{$_}[0, 1]] } grep { !defined $_->[6] } run_row($old)],
    [['triggered', undef]], 'old era: the old row is left alone by it');
$t->stop_supervisor;

# --- a lost supervisor whose run's batch test had started -----------------

my $kconf = $t->write_config(poll_interval => 2, run_timeout => 30, lease => 6);
my $k = $t->add_schedule(name => 'killed', model_id => "standin:$BATCH,lost=hang");
my $pid = $t->start_supervisor(config => $kconf, name => 'old');
ok($t->wait_until(sub { my ($r) = run_row($k); $r && $r->[0] eq 'triggered' && defined $r->[1] }, 20),
    'killed: in flight, its batch test created');
kill 'KILL', $pid;
$t->wait_exit('old', 5);
$t->start_supervisor(config => $kconf, name => 'new');
ok($t->wait_until(sub { (run_row($k))[0]->[0] eq 'completed' }, 20),
    'killed: the run went on and completed') or diag $t->supervisor_log('new');
my ($kr) = run_row($k);
is_deeply([@{$kr}[2, 3, 4]], [3, 2, 1], 'killed: with its batch test\'s results');
is(scalar batches($k), 1, 'killed: one batch test');
is(scalar $t->requests_for($k), 1, 'killed: one POST');
like($t->supervisor_log('new'), qr/run \S+ goes on: its supervisor .* but its batch test had started/,
    'killed: the new supervisor says so');
$t->stop_supervisor('new');

# --- the additions close the old era's rows --------------------------------

$t->psql_file(Evalsched::Test::top() . '/etc/schema-additions.sql');
my ($o) = grep { !defined $_->[6] } run_row($old);
is($o->[0], 'failed', 'old era: the schema additions close the row');
like($o->[5], qr/^closed by evalsched: left 'triggered' from before evalsched/,
    '... saying why');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs WHERE status = 'triggered'"), 0,
    'nothing is left triggered');

done_testing;
