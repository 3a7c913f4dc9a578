# Bad schedule rows beside good ones: each is reported once, disabled with
# a failed run saying why and never dispatched; the others keep running.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api(mode => 'never');	# batch tests stay under way
# The application's users live elsewhere; a row can lose its user.
$t->sql('ALTER TABLE scheduled_evaluations ALTER COLUMN user_id DROP NOT NULL');

my %bad = (
	'unknown zone' => [{ timezone => 'Mars/Olympus_Mons' },
	    qr/^bad schedule: unknown time zone 'Mars\/Olympus_Mons'$/],
	'bad cron' => [{ schedule_type => 'custom', cron_expression => '61 * * * *' },
	    qr/^bad schedule: minute field: 61 out of range 0-59$/],
	'never fires' => [{ schedule_type => 'custom', cron_expression => '0 0 30 2 *' },
	    qr/^bad schedule: .*never fire/],
	'custom without cron' => [{ schedule_type => 'custom', cron_expression => undef },
	    qr/^bad schedule: /],
	'config is an array' => [{ batch_test_config => '[1, 2]' },
	    qr/^bad schedule: batch_test_config is a JSON array, not an object$/],
	'config is a string' => [{ batch_test_config => '"x"' },
	    qr/^bad schedule: batch_test_config is a JSON string, not an object$/],
	'no user' => [{ user_id => undef }, qr/^bad schedule: no user_id$/],
	'config too large' => [{ batch_test_config => \"jsonb_build_object('x', repeat('a', 1100000))" },
	    qr/^bad schedule: batch_test_config cannot be sent \(larger than 1024 KiB or nested too deeply\)$/],
	'config too deep' => [{ batch_test_config => ('{"a":' x 100) . '1' . ('}' x 100) },
	    qr/^bad schedule: batch_test_config cannot be sent/],
);
my %id;
my @good;
for my $name (sort keys %bad) {
	push @good, $t->add_schedule(name => "good before $name");
	$id{$name} = $t->add_schedule(name => $name, %{ $bad{$name}[0] });
}
push @good, $t->add_schedule(name => 'good in Kathmandu', timezone => 'Asia/Kathmandu',
    schedule_type => 'custom', cron_expression => '15 3 * * *');

$t->start_supervisor;
my $n = scalar @good;
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
    . "WHERE status = 'running'") == $n }, 30), "all $n good schedules ran");
for my $name (sort keys %bad) {
	my @runs = $t->sql("SELECT r.status, r.error_message, s.is_active, s.last_run_status "
	    . "FROM scheduled_evaluation_runs r JOIN scheduled_evaluations s "
	    . "ON s.id = r.scheduled_evaluation_id WHERE s.id = '$id{$name}'");
	is(scalar @runs, 1, "$name: one run row");
	is($runs[0][0], 'failed', "$name: the run failed");
	like($runs[0][1] // '', $bad{$name}[1], "$name: it says why ($runs[0][1])");
	is($runs[0][2], 'f', "$name: the schedule is disabled");
	is($runs[0][3], 'failed', "$name: last_run_status failed");
	my @logged = $t->supervisor_log =~ /schedule "\Q$name\E" \(\S+\) disabled: bad schedule/g;
	is(scalar @logged, 1, "$name: reported once in the log");
}
my @posted = map { $_->{headers}{'x-scheduled-evaluation-id'} } $t->api_requests;
is(scalar @posted, $n, 'only the good schedules were POSTed');
my %bad_ids = map { $_ => 1 } values %id;
is((grep { $bad_ids{$_} } @posted), 0, 'no bad schedule was dispatched');
is($t->sql_value("SELECT to_char(next_run_at AT TIME ZONE 'Asia/Kathmandu', 'HH24:MI') "
    . "FROM scheduled_evaluations WHERE name = 'good in Kathmandu'"), '03:15',
    'a good schedule in a +05:45 zone is advanced in its zone');
is($t->stop_supervisor >> 8, 0, 'clean exit');
done_testing;
