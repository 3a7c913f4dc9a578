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

# Runs evalschedctl; returns (exit status, stdout, stderr).
sub ctl {
	my (@args) = @_;
	my ($out, $err) = map { $t->dir . "/ctl.$_" } qw(out err);
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>', $out or die;
		open STDERR, '>', $err or die;
		exec $ctl, @args or POSIX::_exit(127);
	}
	waitpid $pid, 0;
	return ($? >> 8, $t->slurp($out), $t->slurp($err));
}

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
test suite\t$SUITE
model\tgpt-test
user\t$USER
config\t{"temperature": 0.2}
alerts\tfailure yes, regression yes (10.0%)
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

my ($R1, $R2, $BT) = ('11111111-0000-4000-8000-000000000001',
    '22222222-0000-4000-8000-000000000002',
    'b7b7b7b7-0000-4000-8000-00000000000b');
$t->sql(<<"EOT");
INSERT INTO scheduled_evaluation_runs (id, scheduled_evaluation_id, status,
    triggered_at, started_at, completed_at, batch_test_run_id,
    error_message, error_details)
VALUES ('$R1', '$A', 'completed', '2030-01-06 01:00:00+00',
        '2030-01-06 01:00:02+00', '2030-01-06 01:10:00+00', '$BT', NULL, NULL),
       ('$R2', '$A', 'failed', '2030-01-05 01:00:00+00', NULL,
        '2030-01-05 01:00:03+00', NULL, 'HTTP 500 from the API',
        '{"http_status": 500, "attempts": 3}')
EOT
is_run(['runs', 'nightly'], 0, <<"EOT", '', 'runs: golden');
RUN\tTRIGGERED\tSTATUS\tDURATION\tBATCH TEST\tERROR
$R1\t2030-01-06T02:00:00+01:00\tcompleted\t10 min\t$BT\t-
$R2\t2030-01-05T02:00:00+01:00\tfailed\t3 s\t-\tHTTP 500 from the API
EOT
is_run(['runs', '-n', '1', $A], 0, <<"EOT", '', 'runs -n 1');
RUN\tTRIGGERED\tSTATUS\tDURATION\tBATCH TEST\tERROR
$R1\t2030-01-06T02:00:00+01:00\tcompleted\t10 min\t$BT\t-
EOT
{
	my @r = is_run(['--json', 'runs', 'nightly'], 0, undef, '',
	    'runs --json');
	my $j = decode_json($r[1]);
	is(scalar @$j, 2, '... two runs');
	is($j->[0]{duration_seconds}, 600, '... duration in seconds');
	is($j->[1]{error_message}, 'HTTP 500 from the API', '... the error');
	is_deeply($j->[1]{error_details}, { http_status => 500,
	    attempts => 3 }, '... error details as an object');
	is($j->[1]{completed_at}, '2030-01-05T02:00:03+01:00',
	    '... times in the zone');
}
is_run(['runs', 'smoke'], 0,
    "RUN\tTRIGGERED\tSTATUS\tDURATION\tBATCH TEST\tERROR\n", '',
    'runs: none yet');
is_run(['runs', 'nope'], 65, '', "evalschedctl: no schedule 'nope'\n",
    'runs: unknown schedule');

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
is_run(['resume', 'smoke'], 0, qr/\Aresumed 'smoke', next run \S+\n\z/, '',
    'resume');
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

$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() + "
    . "interval '1 hour' WHERE is_active");
is_run(['status'], 2, qr/\Astatus: down: no live supervisor and 3 active schedules\n/,
    '', 'status: no supervisor is down');
my $SUP = 'feedface-0000-4000-8000-000000000001';
$t->sql("INSERT INTO evalsched_supervisors (id, node, pid, version, "
    . "lease_seconds, max_concurrent, running) VALUES "
    . "('$SUP', 'node-a', 4242, '0.1.0', 30, 3, 0)");
is_run(['status'], 0, qr/\Astatus: ok: 1 live supervisor\n\nsupervisors: 1 live of 1\nNODE\tPID\tSTATE\tRUNNING\tHEARTBEAT\tSTARTED\nnode-a\t4242\tlive\t0\/3\t\S+\+00:00\t\S+\+00:00\n\nin flight: 0 runs\n\noverdue: 0 schedules\n\z/,
    '', 'status: ok');
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
}
$t->sql("UPDATE evalsched_supervisors SET heartbeat_at = now() - "
    . "interval '2 minutes' WHERE id = '$SUP'");
is_run(['status'], 2, qr/\Astatus: down: no live supervisor/, '',
    'status: only expired supervisors is down');
$t->sql("UPDATE scheduled_evaluations SET is_active = false");
is_run(['status'], 1, qr/\Astatus: degraded: 1 stuck run\n/, '',
    'status: a stuck run with nothing active is still degraded');
$t->sql("UPDATE evalsched_supervisors SET stopped_at = now()");
$t->sql("UPDATE scheduled_evaluation_runs SET status = 'failed' "
    . "WHERE status = 'triggered'");
is_run(['status'], 0, qr/\Astatus: ok: 0 live supervisors\n/, '',
    'status: nothing to run and nobody to run it is ok');

# --- a terminal -----------------------------------------------------------

SKIP: {
	my $script = `command -v script 2>/dev/null`;
	chomp $script;
	skip 'no script(1) for a pseudo-terminal', 3 unless $script;
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
}

done_testing;
