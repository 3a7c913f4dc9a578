#!/usr/bin/perl
# evalschedctl(8): golden output and exit status of every command, on a
# throwaway PostgreSQL.  Pipes get tab-separated rows with RFC 3339 times,
# so fixed rows give fixed output; a pseudo-terminal gets aligned tables.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evalsched::Test;
use JSON::PP;
use POSIX ();
use Test::More;

$ENV{TZ} = 'UTC';
my $t = Evalsched::Test->new;
$t->start_pg;
my $conf = $t->write_config;
my $ctl = Evalsched::Test::bin('evalschedctl');

sub ctl { $t->ctl(@_) }

sub ctlc { ctl('-c', $conf, @_) }

# Runs it with the test config and checks status, stdout and stderr: a
# string is compared whole, a regex matched, undef not checked.
sub is_run {
	my ($args, $rc, $out, $err, $name) = @_;
	my @r = ctlc(@$args);
	subtest $name => sub {
		is($r[0], $rc, "exit $rc");
		if (ref $out) { like($r[1], $out, 'stdout') }
		elsif (defined $out) { is($r[1], $out, 'stdout') }
		if (ref $err) { like($r[2], $err, 'stderr') }
		elsif (defined $err) { is($r[2], $err, 'stderr') }
	};
	return @r;
}

my $A = 'aaaaaaaa-0000-4000-8000-000000000001';
my $B = 'bbbbbbbb-0000-4000-8000-000000000002';
my $SUITE = '5a5a5a5a-0000-4000-8000-00000000000a';
my $USER = '0e0e0e0e-0000-4000-8000-00000000000e';
$t->add_schedule(id => $A, name => 'nightly', schedule_type => 'daily',
    timezone => 'Europe/Paris', test_suite_id => $SUITE, user_id => $USER,
    batch_test_config => '{"temperature": 0.2}',
    next_run_at => '2030-01-07 01:00:00+00');
$t->add_schedule(id => $B, name => 'smoke', schedule_type => 'custom',
    cron_expression => '*/15 9-17 * * 1-5', timezone => 'America/New_York',
    test_suite_id => $SUITE, user_id => $USER, is_active => 'false',
    last_run_status => 'failed', consecutive_failures => 3,
    next_run_at => '2030-01-07 14:00:00+00');

# --- usage and configuration ---------------------------------------------

my $USAGE = qr/usage: evalschedctl \[-V\] \[-c file\] \[--json\] command/;
is_run([], 64, '', qr/\A$USAGE/, 'no command: usage');
is(scalar((ctl())[0]), 64, 'no arguments at all: 64');
is_run(['frobnicate'], 64, '',
    qr/\Aevalschedctl: unknown command 'frobnicate'\n$USAGE/,
    'unknown command');
is_run(['show'], 64, '', "usage: evalschedctl show ID|NAME\n",
    'show without an operand');
is_run(['list', 'extra'], 64, '', "usage: evalschedctl list\n",
    'list with an operand');
is_run(['list', '--bogus'], 64, qr/^$/, qr/usage: evalschedctl list\n\z/,
    'an unknown option');
is_run(['runs', '-n', 'x', 'nightly'], 64, '',
    "evalschedctl: runs: -n: 'x' is not a count from 1 to 10000\n",
    'runs -n with a bad count');
is_run(['-V'], 0, qr/\Aevalschedctl \d+\.\d+\.\d+\n\z/, '', '-V');
{
	my @r = ctl('-c', $t->dir . '/missing.conf', 'list');
	is($r[0], 78, 'missing -c file: 78');
	like($r[2], qr{missing\.conf: No such file or directory}, '... says so');
	my $bad = $t->dir . '/bad.conf';
	$t->spew($bad, "poll_interval = 60\nbogus = 1\nlease = x\n");
	@r = ctl('-c', $bad, 'list');
	is($r[0], 78, 'bad config: 78');
	is($r[2], "$bad:2: unknown key 'bogus'\n$bad:3: lease: 'x' must be "
	    . "a whole number of seconds from 2 to 3600\n", '... file:line');
	my $nokey = $t->dir . '/nokey.conf';
	$t->spew($nokey, "database = \"" . $t->conninfo . "\"\n"
	    . "service_role_key_file = /nonexistent/key\n");
	@r = ctl('-c', $nokey, 'list');
	is($r[0], 0, 'the key file is never read');
	my $down = $t->write_config(database =>
	    'host=' . $t->dir . '/nosock user=postgres password=hunter2');
	@r = ctl('-c', $down, 'list');
	is($r[0], 69, 'database unreachable: 69');
	like($r[2], qr/^evalschedctl: database: connection to server/,
	    '... with libpq\'s message');
	unlike($r[2], qr/hunter2/, '... never the password');
	@r = ctl('-c', $down, 'show');
	is($r[0], 64, 'a usage error wins over an unreachable database');
}

# --- list, show, runs ----------------------------------------------------

is_run(['list'], 0, <<"EOT", '', 'list: tab-separated in a pipe');
ID\tNAME\tSCHEDULE\tACTIVE\tNEXT RUN\tLAST\tFAILURES
$A\tnightly\tdaily (Europe/Paris)\tyes\t2030-01-07T02:00:00+01:00\t-\t0
$B\tsmoke\t*/15 9-17 * * 1-5 (America/New_York)\tno\t2030-01-07T09:00:00-05:00\tfailed\t3
EOT

{
	my @r = is_run(['--json', 'list'], 0, undef, '', 'list --json');
	my $j = decode_json($r[1]);
	is(ref $j, 'ARRAY', 'list --json is an array');
	is(scalar @$j, 2, '... of both schedules');
	is_deeply([sort keys %{ $j->[0] }], [sort qw(id name description
	    user_id schedule_type cron_expression timezone test_suite_id
	    model_id batch_test_config is_active next_run_at last_run_at
	    last_run_status last_run_id consecutive_failures in_flight
	    disabled_at disabled_reason
	    alert_on_failure alert_on_regression regression_threshold_percent
	    created_at updated_at)], '... with every column');
	is($j->[0]{next_run_at}, '2030-01-07T02:00:00+01:00',
	    '... times in the schedule\'s zone');
	is_deeply($j->[0]{batch_test_config}, { temperature => 0.2 },
	    '... the config as an object');
	ok(!$j->[1]{is_active} && JSON::PP::is_bool($j->[1]{is_active}),
	    '... booleans as booleans');
	@r = ctlc('list', '--json');
	is($r[0], 0, '--json after the command name works too');
}

my $SHOW_A = <<"EOT";
id\t$A
name\tnightly
description\t-
schedule\tdaily (0 2 * * *)
time zone\tEurope/Paris
active\tyes
next run\t2030-01-07T02:00:00+01:00
then\t2030-01-08T02:00:00+01:00, 2030-01-09T02:00:00+01:00, 2030-01-10T02:00:00+01:00
last run\tnever
last batch test\t-
failures\t0 in a row (disabled at 3)
runs in flight\t0
last results\tnone
prompts\t-
latency\t-
quality\t-
baseline\tnone: nothing pinned, and no settled completed run with results that was not a regression
last failure\tnone
test suite\t$SUITE
model\tgpt-test
user\t$USER
config\t{"temperature": 0.2}
alerts\tfailure yes, regression no (10.00%)
EOT
for my $key ('nightly', $A, 'aaaaaaaa', 'AAAAAAAA-0000') {
	my @r = ctlc('show', $key);
	is($r[0], 0, "show $key: 0");
	(my $page = $r[1]) =~ s/^(created|updated)\t.*\n//mg;
	is($page, $SHOW_A, "show $key: golden");
}
{
	my @r = is_run(['show', '--json', 'smoke'], 0, undef, '',
	    'show --json');
	my $j = decode_json($r[1]);
	is($j->{cron_expression}, '*/15 9-17 * * 1-5', '... the expression');
	is_deeply($j->{upcoming}, ['2030-01-07T09:15:00-05:00',
	    '2030-01-07T09:30:00-05:00', '2030-01-07T09:45:00-05:00'],
	    '... the next fire times from the engine');
	is($j->{schedule_error}, undef, '... and no error');
	ok(exists $j->{last_results} && !defined $j->{last_results},
	    '... no results yet: last_results is null');
	ok(exists $j->{last_failure} && !defined $j->{last_failure},
	    '... nor a failure');
}
is_run(['show', 'nope'], 65, '', "evalschedctl: no schedule 'nope'\n",
    'show: unknown name');
