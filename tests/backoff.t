# Whose fault a failure is, when the platform fails one schedule alone.
# The application answers 500 for one schedule while it accepts the
# others, and that schedule's owner keeps its next_run_at in the past,
# again and again: it is backed off by itself (its own backoff, in the
# database, whatever its owner does), the others are all dispatched in
# due order, and evalschedctl shows it.  When the platform fails every
# schedule (the application down), the circuit opens as before, its
# probes rotate between the due schedules, and nobody is backed off
# alone.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json);
use Evalsched::Test qw(uuid);

my $t = Evalsched::Test->new;
$t->start_pg;
my $url = $t->start_api;
my ($port) = $url =~ /:(\d+)$/;
my $dir = $t->dir;

# The owner of a schedule keeps it due: an update of their own row,
# five times a second, until stopped, from one session (a psql a time
# cost more CPU than the supervisor).
sub keep_due {
	my ($name, $id) = @_;
	my $psql = join ' ', map { "'$_'" } $t->psql_cmd;
	$t->spawn($name, ['sh', '-c', "while :; do echo \"UPDATE "
	    . "scheduled_evaluations SET next_run_at = now() - interval '1 hour' "
	    . "WHERE id = '$id';\"; sleep 0.2; done | $psql"], "$dir/$name.log");
}

sub runs_of {
	my ($where) = @_;
	return $t->sql("SELECT s.name, r.status, extract(epoch FROM r.slot_at), "
	    . "r.error_details->>'blame' FROM scheduled_evaluation_runs r "
	    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
	    . "WHERE $where ORDER BY r.triggered_at, r.slot_at, r.id");
}

# --- one schedule the application fails, kept due by its owner --------------

my $bad = $t->add_schedule(name => 'answered 500', model_id => 'standin:status=500',
    next_run_at => \"now() - interval '1 hour'");
keep_due('owner', $bad);
my $conf = $t->write_config(poll_interval => 2, max_concurrent => 3);
$t->start_supervisor(config => $conf);
# Nothing else due: its failure alone says nothing of whose fault it is,
# and opens the circuit.
ok($t->wait_log(qr/circuit open: dispatch paused, one probe at a time: HTTP 500/, 60),
    'its first failure, with nothing else to compare, opens the circuit');
# Now a hundred schedules of four users fall due one every fifth of a
# second, behind it.
my @owners = map { $t->add_user(uuid(), uuid()) } 1 .. 4;
for my $i (0 .. 99) {
	my $u = $owners[$i % 4];
	$t->sql("INSERT INTO scheduled_evaluations (user_id, name, schedule_type, "
	    . "cron_expression, timezone, test_suite_id, model_id, next_run_at) "
	    . "SELECT '$u', 'good $i', 'custom', '0 0 1 1 *', 'UTC', id, 'gpt-test', "
	    . "now() + $i * interval '200 milliseconds' "
	    . "FROM test_suites WHERE user_id = '$u'");
}
sub good_ok {
	return $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
	    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
	    . "WHERE s.name LIKE 'good %' AND r.status IN ('running', 'completed')");
}
ok($t->wait_until(sub { good_ok() == 100 }, 90),
    'all 100 good schedules are dispatched (' . good_ok() . ')');
my @good = runs_of("s.name LIKE 'good %'");
is(scalar @good, 100, 'one run each');
my @out_of_order = grep { $good[$_][2] < $good[$_ - 1][2] } 1 .. $#good;
is(scalar @out_of_order, 0, 'in due order');
my @bad = runs_of("s.id = '$bad'");
cmp_ok(scalar @bad, '>=', 2, 'the bad schedule was tried (' . scalar(@bad) . ' times)');
cmp_ok(scalar @bad, '<=', 10, 'and backed off, its owner keeping it due notwithstanding');
ok(!grep({ $_->[1] ne 'triggered' && ($_->[1] ne 'failed' || $_->[3] ne 'platform') } @bad),
    'its failures are the platform\'s: they count against nobody');
is_deeply([$t->sql("SELECT is_active, consecutive_failures FROM scheduled_evaluations "
    . "WHERE id = '$bad'")], [['t', 0]], 'it is neither charged nor disabled');
my $failures = $t->sql_value("SELECT failures FROM evalsched_backoffs "
    . "WHERE scheduled_evaluation_id = '$bad'") // 0;
