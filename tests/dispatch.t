# Dispatch end to end: each due schedule is POSTed once with the right
# headers and body; inactive and future schedules are left alone; run rows
# and schedule columns are right after success and after failure; never
# more than max_concurrent requests in flight.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json);
use Evalsched::Test qw(uuid);

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api(mode => 'never');	# batch tests stay under way

my $user = uuid();
my $suite = uuid();
my $good = $t->add_schedule(name => 'nightly gpt', user_id => $user, schedule_type => 'hourly',
    test_suite_id => $suite, model_id => 'gpt-4-turbo',
    batch_test_config => '{"model_id": "overridden", "prompt_limit": 25, '
    . '"test_suite_id": "overridden", "nested": {"a": [1, 2]}}');
my $failing = $t->add_schedule(name => 'refused', model_id => 'standin:status=400');
my $inactive = $t->add_schedule(name => 'paused', is_active => 'false');
my $future = $t->add_schedule(name => 'later',
    next_run_at => \"now() + interval '1 hour'");

$t->start_supervisor(config => $t->write_config(max_concurrent => 3));
ok($t->wait_until(sub { $t->sql_value(
    "SELECT count(*) FROM scheduled_evaluation_runs WHERE status <> 'triggered'") == 2 }, 30),
    'both due schedules ran');
# A second POST of the same slot would go out no later than a schedule
# that falls due after both: wait until that one has run.
ok($t->run_sentinel(all_done => 1), 'a sentinel schedule due after them ran');
my @reqs = $t->requests_for($good, $failing, $inactive, $future);
is(scalar @reqs, 2, 'two requests, one per due schedule');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
    . "WHERE scheduled_evaluation_id IN ('$good', '$failing')"), 2,
    'one run each');

my ($req) = grep { decode_json($_->{body})->{config}{model_id} eq 'gpt-4-turbo' } @reqs;
ok($req, 'the good schedule was POSTed') or BAIL_OUT('no request');
my ($run_id) = $t->sql_value("SELECT id FROM scheduled_evaluation_runs "
    . "WHERE scheduled_evaluation_id = '$good'");
my $h = $req->{headers};
is($req->{method}, 'POST', 'method');
is($req->{path}, '/api/batch-testing/run', 'path');
is($h->{'content-type'}, 'application/json', 'Content-Type');
is($h->{'x-service-role-key'}, $t->key, 'x-service-role-key');
is($h->{'x-user-id'}, $user, 'x-user-id');
is($h->{'x-scheduled-evaluation'}, 'true', 'x-scheduled-evaluation');
is($h->{'x-scheduled-evaluation-id'}, $good, 'x-scheduled-evaluation-id');
is($h->{'x-scheduled-evaluation-run-id'}, $run_id, 'x-scheduled-evaluation-run-id');
is($h->{'idempotency-key'}, $run_id, 'Idempotency-Key is the run id');
my $body = decode_json($req->{body});
my $named = delete $body->{config}{test_run_name};
is_deeply($body, { config => {
    model_id => 'gpt-4-turbo', test_suite_id => $suite, prompt_limit => 25,
    nested => { a => [1, 2] } } },
    'body: batch_test_config merged, model_id and test_suite_id win');
like($named // '', qr/^nightly gpt - \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC \(\Q@{[substr($good, 0, 8)]}\E\)$/,
    "body: the batch test is named after the schedule, its slot and its id ($named)");
is($t->sql_value("SELECT batch_name FROM scheduled_evaluation_runs WHERE id = '$run_id'"),
    $named, 'body: the run keeps that name');

my ($st, $btr, $started, $completed, $err, $slot_ok) = @{ ($t->sql(
    "SELECT r.status, r.batch_test_run_id, r.started_at IS NOT NULL, "
    . "r.completed_at IS NOT NULL, r.error_message, "
    . "r.slot_at <= r.triggered_at FROM scheduled_evaluation_runs r "
    . "WHERE r.scheduled_evaluation_id = '$good'"))[0] };
is($st, 'running', 'success: run is running');
like($btr, qr/^[0-9a-f-]{36}$/, 'success: batch_test_run_id set');
is($started, 't', 'success: started_at set');
is($completed, 'f', 'success: not completed while its batch test is under way');
is($err, undef, 'success: no error');
is($slot_ok, 't', 'the slot is the due time');

my ($lrs, $lri, $cf, $lra, $next_future, $next_hour) = @{ ($t->sql(
    "SELECT last_run_status, last_run_id, consecutive_failures, "
    . "last_run_at IS NOT NULL, next_run_at > now(), "
    . "next_run_at = date_trunc('hour', now()) + interval '1 hour' "
    . "FROM scheduled_evaluations WHERE id = '$good'"))[0] };
# The schedule's last run is its last finished one: this one's batch test
# is still under way, and its end updates the schedule once.
is($lrs, undef, 'schedule: no last_run_status while the batch test is under way');
is($lri, undef, 'schedule: nor last_run_id');
is($cf, 0, 'schedule: no failures');
is($lra, 'f', 'schedule: nor last_run_at');
is($next_future, 't', 'schedule: next_run_at advanced past now');
is($next_hour, 't', 'schedule: hourly advanced to the top of the next hour');

my ($fst, $fmsg, $fdet) = @{ ($t->sql("SELECT status, error_message, error_details "
    . "FROM scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$failing'"))[0] };
is($fst, 'failed', 'failure: run failed');
like($fmsg, qr/HTTP 400/, 'failure: error_message names the HTTP status');
my $d = decode_json($fdet);
is($d->{http_status}, 400, 'failure: error_details.http_status');
is($d->{exit_status}, 69, 'failure: error_details.exit_status is EX_UNAVAILABLE');
ok(defined $d->{attempts} && defined $d->{elapsed_ms}, 'failure: attempts and elapsed time');
is_deeply([$t->sql("SELECT last_run_status, consecutive_failures, is_active "
    . "FROM scheduled_evaluations WHERE id = '$failing'")], [['failed', 1, 't']],
    'failure: counted once, still active');

is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
    . "WHERE scheduled_evaluation_id IN ('$inactive', '$future')"), 0,
    'inactive and future schedules were left alone');

# Concurrency: ten slow schedules, three at a time.  Each answer takes
# 2 s: three requests overlap even when the jobrunners under the
# sanitizers start far apart on a busy machine (at 0.7 s they did not
# always, and the slots looked unused).
$t->sql("UPDATE scheduled_evaluations SET is_active = false");
my @slow = map { $t->add_schedule(name => "slow $_", model_id => 'standin:slow=2000,never') } 1 .. 10;
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
    . "WHERE s.name LIKE 'slow %' AND r.status = 'running'") == 10 }, 60),
    'all ten slow schedules ran') or diag $t->supervisor_log;
my @slow_reqs = grep { $_->{body} =~ /standin:slow/ } $t->api_requests;
is(scalar @slow_reqs, 10, 'ten requests');
my $max = 0;
$max = $_->{in_flight} > $max ? $_->{in_flight} : $max for @slow_reqs;
is($max, 3, 'at most max_concurrent (3) requests in flight, and the slots were used');

is($t->stop_supervisor >> 8, 0, 'SIGTERM: exit 0');
like($t->supervisor_log, qr/terminating/, 'logs terminating');
unlike($t->supervisor_log, qr/\Q${\ $t->key }\E/, 'the key is not in the log');
done_testing;