is_run(['show', 'cccccccc-0000-4000-8000-000000000003'], 65, '',
    "evalschedctl: no schedule 'cccccccc-0000-4000-8000-000000000003'\n",
    'show: unknown id');
{
	my ($d1, $d2) = ('dddddddd-0000-4000-8000-000000000001',
	    'dddddddd-0000-4000-8000-000000000002');
	$t->add_schedule(id => $d1, name => 'dup',
	    next_run_at => '2030-01-01 00:00:00+00');
	$t->add_schedule(id => $d2, name => 'dup',
	    next_run_at => '2030-01-01 00:00:00+00');
	is_run(['show', 'dup'], 65, '', qr/\Aevalschedctl: name 'dup' is ambiguous; it matches:\n  ($d1|$d2)  dup\n  ($d1|$d2)  dup\n\z/,
	    'show: an ambiguous name lists the candidates');
	is_run(['pause', 'dddddddd'], 65, '',
	    qr/id prefix 'dddddddd' is ambiguous/,
	    'an ambiguous id prefix is refused too');
	$t->sql("DELETE FROM scheduled_evaluations WHERE name = 'dup'");
}

# One run in each state.  Results print as the application prints them:
# Math.round(avg_latency_ms) + "ms", (avg_quality_score * 100).toFixed(1)
# + "%" (R6: a half goes up, where printf would round to even).
my ($R1, $R2, $R3, $R4, $R5, $R6, $R7) = map {
    "7${_}7${_}7${_}7${_}-0000-4000-8000-00000000000$_" } 1 .. 7;
my ($BT, $BT4, $BT5, $BT7) = map {
    "b${_}b${_}b${_}b${_}-0000-4000-8000-00000000000$_" } 1, 4, 5, 7;
my $E400 = "HTTP 400 from the API: test suite $SUITE not found";
$t->sql(<<"EOT");
INSERT INTO scheduled_evaluation_runs (id, scheduled_evaluation_id, status,
    slot_at, triggered_at, started_at, completed_at, batch_test_run_id,
    total_prompts, successful_prompts, failed_prompts, avg_latency_ms,
    avg_quality_score, error_message, error_details)
VALUES
  ('$R1', '$A', 'completed', '2030-01-06 01:00:00+00', '2030-01-06 01:00:00+00',
   '2030-01-06 01:00:02+00', '2030-01-06 01:10:00+00', '$BT', 10, 9, 1,
   152.4, 0.8, NULL, NULL),
  ('$R2', '$A', 'failed', '2030-01-05 01:00:00+00', '2030-01-05 01:00:00+00',
   NULL, '2030-01-05 01:00:03+00', NULL, 0, 0, 0, NULL, NULL, '$E400',
   '{"blame": "schedule", "http_status": 400, "attempts": 1}'),
  ('$R3', '$A', 'failed', '2030-01-04 01:00:00+00', '2030-01-04 01:00:00+00',
   NULL, '2030-01-04 01:10:00+00', NULL, 0, 0, 0, NULL, NULL,
   'cannot connect to the API: Connection refused',
   '{"blame": "platform", "curl_code": 7, "reason": "timeout"}'),
  ('$R4', '$A', 'running', '2030-01-07 01:00:00+00', '2030-01-07 01:00:00+00',
   '2030-01-07 01:00:01+00', NULL, '$BT4', 0, 0, 0, NULL, NULL, NULL, NULL),
  ('$R5', '$A', 'failed', '2030-01-03 01:00:00+00', '2030-01-03 01:00:00+00',
   '2030-01-03 01:00:01+00', '2030-01-03 01:20:00+00', '$BT5', 10, 0, 10,
   2500.5, NULL, 'every prompt failed',
   '{"blame": "schedule", "reason": "all_failed"}'),
  ('$R6', '$A', 'completed', '2030-01-02 01:00:00+00', '2030-01-02 01:00:00+00',
   '2030-01-02 01:00:01+00', '2030-01-02 01:05:00+00', '$BT', 4, 4, 0,
   152.5, 0.81, NULL, NULL),
  ('$R7', '$B', 'failed', '2030-01-06 14:00:00+00', '2030-01-06 14:00:00+00',
   '2030-01-06 14:00:01+00', '2030-01-06 14:30:00+00', '$BT7', 3, 0, 3,
   99.49, 0, 'every prompt failed',
   '{"blame": "schedule", "reason": "all_failed"}')
EOT
my $RUNS_HEAD = "RUN\tTRIGGERED\tSTATUS\tDURATION\tBATCH TEST\tPROMPTS\t"
    . "LATENCY\tQUALITY\tVS BASELINE\tBLAME\tERROR\n";