cmp_ok($failures, '>=', 1, "its backoff is kept in the database ($failures failures alone)");
is($t->sql_value("SELECT count(*) FROM evalsched_backoffs WHERE scheduled_evaluation_id <> '$bad'"),
    0, 'no good schedule is backed off');
is($t->count_log(qr/circuit open/), 1, 'the circuit opened once only');
like($t->supervisor_log, qr/schedule "answered 500": the platform fails it alone while other schedules reach the application; backed off by itself for \d+ s/,
    'the log says it is backed off by itself');

# Where an operator looks: status lists it without calling anything
# degraded; show says until when and why.
$t->sql("INSERT INTO evalsched_backoffs (scheduled_evaluation_id, failures, not_before, reason) "
    . "VALUES ('$bad', 5, now() + interval '1 hour', 'HTTP 500') ON CONFLICT "
    . "(scheduled_evaluation_id) DO UPDATE SET not_before = now() + interval '1 hour'");
my ($code, $out) = $t->ctl('-c', $conf, 'status');
is($code, 0, 'status: ok') or diag $out;
like($out, qr/^backed off alone: 1 schedule\nID\tNAME\tUNTIL\tFAILURES\tREASON\n\S+\tanswered 500\t\S+\t\d+\t/m,
    'status: lists the schedule backed off alone') or diag $out;
like($out, qr/^overdue: 0 schedules$/m, 'status: it is not overdue');
($code, $out) = $t->ctl('-c', $conf, 'show', 'answered 500');
like($out, qr/^backed off\s+until \S+, \d+ failures of its own in a row while others reach the application: /m,
    'show: backed off, until when and why') or diag $out;
($code, $out) = $t->ctl('-c', $conf, '--json', 'show', 'answered 500');
my $j = eval { decode_json($out) } // {};
ok($j->{backoff} && $j->{backoff}{waiting} && $j->{backoff}{failures} >= 1
    && $j->{backoff}{until} =~ /^\d{4}-/ && $j->{backoff}{reason} =~ /HTTP 500/,
    'show --json: its backoff') or diag $out;
$t->stop('owner');
$t->stop_supervisor;
$t->sql('UPDATE scheduled_evaluations SET is_active = false');
$t->sql('DELETE FROM evalsched_backoffs');

# --- every schedule fails: the circuit, probes rotating -----------------------

# The application will answer 500 for this one alone once it is back.
my $kept = $t->add_schedule(name => 'kept due', model_id => 'standin:status=500',
    next_run_at => \"now() - interval '1 hour'");
keep_due('owner2', $kept);
my @others = map { $t->add_schedule(name => "other $_",
    next_run_at => \"now() - interval '$_ minutes'") } 1 .. 4;
$t->stop_api;
$t->start_supervisor(config => $t->write_config(poll_interval => 2, max_concurrent => 1,
    run_timeout => 5));
ok($t->wait_log(qr/circuit open: dispatch paused, one probe at a time: connection refused/, 15),
    'outage: the circuit opens');
my @probes;
ok($t->wait_until(sub {
	@probes = map { $_->[0] } runs_of("s.name = 'kept due' OR s.name LIKE 'other %'");
	return @probes >= 6;
}, 60), 'outage: probes go on');
my %seen;
my $first_repeat = (grep { $seen{$probes[$_]}++ } 0 .. $#probes)[0];
is($first_repeat, 5, 'outage: no schedule probed twice before every due one was '
    . '(' . join(', ', @probes) . ')');
is($t->sql_value('SELECT count(*) FROM evalsched_backoffs'), 0,
    'outage: nobody is backed off alone');
($code, $out) = $t->ctl('-c', $conf, 'status');
is($code, 1, 'outage: status degraded');
like($out, qr/dispatch paused.*connection refused/, 'outage: and says why');

# The application is back: the next schedule due closes the circuit; the
# one still failing after that is its own.
$t->start_api(port => $port);
my $fresh = $t->add_schedule(name => 'fresh');
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
    . "WHERE scheduled_evaluation_id = '$fresh' AND status IN ('running', 'completed')") }, 30),
    'back: a probe reaches the application');
ok($t->wait_log(qr/circuit closed/, 10), 'back: the circuit closes');
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM evalsched_backoffs "
    . "WHERE scheduled_evaluation_id = '$kept'") == 1 }, 30),
    'back: the schedule the application still fails is backed off alone');
is($t->sql_value("SELECT count(*) FROM evalsched_backoffs"), 1, 'and nobody else');
$t->stop('owner2');
$t->stop_supervisor;
done_testing;