is_run(['runs', 'nightly'], 0, $RUNS_HEAD . <<"EOT", '', 'runs: golden');
$R4\t2030-01-07T02:00:00+01:00\trunning\t0 s so far\t$BT4\t-\t-\t-\t-\t-\t-
$R1\t2030-01-06T02:00:00+01:00\tcompleted\t10 min\t$BT\t9/10 (1 failed)\t152ms\t80.0%\t-\t-\t-
$R2\t2030-01-05T02:00:00+01:00\tfailed\t3 s\t-\t-\t-\t-\t-\tschedule\t$E400
$R3\t2030-01-04T02:00:00+01:00\tfailed\t10 min\t-\t-\t-\t-\t-\tplatform\tcannot connect to the API: Connection refused
$R5\t2030-01-03T02:00:00+01:00\tfailed\t20 min\t$BT5\t0/10 (10 failed)\t2501ms\t-\t-\tschedule\tevery prompt failed
$R6\t2030-01-02T02:00:00+01:00\tcompleted\t5 min\t$BT\t4/4\t153ms\t81.0%\t-\t-\t-
EOT
is_run(['runs', '-n', '2', $A], 0, $RUNS_HEAD . <<"EOT", '', 'runs -n 2');
$R4\t2030-01-07T02:00:00+01:00\trunning\t0 s so far\t$BT4\t-\t-\t-\t-\t-\t-
$R1\t2030-01-06T02:00:00+01:00\tcompleted\t10 min\t$BT\t9/10 (1 failed)\t152ms\t80.0%\t-\t-\t-
EOT
is_run(['runs', 'smoke'], 0, $RUNS_HEAD . <<"EOT", '',
$R7\t2030-01-06T09:00:00-05:00\tfailed\t30 min\t$BT7\t0/3 (3 failed)\t99ms\t0.0%\t-\tschedule\tevery prompt failed
EOT
    'runs: failed at completion, with its results');
{
	my @r = is_run(['--json', 'runs', 'nightly'], 0, undef, '',
	    'runs --json');
	my $j = decode_json($r[1]);
	my %run = map { $_->{id} => $_ } @$j;
	is(scalar @$j, 6, '... six runs');
	is_deeply([sort keys %{ $j->[0] }], [sort qw(id
	    scheduled_evaluation_id status slot_at triggered_at started_at
	    completed_at duration_seconds ongoing unresolved batch_test_run_id
	    batch_name batch_ended_at has_results total_prompts successful_prompts
	    failed_prompts avg_latency_ms avg_quality_score
	    regression_detected regression_details baseline_run_id blame
	    error_message error_details supervisor_id created_at)],
	    '... with every field');
	is($run{$R1}{duration_seconds}, 600, '... duration in seconds');
	is_deeply([@{ $run{$R1} }{qw(total_prompts successful_prompts
	    failed_prompts avg_latency_ms avg_quality_score)}],
	    [10, 9, 1, 152.4, 0.8], '... the results');
	like($r[1], qr/"avg_latency_ms": 152\.40,\s+"avg_quality_score": 0\.80,/,
	    '... as numbers, digits as the database has them');
	like($r[1], qr/"total_prompts": 10,/, '... counts as numbers');
	ok($run{$R1}{has_results} && !$run{$R3}{has_results}
	    && $run{$R5}{has_results}, '... which runs have results');
	is($run{$R2}{error_message}, $E400, '... the error');
	is_deeply($run{$R2}{error_details}, { blame => 'schedule',
	    http_status => 400, attempts => 1 },
	    '... error details as an object');
	like($r[1], qr/"http_status": 400\b/, '... its numbers as numbers');
	is($run{$R2}{blame}, 'schedule', '... blamed on the schedule');
	is($run{$R3}{blame}, 'platform', '... or on the platform');
	is($run{$R3}{error_details}{curl_code}, 7, '... with the curl code');
	is($run{$R1}{blame}, undef, '... a success is blamed on nobody');
	is($run{$R4}{status}, 'running', '... a batch test under way');
	ok($run{$R4}{ongoing} && !defined $run{$R4}{completed_at},
	    '... is ongoing');
	is($run{$R5}{error_details}{reason}, 'all_failed',
	    '... every prompt failed');
	is($run{$R5}{avg_quality_score}, undef, '... NULL is null');
	ok(JSON::PP::is_bool($run{$R1}{regression_detected}),
	    '... regression_detected a boolean');
	is($run{$R2}{completed_at}, '2030-01-05T02:00:03+01:00',
	    '... times in the zone');
	is($run{$R4}{slot_at}, '2030-01-07T02:00:00+01:00', '... the slot');
}
{
	my $none = $t->add_schedule(name => 'idle',
	    next_run_at => '2030-01-01 00:00:00+00');
	is_run(['runs', 'idle'], 0, $RUNS_HEAD, '', 'runs: none yet');
	$t->sql("DELETE FROM scheduled_evaluations WHERE id = '$none'");
}
{
	my @r = ctlc('show', 'nightly');
	(my $page = $r[1]) =~ s/^(created|updated)\t.*\n//mg;
	my $last = <<"EOT";
last results\t2030-01-06T02:10:00+01:00, completed, batch test $BT
prompts\t9/10 (1 failed)
latency\t152ms
quality\t80.0%
baseline\trun $R1, the latest good run (none pinned): ran 2030-01-06T02:00:00+01:00, quality 80.0%, success rate 90.0% (9/10)
last failure\t2030-01-05T02:00:03+01:00 (blame: schedule): $E400
EOT
	(my $want = $SHOW_A) =~ s/^last results\t.*?^last failure\t.*?\n/$last/ms;
	is($r[0], 0, 'show with runs: 0');
	is($page, $want, 'show: the last results and the last failure');
}
{
	my @r = is_run(['show', '--json', 'nightly'], 0, undef, '',
	    'show --json with runs');
	my $j = decode_json($r[1]);
	is($j->{last_results}{id}, $R1, '... last_results: the newest '
	    . 'run with results');
	is_deeply([@{ $j->{last_results} }{qw(completed_at batch_test_run_id
	    total_prompts successful_prompts failed_prompts avg_latency_ms
	    avg_quality_score)}], ['2030-01-06T02:10:00+01:00', $BT, 10, 9, 1,
	    152.4, 0.8], '... when, which batch test, counts, latency, quality');
	is($j->{last_failure}{id}, $R2, '... last_failure');
	is($j->{last_failure}{error_details}{blame}, 'schedule',
	    '... with its blame');
	@r = ctlc('show', '--json', 'smoke');
	$j = decode_json($r[1]);
	is($j->{last_results}{id}, $R7, 'show: a run failed at completion '
	    . 'has results');
	is($j->{last_results}{status}, 'failed', '... and says it failed');
	is($j->{last_failure}{id}, $R7, '... it is the last failure too');
	@r = ctlc('show', 'smoke');
	like($r[1], qr/^last results\t2030-01-06T09:30:00-05:00, failed, batch test $BT7\nprompts\t0\/3 \(3 failed\)\nlatency\t99ms\nquality\t0\.0%\nbaseline\tnone: .*\nlast failure\t2030-01-06T09:30:00-05:00 \(blame: schedule\): every prompt failed\n/m,
	    '... in text');
}
is_run(['runs', 'nope'], 65, '', "evalschedctl: no schedule 'nope'\n",
    'runs: unknown schedule');

# --- baseline, regressions -------------------------------------------------

# A run's baseline: the pinned run, else the latest good run (completed,
# with results, not a regression).  R1 is nightly's latest good run.
my $GOOD_R1 = "run $R1, the latest good run (none pinned): ran "
    . "2030-01-06T02:00:00+01:00, quality 80.0%, success rate 90.0% (9/10)";
my $ONLY = 'only a completed run with results can be a baseline';
is_run(['baseline', 'nightly'], 0, "baseline of 'nightly': $GOOD_R1\n", '',
    'baseline: the latest good run when none is pinned');
is_run(['baseline', 'smoke'], 0, "baseline of 'smoke': none: nothing "
    . "pinned, and no settled completed run with results that was not a "
    . "regression\n", '', 'baseline: none yet');
is_run(['baseline'], 64, '',
    "usage: evalschedctl baseline [--clear] ID|NAME [RUN|latest]\n",
    'baseline without a schedule');
is_run(['baseline', '--clear', 'nightly', $R1], 64, '', qr/^usage: /,
    'baseline --clear takes no run');
is_run(['baseline', 'nightly', $R1, 'extra'], 64, '', qr/^usage: /,
    'baseline with too many operands');
is_run(['baseline', 'nope', $R1], 65, '',
    "evalschedctl: no schedule 'nope'\n", 'baseline: unknown schedule');
is_run(['baseline', 'nightly', $R7], 65, '',
    "evalschedctl: baseline: run $R7 belongs to schedule 'smoke'\n"
    . "evalschedctl: baseline: a baseline must be a run of 'nightly'\n",
    'baseline: a run of another schedule is refused');
is_run(['baseline', 'nightly', $R5], 65, '',
    "evalschedctl: baseline: run $R5 has status 'failed': $ONLY\n",
    'baseline: a failed run is refused, results or not');
is_run(['baseline', 'nightly', $R4], 65, '',
    "evalschedctl: baseline: run $R4 has status 'running': $ONLY\n",
    'baseline: a run under way is refused');
is_run(['baseline', 'nightly', 'cccccccc-0000-4000-8000-000000000003'], 65,
    '', "evalschedctl: baseline: no run "
    . "'cccccccc-0000-4000-8000-000000000003' of 'nightly'\n",
    'baseline: an unknown run');
is_run(['baseline', 'nightly', 'yesterday'], 65, '', "evalschedctl: "
    . "baseline: 'yesterday' is not a run id, a prefix of one, or "
    . "'latest'\n", 'baseline: not a run id');
is_run(['baseline', 'smoke', 'latest'], 65, '', "evalschedctl: baseline: "
    . "'smoke' has no completed run with results\n",
    'baseline latest: a failed run with results is not one');
{
	my $EMPTY = '7e7e7e7e-0000-4000-8000-00000000000e';
	$t->sql("INSERT INTO scheduled_evaluation_runs (id, "
	    . "scheduled_evaluation_id, status, slot_at, triggered_at, "
	    . "completed_at, total_prompts) VALUES ('$EMPTY', '$A', "
	    . "'completed', '2030-01-01 01:00:00+00', '2030-01-01 01:00:00+00', "
	    . "'2030-01-01 01:01:00+00', 0)");
	is_run(['baseline', 'nightly', $EMPTY], 65, '', "evalschedctl: "
	    . "baseline: run $EMPTY completed without results: $ONLY\n",
	    'baseline: a completed run without results is refused');
	$t->sql("DELETE FROM scheduled_evaluation_runs WHERE id = '$EMPTY'");
}
is($t->sql_value('SELECT count(*) FROM evalsched_baselines'), 0,
    '... nothing was pinned');

is_run(['baseline', 'nightly', $R6], 0, "pinned run $R6 as the baseline of "
    . "'nightly': ran 2030-01-02T02:00:00+01:00, quality 81.0%, success "
    . "rate 100.0% (4/4)\n", '', 'baseline: pin a run');
is_deeply([$t->sql("SELECT scheduled_evaluation_id, run_id, "
    . "pinned_at > now() - interval '1 minute' FROM evalsched_baselines")],
    [[$A, $R6, 't']], '... into evalsched_baselines');
is_run(['baseline', 'nightly'], 0, qr/\Abaseline of 'nightly': run $R6, pinned 20\d\d-\S+: ran 2030-01-02T02:00:00\+01:00, quality 81\.0%, success rate 100\.0% \(4\/4\)\n\z/,
    '', 'baseline: the pinned run, and when it was pinned');
is_run(['baseline', 'nightly', '76767676'], 0, "run $R6 is already the "
    . "pinned baseline of 'nightly': ran 2030-01-02T02:00:00+01:00, "
    . "quality 81.0%, success rate 100.0% (4/4)\n", '',
    'baseline: pinning it again by its short id changes nothing');
is_run(['baseline', 'aaaaaaaa', 'latest'], 0, "pinned run $R1 as the "
    . "baseline of 'nightly', replacing run $R6: ran "
    . "2030-01-06T02:00:00+01:00, quality 80.0%, success rate 90.0% "
    . "(9/10)\n", '', 'baseline latest: the newest completed run');
is($t->sql_value("SELECT run_id FROM evalsched_baselines "
    . "WHERE scheduled_evaluation_id = '$A'"), $R1, '... one row, replaced');
{
	my @r = is_run(['--json', 'baseline', 'nightly'], 0, undef, '',
	    'baseline --json');
	my $j = decode_json($r[1]);
	is_deeply([@{$j}{qw(scheduled_evaluation_id name action changed
	    previous_run_id)}], [$A, 'nightly', 'show', JSON::PP::false,
	    undef], '... the schedule, and what was done');
	is_deeply([sort keys %{ $j->{baseline} }],
	    [qw(missing_pin pinned_at run run_id source)], '... the baseline');
	is($j->{baseline}{source}, 'pinned', '... pinned');
	is($j->{baseline}{run_id}, $R1, '... which run');
	like($j->{baseline}{pinned_at}, qr/^20\d\d-\d\d-\d\dT.*\+0[12]:00$/,
	    '... pinned_at in the schedule\'s zone');
	is($j->{baseline}{run}{avg_quality_score}, 0.8,
	    '... the run in the shape of runs');
	@r = ctlc('baseline', '--json', 'nightly', $R6);
	$j = decode_json($r[1]);
	is_deeply([@{$j}{qw(action changed previous_run_id)},
	    $j->{baseline}{run_id}], ['pin', JSON::PP::true, $R1, $R6],
	    'baseline --json RUN: pinned, and what it replaced');
}
is_run(['baseline', '--clear', 'nightly'], 0, "unpinned run $R6 as the "
    . "baseline of 'nightly'\nbaseline of 'nightly': $GOOD_R1\n", '',
    'baseline --clear: unpinned, back to the latest good run');
is($t->sql_value('SELECT count(*) FROM evalsched_baselines'), 0,
    '... the row is gone');
is_run(['baseline', '--clear', 'nightly'], 0, "'nightly' had no pinned "
    . "baseline: nothing to unpin\nbaseline of 'nightly': $GOOD_R1\n", '',
    'baseline --clear with nothing pinned says so');
{
	my @r = is_run(['baseline', '--clear', '--json', 'nightly'], 0,
	    undef, '', 'baseline --clear --json');
	my $j = decode_json($r[1]);
	is_deeply([@{$j}{qw(action changed previous_run_id)},
	    @{ $j->{baseline} }{qw(source run_id pinned_at)}],
	    ['clear', JSON::PP::false, undef, 'latest', $R1, undef],
	    '... nothing changed; the latest good run');
}
{
	# A pinned run deleted since: the supervisor then compares with the
	# latest good run, by the same rule (evalsched_baseline), and
	# evalschedctl says so.
	my $GONE_RUN = '7f7f7f7f-0000-4000-8000-00000000000f';
	$t->sql("INSERT INTO evalsched_baselines (scheduled_evaluation_id, "
	    . "run_id, pinned_at) VALUES ('$A', '$GONE_RUN', "
	    . "'2030-01-06 12:00:00+00')");
	is_run(['baseline', 'nightly'], 0, qr/\Abaseline of 'nightly': run \S+, the latest good run \(run $GONE_RUN, pinned 2030-01-06T13:00:00\+01:00, no longer exists\): ran /, '',
	    'baseline: a pinned run that no longer exists: the latest good run instead');
	my @r = ctlc('--json', 'baseline', 'nightly');
	my $j = decode_json($r[1])->{baseline};
	is_deeply([@{$j}{qw(source run_id pinned_at)}, $j->{missing_pin}], ['latest',
	    $R1, undef, { run_id => $GONE_RUN, pinned_at => '2030-01-06T13:00:00+01:00' }],
	    '... in --json');
	is($t->sql_value("SELECT public.evalsched_baseline('$A', 'infinity', NULL)"), $R1,
	    '... the rule the supervisor uses says the same');
	is_run(['baseline', '--clear', 'nightly'], 0,
	    qr/\Aunpinned run $GONE_RUN as the baseline of 'nightly'\n/, '',
	    '... and unpinned');
}

# Two regressions against R1, as the supervisor records them: R8 lost
# quality, R9 lost successes.
my ($R8, $R9) = map { "7${_}7${_}7${_}7${_}-0000-4000-8000-00000000000$_" } 8, 9;
my $THR = '"threshold_percent": 10.0';
$t->sql(<<"EOT");
INSERT INTO scheduled_evaluation_runs (id, scheduled_evaluation_id, status,
    slot_at, triggered_at, started_at, completed_at, batch_test_run_id,
    total_prompts, successful_prompts, failed_prompts, avg_latency_ms,
    avg_quality_score, regression_detected, regression_details,
    baseline_run_id)
VALUES
  ('$R8', '$A', 'completed', '2030-01-06 13:00:00+00', '2030-01-06 13:00:00+00',
   '2030-01-06 13:00:01+00', '2030-01-06 13:10:00+00', '$BT', 10, 10, 0,
   140, 0.62, true,
   '{"avg_quality_score": {"baseline": 0.8, "current": 0.62,
      "change_percent": -22.5, $THR},
     "success_rate": {"baseline": 0.9, "current": 1.0,
      "change_percent": 11.11, $THR}}', '$R1'),
  ('$R9', '$A', 'completed', '2030-01-06 18:00:00+00', '2030-01-06 18:00:00+00',
   '2030-01-06 18:00:01+00', '2030-01-06 18:10:00+00', '$BT', 10, 7, 3,
   150, 0.82, true,
   '{"avg_quality_score": {"baseline": 0.8, "current": 0.82,
      "change_percent": 2.5, $THR},
     "success_rate": {"baseline": 0.9, "current": 0.7,
      "change_percent": -22.22, $THR}}', '$R1')
EOT
is_run(['runs', '-n', '4', 'nightly'], 0, $RUNS_HEAD . <<"EOT", '',
$R4\t2030-01-07T02:00:00+01:00\trunning\t0 s so far\t$BT4\t-\t-\t-\t-\t-\t-
$R9\t2030-01-06T19:00:00+01:00\tcompleted, regression\t10 min\t$BT\t7/10 (3 failed)\t150ms\t82.0%\t+2.5% quality, -22.2% success vs 71717171\t-\t-
$R8\t2030-01-06T14:00:00+01:00\tcompleted, regression\t10 min\t$BT\t10/10\t140ms\t62.0%\t-22.5% quality vs 71717171\t-\t-
$R1\t2030-01-06T02:00:00+01:00\tcompleted\t10 min\t$BT\t9/10 (1 failed)\t152ms\t80.0%\t-\t-\t-
EOT
    'runs: regressions, and the change against the baseline');
{
	my @r = ctlc('--json', 'runs', '-n', '3', 'nightly');
	my %run = map { $_->{id} => $_ } @{ decode_json($r[1]) };
	ok($run{$R8}{regression_detected}, 'runs --json: regression_detected');
	is($run{$R8}{baseline_run_id}, $R1, '... baseline_run_id');
	is_deeply($run{$R8}{regression_details}{avg_quality_score},
	    { baseline => 0.8, current => 0.62, change_percent => -22.5,
	    threshold_percent => 10 }, '... regression_details an object');
}
is_run(['baseline', 'nightly'], 0, "baseline of 'nightly': $GOOD_R1\n", '',
    'baseline: a regression never becomes the baseline');
is_run(['baseline', 'nightly', 'latest'], 0, qr/\Apinned run $R9 as the baseline of 'nightly': ran 2030-01-06T19:00:00\+01:00, quality 82\.0%, success rate 70\.0% \(7\/10\)\n\z/,
    '', 'baseline latest: an operator may accept a regression as normal');
$t->sql("DELETE FROM evalsched_baselines");
{
	my @r = ctlc('show', 'nightly');
	like($r[1], qr/^quality\t82\.0%\nregression\trun $R9: quality 80\.0% -> 82\.0% \(\+2\.5%\), success rate 90\.0% -> 70\.0% \(-22\.2%\); threshold 10%; baseline run $R1\nbaseline\t\Q$GOOD_R1\E\nlast failure\t/m,
	    'show: the last completed run was a regression, and the baseline');
	@r = is_run(['show', '--json', 'nightly'], 0, undef, '',
	    'show --json with a regression');
	my $j = decode_json($r[1]);
	is($j->{regression}{id}, $R9, '... regression: the run');
	is($j->{regression}{regression_details}{success_rate}{change_percent},
	    -22.22, '... with its details');
	is_deeply([@{ $j->{baseline} }{qw(source run_id)}], ['latest', $R1],
	    '... baseline: the latest good run');
	is($j->{baseline}{run}{id}, $R1, '... whole');
	@r = ctlc('--json', 'show', 'smoke');
	$j = decode_json($r[1]);
	ok(exists $j->{regression} && !defined $j->{regression},
	    'show --json: no regression is null');
	is($j->{baseline}{source}, undef, '... no baseline: source null');
}
{
	# A good run since: no regression line.
	my $R10 = '7a7a7a7a-0000-4000-8000-000000000010';
	$t->sql("INSERT INTO scheduled_evaluation_runs (id, "
	    . "scheduled_evaluation_id, status, slot_at, triggered_at, "
	    . "completed_at, total_prompts, successful_prompts, "
	    . "avg_quality_score, regression_detected, regression_details, "
	    . "baseline_run_id) VALUES ('$R10', '$A', 'completed', "
	    . "'2030-01-06 20:00:00+00', '2030-01-06 20:00:00+00', "
	    . "'2030-01-06 20:10:00+00', 10, 9, 0.81, false, "
	    . "'{\"avg_quality_score\": {\"baseline\": 0.8, \"current\": 0.81, "
	    . "\"change_percent\": 1.25, $THR}, \"success_rate\": "
	    . "{\"baseline\": 0.9, \"current\": 0.9, \"change_percent\": 0, "
	    . "$THR}}', '$R1')");
	my @r = ctlc('show', 'nightly');
	unlike($r[1], qr/^regression\t/m, 'show: no regression line once a '
	    . 'good run followed');
	like($r[1], qr/^baseline\trun $R10, the latest good run/m,
	    '... which is the baseline now');
	@r = ctlc('runs', '-n', '1', 'nightly');
	like($r[1], qr/^\Q$R4\E\t/m, 'runs: newest first');
	@r = ctlc('runs', '-n', '2', 'nightly');
	like($r[1], qr/\tcompleted\t10 min\t-\t9\/10\t-\t81\.0%\t\+1\.3% quality vs 71717171\t-\t-\n\z/,
	    '... a run compared and no regression: its change');
	$t->sql("DELETE FROM scheduled_evaluation_runs WHERE id = '$R10'");
}

# --- add ------------------------------------------------------------------

my @ADD = ('--suite', $SUITE, '--model', 'gpt-4o', '--user', $USER);
{
	is_run(['add', '--name', 'hourly-one', '--type', 'hourly',
	    '--tz', 'Asia/Tokyo', '--description', 'every hour',
	    '--config', '{"concurrency": 4}', @ADD], 0,
	    qr/\Aadded schedule [0-9a-f-]{36} 'hourly-one', next run \S+\n\z/,
	    '', 'add --type');
	my ($row) = $t->sql("SELECT next_run_at = date_trunc('hour', now()) "
	    . "+ interval '1 hour', is_active, "
	    . "batch_test_config->>'concurrency', timezone, description, "
	    . "consecutive_failures FROM scheduled_evaluations "
	    . "WHERE name = 'hourly-one'");
	is_deeply($row, ['t', 't', '4', 'Asia/Tokyo', 'every hour', '0'],
	    '... the row, its first next_run_at the next top of the hour');
}
{
	my @r = is_run(['--json', 'add', '--name', 'cron-one', '--cron',
	    '30 9 * * 1-5', '--tz', 'Europe/Paris', '--paused', @ADD], 0,
	    undef, '', 'add --cron --paused --json');
	my $j = decode_json($r[1]);
	is($j->{schedule_type}, 'custom', '... custom');
	is($j->{cron_expression}, '30 9 * * 1-5', '... the expression');
	ok(!$j->{is_active}, '... paused');
	like($j->{next_run_at}, qr/T09:30:00\+0[12]:00\z/,
	    '... first fire time 09:30 in Paris');
}
is_run(['add', '--name', 'bad-cron', '--cron', '61 * * * *', @ADD], 65, '',
    "evalschedctl: add: bad schedule: minute field: 61 out of range 0-59\n",
    'add: bad cron expression');
is_run(['add', '--name', 'bad-tz', '--type', 'daily', '--tz', 'Mars/Base',
    @ADD], 65, '', qr/\Aevalschedctl: add: bad schedule: .*Mars\/Base/,
    'add: unknown time zone');
is_run(['add', '--name', 'bad-json', '--type', 'daily', '--config',
    '{"a":', @ADD], 65, '', "evalschedctl: add: --config: '{\"a\":' is "
    . "not valid JSON: it ends too soon\n", 'add: bad JSON config');
is_run(['add', '--name', 'bad-json', '--type', 'daily', '--config',
    '[1, 2]', @ADD], 65, '', "evalschedctl: add: --config: '[1, 2]' is "
    . "not a JSON object\n", 'add: a config that is not an object');
is_run(['add', '--name', 'bad-type', '--type', 'monthly', @ADD], 65, '',
    qr/--type: 'monthly' is not one of every_5_minutes/, 'add: bad type');
is_run(['add', '--name', 'bad-user', '--type', 'daily', '--suite', $SUITE,
    '--model', 'm', '--user', 'bob'], 65, '',
    "evalschedctl: add: --user: 'bob' is not a UUID\n", 'add: bad UUID');
is_run(['add', '--type', 'daily', @ADD], 64, '',
    qr/\Aevalschedctl: add: --name is required\nusage: evalschedctl add /,
    'add: a missing option is a usage error');
is_run(['add', '--name', 'nightly', '--type', 'daily', @ADD], 65, '',
    "evalschedctl: add: a schedule named 'nightly' already exists\n",
    'add: a duplicate name');
# The application's own checks, in the words of the options.
my $NOBODY = '0f0f0f0f-0000-4000-8000-00000000000f';
is_run(['add', '--name', 'bad-owner', '--type', 'daily', '--suite', $SUITE,
    '--model', 'm', '--user', $NOBODY], 65, '',
    "evalschedctl: add: --user: '$NOBODY' is not a user of the application "
    . "(no auth.users row)\n", 'add: a user the application does not have');
is_run(['add', '--name', 'bad-suite', '--type', 'daily', '--suite', $NOBODY,
    '--model', 'm', '--user', $USER], 65, '',
    "evalschedctl: add: --suite: '$NOBODY' is not a test suite of the "
    . "application (no test_suites row)\n", 'add: a test suite it does not have');
{
	my $busy = $t->add_user;
	$t->sql("INSERT INTO scheduled_evaluations (user_id, name, "
	    . "schedule_type, test_suite_id, model_id, next_run_at) SELECT "
	    . "'$busy', 'busy ' || i, 'daily', '$SUITE', 'm', "
	    . "'2030-01-08 00:00:00+00' FROM generate_series(1, 50) i");
	is_run(['add', '--name', 'bad-51st', '--type', 'daily', '--paused',
	    '--suite', $SUITE, '--model', 'm', '--user', $busy], 65, '',
	    "evalschedctl: add: --user: '$busy' already has the application's "
	    . "maximum of 50 active schedules\n",
	    'add: a user with 50 active schedules (the application\'s limit)');
	$t->sql("DELETE FROM scheduled_evaluations WHERE user_id = '$busy'");
}
is($t->sql_value("SELECT count(*) FROM scheduled_evaluations "
    . "WHERE name LIKE 'bad-%'"), 0, 'nothing bad was inserted');

# --- pause, resume, trigger -----------------------------------------------

is_run(['pause', 'nightly'], 0,
    "paused 'nightly', next run 2030-01-07T02:00:00+01:00\n", '', 'pause');
is($t->sql_value("SELECT is_active FROM scheduled_evaluations "
    . "WHERE id = '$A'"), 'f', '... is_active is false');
is_run(['pause', 'nightly'], 0, qr/\Aalready paused 'nightly'/, '',
    'pause again changes nothing');
is_run(['trigger', 'nightly'], 65, '',
    "evalschedctl: schedule 'nightly' is paused; resume it first\n",
    'trigger refuses a paused schedule');

# smoke was disabled after three failures and left with a stale time.
$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() - "
    . "interval '3 days' WHERE id = '$B'");
is_run(['resume', 'smoke'], 0, qr/\Aresumed 'smoke', next run \S+, consecutive failures 0 \(was 3\)\n\z/,
    '', 'resume: says the failure count it leaves');
{
	my ($row) = $t->sql("SELECT is_active, consecutive_failures, "
	    . "next_run_at > now() FROM scheduled_evaluations WHERE id = '$B'");
	is_deeply($row, ['t', '0', 't'], '... active, failures reset, next '
	    . 'run recomputed from now');
	my $next = $t->sql_value("SELECT to_char(next_run_at AT TIME ZONE "
	    . "'America/New_York', 'HH24:MI ID') FROM scheduled_evaluations "
	    . "WHERE id = '$B'");
	like($next, qr/^(09|1[0-7]):(00|15|30|45) [1-5]$/,
	    '... on the schedule\'s cron in its zone');
}
is_run(['resume', 'smoke'], 0, qr/\Aalready active 'smoke'/, '',
    'resume an active schedule changes nothing');
is_run(['resume', 'nightly'], 0, qr/\Aresumed 'nightly'/, '',
    'resume nightly');
{
	# Auto-disabled after two failures: --json shows the count reset.
	$t->sql("UPDATE scheduled_evaluations SET is_active = false, "
	    . "consecutive_failures = 2 WHERE id = '$B'");
	my @r = is_run(['--json', 'resume', 'smoke'], 0, undef, '',
	    'resume --json');
	my $j = decode_json($r[1]);
	ok($j->{is_active}, '... active');
	is($j->{consecutive_failures}, 0, '... consecutive_failures 0');
}

{
	# A listener sees the wake-up that the trigger's UPDATE causes.
	my $notes = $t->dir . '/notify.out';
	my $pid = open(my $psql, '|-') // die "fork: $!";
	if ($pid == 0) {
		open STDOUT, '>', $notes or die;
		open STDERR, '>&', \*STDOUT;
		exec $t->psql_cmd or POSIX::_exit(127);
	}
	$psql->autoflush(1);
	print $psql "LISTEN evalsched_wakeup;\nSELECT 'listening';\n";
	$t->wait_until(sub { $t->slurp($notes) =~ /listening/ }, 10);
	is_run(['trigger', 'nightly'], 0,
	    qr/\Atriggered 'nightly', next run \S+\n\z/, '', 'trigger');
	print $psql "SELECT 'done';\n";
	close $psql;
	like($t->slurp($notes), qr/notification "evalsched_wakeup" received/,
	    '... the supervisors are notified');
	is($t->sql_value("SELECT next_run_at <= now() FROM "
	    . "scheduled_evaluations WHERE id = '$A'"), 't', '... it is due');
}
{
	my @r = is_run(['--json', 'trigger', $A], 0, undef, '',
	    'trigger a schedule already due');
	is(decode_json($r[1])->{id}, $A, '... --json gives the schedule');
}
is_run(['trigger', 'nope'], 65, '', "evalschedctl: no schedule 'nope'\n",
    'trigger: unknown schedule');

# --- status ---------------------------------------------------------------

# R4 is a batch test under way: normal, neither in flight nor stuck.
my $UNDER_WAY = "\nunder way: 1 batch test\n";
$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() + "
    . "interval '1 hour' WHERE is_active");
is_run(['status'], 2, qr/\Astatus: down: no live supervisor and 3 active schedules\n/,
    '', 'status: no supervisor is down');
my $SUP = 'feedface-0000-4000-8000-000000000001';
$t->sql("INSERT INTO evalsched_supervisors (id, node, pid, version, "
    . "lease_seconds, max_concurrent, running) VALUES "
    . "('$SUP', 'node-a', 4242, '0.1.0', 30, 3, 0)");
is_run(['status'], 0, qr/\Astatus: ok: 1 live supervisor\n\nsupervisors: 1 live of 1\nNODE\tPID\tSTATE\tRUNNING\tHEARTBEAT\tSTARTED\tCIRCUIT\nnode-a\t4242\tlive\t0\/3\t\S+\+00:00\t\S+\+00:00\tclosed\n\nin flight: 0 runs\n\Q$UNDER_WAY\E\noverdue: 0 schedules\n\nhistory: kept in full \(run_retention = 0\)\n\z/,
    '', 'status: ok, a batch test under way is normal');

# The platform fails: the supervisor's circuit is open.
my $WHY = 'HTTP 503 from the API (3 attempts)';
my $PAUSED = "supervisor $SUP (node node-a): dispatch paused since "
    . "2030-01-06T01:00:00+00:00: $WHY";
$t->sql("UPDATE evalsched_supervisors SET circuit_open_since = "
    . "'2030-01-06 01:00:00+00', circuit_reason = '$WHY' WHERE id = '$SUP'");
is_run(['status'], 1, qr/\Astatus: degraded: \Q$PAUSED\E\n\nsupervisors: 1 live of 1\n.*\tlive\t.*\topen since 2030-01-06T01:00:00\+00:00: \Q$WHY\E\n/s,
    '', 'status: an open circuit is degraded, and says why');
{
	my @r = is_run(['status', '--json'], 1, undef, '',
	    'status --json: the circuit');
	my $j = decode_json($r[1]);
	is($j->{reason}, $PAUSED, '... the reason');
	is($j->{paused_supervisors}, 1, '... one supervisor paused');
	is_deeply([@{ $j->{supervisors}[0] }{qw(circuit_open
	    circuit_open_since circuit_reason)}], [JSON::PP::true,
	    '2030-01-06T01:00:00+00:00', $WHY], '... its circuit');
}
$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() - "
    . "interval '10 minutes' WHERE id = '$A'");
is_run(['status'], 1, qr/\Astatus: degraded: \Q$PAUSED\E; 1 overdue schedule\n/,
    '', 'status: the circuit first, then what else is wrong');
$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() + "
    . "interval '1 hour' WHERE id = '$A'");
my $GONE = 'feedface-0000-4000-8000-000000000009';
$t->sql("INSERT INTO evalsched_supervisors (id, node, pid, version, "
    . "lease_seconds, max_concurrent, stopped_at, circuit_open_since, "
    . "circuit_reason) VALUES ('$GONE', 'node-z', 7, '0.1.0', 30, 3, now(), "
    . "now(), 'connection refused')");
$t->sql("UPDATE evalsched_supervisors SET circuit_open_since = NULL, "
    . "circuit_reason = NULL WHERE id = '$SUP'");
is_run(['status'], 0, qr/\Astatus: ok: 1 live supervisor\n.*\tclosed\n/s, '',
    'status: a closed circuit, and a stopped supervisor\'s, are ok');

# A batch test running past completion_timeout: a warning, not a level.
my $LATE = '7a7a7a7a-0000-4000-8000-00000000000a';
$t->sql("INSERT INTO scheduled_evaluation_runs (id, "
    . "scheduled_evaluation_id, status, slot_at, triggered_at, started_at, "
    . "batch_test_run_id) VALUES ('$LATE', '$A', 'running', "
    . "now() - interval '2 days', now() - interval '2 days', "
    . "now() - interval '2 days', '$BT4')");
is_run(['status'], 0, qr/\Astatus: ok: 1 live supervisor\n.*\nin flight: 0 runs\n\nunder way: 2 batch tests\nwarning: 1 run still running after completion_timeout \(24 h\); a supervisor closes it as failed\nRUN\tSCHEDULE\tSTARTED\tBATCH TEST\n$LATE\tnightly\t\S+\t$BT4\n\noverdue/s,
    '', 'status: a run past completion_timeout is a warning');
{
	my @r = is_run(['status', '--json'], 0, undef, '',
	    'status --json: batch tests under way');
	my $j = decode_json($r[1]);
	is($j->{under_way}, 2, '... two under way');
	is($j->{late_completions}, 1, '... one late');
	is($j->{late_completion_runs}[0]{id}, $LATE, '... which');
	is($j->{completion_timeout}, 86400, '... the timeout');
	my $slow = $t->write_config(completion_timeout => 3 * 86400);
	@r = ctl('-c', $slow, 'status');
	unlike($r[1], qr/^warning:/m, '... completion_timeout is read from '
	    . 'the configuration');
}
$t->sql("DELETE FROM scheduled_evaluation_runs WHERE id = '$LATE'");

# The run history, as run_retention leaves it.
{
	my $keep30 = $t->write_config(run_retention => 30);
	my @r = ctl('-c', $keep30, 'status');
	like($r[1], qr/\n\nhistory: not pruned yet\n\z/,
	    'history: not pruned yet');
	$t->sql("INSERT INTO evalsched_meta (key, value) VALUES "
	    . "('history_pruned_at', '2030-01-06 03:00:00+00'), "
	    . "('history_pruned_runs', '12')");
	@r = ctl('-c', $keep30, 'status');
	is($r[0], 0, '... pruning is no fault');
	like($r[1], qr/\n\nhistory: last pruned 2030-01-06T03:00:00\+00:00 \(12 runs deleted; run_retention 30 days\)\n\z/,
	    'history: last pruned');
	@r = ctl('-c', $keep30, '--json', 'status');
	is_deeply(decode_json($r[1])->{history}, {
	    run_retention_days => 30,
	    pruned_at => '2030-01-06T03:00:00+00:00',
	    pruned_runs => 12,
	    summary => 'last pruned 2030-01-06T03:00:00+00:00 (12 runs '
	    . 'deleted; run_retention 30 days)' }, '... in --json');
	$t->sql("UPDATE evalsched_meta SET value = '1' "
	    . "WHERE key = 'history_pruned_runs'");
	@r = ctl('-c', $t->write_config(run_retention => 1), 'status');
	like($r[1], qr/\(1 run deleted; run_retention 1 day\)\n\z/,
	    '... in the singular');
	@r = ctlc('status');
	like($r[1], qr/\n\nhistory: kept in full \(run_retention = 0\)\n\z/,
	    'history: kept in full');
	@r = ctlc('--json', 'status');
	my $h = decode_json($r[1])->{history};
	is($h->{run_retention_days}, 0, '... in --json');
	is($h->{summary}, 'kept in full (run_retention = 0)',
	    '... with its summary');
	$t->sql("DELETE FROM evalsched_meta WHERE key LIKE 'history_%'");
}

$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() - "
    . "interval '10 minutes' WHERE id = '$A'");
is_run(['status'], 1, qr/\Astatus: degraded: 1 overdue schedule\n.*overdue: 1 schedule\nID\tNAME\tDUE\n$A\tnightly\t/s,
    '', 'status: an overdue schedule is degraded');
$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() + "
    . "interval '1 hour' WHERE id = '$A'");
my $DEAD = 'deadbeef-0000-4000-8000-000000000002';
$t->sql("INSERT INTO evalsched_supervisors (id, node, pid, version, "
    . "lease_seconds, max_concurrent, running, heartbeat_at, started_at) "
    . "VALUES ('$DEAD', 'node-b', 99, '0.1.0', 30, 3, 1, "
    . "now() - interval '5 minutes', now() - interval '1 hour')");
$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, "
    . "status, triggered_at, supervisor_id, slot_at) VALUES ('$A', "
    . "'triggered', now() - interval '5 minutes', '$DEAD', now())");
is_run(['status'], 1, qr/\Astatus: degraded: 1 stuck run\n.*node-b\t99\texpired\t.*in flight: 1 run\n.*\tnightly\t.*\tnode-b\[99\]\tstuck\n/s,
    '', 'status: a run of a dead supervisor is stuck');
{
	my @r = is_run(['status', '--json'], 1, undef, '', 'status --json');
	my $j = decode_json($r[1]);
	is($j->{status}, 'degraded', '... status');
	is($j->{exit}, 1, '... exit');
	is($j->{live_supervisors}, 1, '... live supervisors');
	is(scalar @{ $j->{supervisors} }, 2, '... both listed');
	is($j->{stuck_runs}, 1, '... stuck runs');
	is($j->{in_flight}[0]{supervisor_node}, 'node-b', '... whose');
	is($j->{overdue_schedules}, 0, '... nothing overdue');
	is($j->{paused_supervisors}, 0, '... no circuit open');
}
# An expired supervisor's circuit says nothing about now.
$t->sql("UPDATE evalsched_supervisors SET circuit_open_since = now(), "
    . "circuit_reason = 'timeout' WHERE id = '$DEAD'");
is_run(['status'], 1, qr/\Astatus: degraded: 1 stuck run\n/, '',
    'status: an expired supervisor\'s open circuit is not counted');
$t->sql("UPDATE evalsched_supervisors SET heartbeat_at = now() - "
    . "interval '2 minutes' WHERE id = '$SUP'");
is_run(['status'], 2, qr/\Astatus: down: no live supervisor/, '',
    'status: only expired supervisors is down');
$t->sql("UPDATE scheduled_evaluations SET is_active = false");
is_run(['status'], 1, qr/\Astatus: degraded: 1 stuck run\n/, '',
    'status: a stuck run with nothing active is still degraded');
$t->sql("UPDATE evalsched_supervisors SET stopped_at = now()");
# Runs evalsched created are changed by hand only with manual_edit on.
$t->sql("SET evalsched.manual_edit = on; "
    . "UPDATE scheduled_evaluation_runs SET status = 'failed' "
    . "WHERE status = 'triggered'");
is_run(['status'], 0, qr/\Astatus: ok: 0 live supervisors\n/, '',
    'status: nothing to run and nobody to run it is ok');

# --- JSON, zones, numbers and options, one way everywhere -----------------

# Exactly one JSON value: a number at the very end is whole.
is_run(['add', '--name', 'bad-42', '--type', 'daily', '--config', '42',
    @ADD], 65, '', "evalschedctl: add: --config: '42' is not a JSON "
    . "object\n", 'add: --config 42 is a number, not a cut-short text');
is_run(['add', '--name', 'bad-two', '--type', 'daily', '--config', '{} {}',
    @ADD], 65, '', "evalschedctl: add: --config: '{} {}' is not valid "
    . "JSON: text after the value\n", 'add: two values are not one');
is_run(['add', '--name', 'bad-comma', '--type', 'daily', '--config',
    '{"a": 1,}', @ADD], 65, '', "evalschedctl: add: --config: "
    . "'{\"a\": 1,}' is not valid JSON: unexpected character\n",
    'add: JSON, not what json-c forgives');
is_run(['add', '--name', 'deep-config', '--type', 'daily', '--config',
    '{"a": ' . ('[' x 40) . (']' x 40) . '}', '--paused', @ADD], 0,
    qr/\Aadded schedule /, '', 'add: a config as deep as show prints');

# Only the database's names, spelt as it spells them.
for my $zone ('localtime', 'Europe//Berlin', './Europe/Berlin', 'posixrules',
    'posix/Europe/Berlin') {
	is_run(['add', '--name', "bad-zone $zone", '--type', 'daily', '--tz',
	    $zone, @ADD], 65, '', "evalschedctl: add: bad schedule: unknown "
	    . "time zone '$zone'\n", "add: --tz $zone is refused");
}
is_run(['add', '--name', 'bad-empty-zone', '--type', 'daily', '--tz', '',
    @ADD], 65, '', "evalschedctl: add: --tz: '' is not a time zone: leave "
    . "--tz out for UTC\n", 'add: --tz \'\' is refused, not stored');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluations "
    . "WHERE name LIKE 'bad-%'"), 0, 'none of them was inserted');

# Counts are digits; options come before the operands.
for my $n (' 5', '+5', '5 ', '0x5') {
	is_run(['runs', '-n', $n, 'nightly'], 64, '', "evalschedctl: runs: "
	    . "-n: '$n' is not a count from 1 to 10000\n", "runs -n '$n'");
}
is_run(['runs', 'nightly', '-n', '1'], 64, '',
    "usage: evalschedctl runs [-n count] ID|NAME\n",
    'runs: an option after the operand');
is_run(['runs', '-x', 'nightly'], 64, '', "evalschedctl: runs: unknown "
    . "option '-x'\nusage: evalschedctl runs [-n count] ID|NAME\n",
    'runs: an unknown option, named');
is_run(['baseline', '--clear'], 64, '', "usage: evalschedctl baseline "
    . "[--clear] ID|NAME [RUN|latest]\n", 'baseline --clear: no operand');
is_run(['list', '--help'], 0, "usage: evalschedctl list\n", '',
    'list --help');
is_run(['add', '--help'], 0, qr/\Ausage: evalschedctl add --name /, '',
    'add --help');
is_run(['next', 'daily', '-n', '3'], 64, '', "evalschedctl: next: option "
    . "'-n' after the schedule: options go before it\nusage: evalschedctl "
    . "next [-n count] [--tz zone] [--from time] SCHEDULE\n",
    'next: an option after the schedule');
is_run(['next', '-n', ' 5', 'daily'], 64, '', "evalschedctl: next: -n: "
    . "' 5' is not a count from 1 to 1000\n", 'next -n \' 5\'');
is_run(['next', '--from', '@ 5', 'daily'], 65, '',
    qr/\Aevalschedctl: next: --from: cannot read time '\@ 5'/,
    'next --from \'@ 5\'');
is_run(['next', "0\t2\t*\t*"], 65, '',
    "evalschedctl: next: expected 5 fields, got 4\n",
    'next: fields separated by tabs are counted');
is_run(['next', '--from', '0000-06-01', 'daily'], 65, '',
    "evalschedctl: next: --from: '0000-06-01' is not in the years 1 to "
    . "9999 (UTC)\n", 'next: --from before the year 1');
is_run(['next', '-n', '1000', '--from', '9990-01-01', '0 0 29 2 *'], 0,
    "9992-02-29T00:00:00+00:00\n9996-02-29T00:00:00+00:00\n",
    "evalschedctl: next: only 2 fire times before the year 10000, not "
    . "1000\n", 'next: fewer fire times than asked, and why');

# Times from tz.c everywhere: show agrees with next, before 1900 too.
{
	my $old = $t->add_schedule(name => 'old-berlin', schedule_type =>
	    'daily', timezone => 'Europe/Berlin', is_active => 'false',
	    next_run_at => '1850-01-01 00:00:00+00');
	my @r = is_run(['show', 'old-berlin'], 0, undef, '',
	    'show: a schedule of 1850');
	like($r[1], qr/^next run\t1850-01-01T00:00:00Z$/m,
	    '... local mean time is written in UTC, with Z');
	like($r[1], qr/^then\t1850-01-01T01:06:32Z, 1850-01-02T01:06:32Z, 1850-01-03T01:06:32Z$/m,
	    '... as next writes the fire times');
	@r = ctlc('next', '-n', '1', '--tz', 'Europe/Berlin', '--from',
	    '1850-01-01T00:00:00Z', 'daily');
	is($r[1], "1850-01-01T01:06:32Z\n", '... the same as next');
	@r = ctlc('--json', 'show', 'old-berlin');
	is(decode_json($r[1])->{next_run_at}, '1850-01-01T00:00:00Z',
	    '... and in JSON');
	$t->sql("UPDATE scheduled_evaluations SET timezone = 'Europe//Berlin', "
	    . "next_run_at = '2030-01-07 01:00:00+00' WHERE id = '$old'");
	@r = is_run(['show', 'old-berlin'], 0, undef, '',
	    'show: a row with a zone no name spells so');
	like($r[1], qr/^time zone\tEurope\/\/Berlin \(unknown zone: times shown in UTC\)$/m,
	    '... is an unknown zone');
	like($r[1], qr/^next run\t2030-01-07T01:00:00\+00:00$/m,
	    '... its times in UTC');
	like($r[1], qr/^then\tnone: unknown time zone 'Europe\/\/Berlin'$/m,
	    '... which the engine refuses too');
	$t->sql("DELETE FROM scheduled_evaluations WHERE id = '$old' OR "
	    . "name = 'deep-config'");
}

# --- a terminal -----------------------------------------------------------

SKIP: {
	my $script = `command -v script 2>/dev/null`;
	chomp $script;
	skip 'no script(1) for a pseudo-terminal', 6 unless $script;
	$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() + "
	    . "interval '1 hour' WHERE id = '$A'");
	my $cmd = join ' ', map { "'$_'" } $ctl, '-c', $conf, 'list';
	my $out = `$script -qec "$cmd" /dev/null`;
	$out =~ s/\r//g;
	like($out, qr/^ID {8}NAME +SCHEDULE +ACTIVE +NEXT RUN +LAST +FAILURES$/m,
	    'a terminal gets aligned columns');
	like($out, qr/^aaaaaaaa  nightly +daily \(Europe\/Paris\) +no +\d{4}-\d\d-\d\d \d\d:\d\d CES?T \(in (59|60) min\)/m,
	    '... short ids, local times and relative ones');
	$cmd = join ' ', map { "'$_'" } $ctl, '-c', $conf, 'show', 'aaaa';
	$out = `$script -qec "$cmd" /dev/null`;
	like($out, qr/^time zone: +Europe\/Paris\r?$/m,
	    '... and key: value pages');
	$cmd = join ' ', map { "'$_'" } $ctl, '-c', $conf, 'runs', 'nightly';
	$out = `$script -qec "$cmd" /dev/null`;
	$out =~ s/\r//g;
	like($out, qr/^71717171  2030-01-06 02:00 CET \(in \d+ d\)  completed +10 min +b1b1b1b1 +9\/10 \(1 failed\) +152ms +80\.0% +- +- +-$/m,
	    '... runs with their results');
	my $cut = substr($E400, 0, 57) . '...';
	like($out, qr/^72727272  .*  failed .*  schedule  \Q$cut\E$/m,
	    '... and errors cut to fit');
	like($out, qr/^78787878  .*  completed, regression  .*  62\.0% +-22\.5% quality vs 71717171  /m,
	    '... and regressions against their baseline');
}

done_testing;
