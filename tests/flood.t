# Notifications are hints.  Any role may NOTIFY the channels the
# supervisor listens on, so a flood of them from a role without
# privileges must cost a bounded number of database trips: claims that
# notifications ask for are at least 100 ms apart, and so are looks at
# the alert outbox, completion passes at least a second apart
# (supervisor/loop.c, alerts.c, completion.c).  The flood runs
# while the supervisor's every statement is logged with its application
# name; the claims and completion passes are counted in the log, within
# the flood's own span by the database clock, against a bound derived
# from that spacing.  A schedule made due during the flood, and one
# whose due time falls in it, are still dispatched.  evalschedctl watch
# is flooded too, with a forged event: its lookups are at least 100 ms
# apart (ctl/cmd_watch.c), and it prints the real events, not the
# forged one.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api(mode => 'never');	# batch tests stay under way

# The flood: pg_notify on the four channels, a transaction each round, for
# as many seconds as asked; says how many rounds and when it began and
# ended (Unix time, the database clock).  The flooder needs no privilege
# but to run it: anyone may NOTIFY.
$t->sql('CREATE ROLE intruder LOGIN');
$t->sql(<<'SQL');
CREATE PROCEDURE flood(seconds float8) LANGUAGE plpgsql AS $$
DECLARE
    began float8 := extract(epoch FROM clock_timestamp());
    n bigint := 0;
BEGIN
    WHILE extract(epoch FROM clock_timestamp()) < began + seconds LOOP
        PERFORM pg_notify('evalsched_wakeup', n::text);
        PERFORM pg_notify('evalsched_batch_end', n::text);
        PERFORM pg_notify('evalsched_alert', n::text);
        PERFORM pg_notify('evalsched_events', '{"event": "completed", '
            || '"run_id": "00000000-0000-4000-8000-000000000000"}');
        COMMIT;
        n := n + 1;
    END LOOP;
    RAISE NOTICE 'flood: % rounds from % to %', n, began,
        extract(epoch FROM clock_timestamp());
END;
$$
SQL

# Every statement of the supervisor's role, with its application name and
# the time as Unix time.  A role's setting reaches sessions that start
# later: the supervisor's.
$t->sql(q{ALTER SYSTEM SET log_line_prefix = '%n [%p] %a: '});
$t->sql(q{ALTER ROLE postgres SET log_statement = 'all'});
$t->sql('SELECT pg_reload_conf()');

sub request_time {
	my ($id) = @_;
	my ($r) = grep { $_->{headers}{'x-scheduled-evaluation-id'} eq $id } $t->api_requests;
	return $r ? $r->{t_start} : undef;
}

# The supervisor's statements from $from to $to (Unix time) that match.
# (The same for evalschedctl with $app.)
sub statements {
	my ($re, $from, $to, $app) = @_;
	$app //= 'evalsched-supervisor';
	my $n = 0;
	for (split /\n/, $t->slurp($t->dir . '/pg.log')) {
		next unless /^(\d+\.\d+) \[\d+\] \Q$app\E: LOG:  (?:execute [^:]+|statement): (.*)$/;
		$n++ if $1 >= $from && $1 <= $to && $2 =~ $re;
	}
	return $n;
}
my $CLAIM = qr/FOR UPDATE OF s SKIP LOCKED/;
my $PASS = qr/^WITH cand AS/;
my $OUTBOX = qr/^WITH busy AS/;
my $LOOKUP = qr/json_array_elements\(\$1::json\) WITH ORDINALITY/;

# An hour between polls and heartbeats: within the test, the supervisor
# claims only when notified or at a due time.
my $conf = $t->write_config(poll_interval => 3600, lease => 3600);
$t->start_supervisor(config => $conf);
ok($t->wait_until(sub { statements($CLAIM, 0, 1e10) >= 1 && statements($PASS, 0, 1e10) >= 1 }, 30),
    'its statements are in the log');

my $watched = $t->dir . '/watch.out';
$t->spawn('watch', [Evalsched::Test::bin('evalschedctl'), '-c', $conf, '--json', 'watch'], $watched);
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM pg_stat_activity "
    . "WHERE application_name = 'evalschedctl' AND query LIKE 'LISTEN%'") == 1 }, 20),
    'evalschedctl watch listens') or diag $t->slurp($watched);

my $retimed = $t->add_schedule(name => 'retimed', next_run_at => \"now() + interval '1 day'");
my $due = $t->add_schedule(name => 'due in the flood', next_run_at => \"now() + interval '3 seconds'");

my $out = $t->dir . '/flood.out';
my @psql = $t->psql_cmd;
$psql[$_] = 'intruder' for grep { $psql[$_ - 1] eq '-U' } 1 .. $#psql;
$t->spawn('flood', [@psql, '-c', 'CALL flood(8)'], $out);
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM pg_stat_activity "
    . "WHERE usename = 'intruder' AND query = 'CALL flood(8)'") == 1 }, 10), 'the flood begins');
# Made due in the flood, as evalschedctl trigger does.
$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() WHERE id = '$retimed'");

is($t->wait_exit('flood', 60), 0, 'the flood ends') or diag $t->slurp($out);
my ($rounds, $from, $to) = $t->slurp($out) =~ /flood: (\d+) rounds from ([\d.]+) to ([\d.]+)/;
ok(defined $rounds, 'it says how much it sent') or diag $t->slurp($out);
cmp_ok($rounds * 3, '>=', 5000, "thousands of notifications ($rounds rounds of three)");

ok($t->wait_until(sub { defined request_time($retimed) }, 30), 'a schedule made due in the flood is dispatched')
    or diag $t->supervisor_log;
ok($t->wait_until(sub { defined request_time($due) }, 30), 'so is one whose due time fell in it');
cmp_ok(request_time($retimed), '<', $to, '... the first while the flood went on');
cmp_ok(request_time($due), '<', $to, '... and the second');

# Claims: one per 100 ms the notifications may ask for, and a few of our
# own around the two dispatches (a freed slot, a recorded outcome).
# Completion passes: one a second, and the pass after each connect.
my $span = $to - $from;
my $claims = statements($CLAIM, $from, $to);
my $passes = statements($PASS, $from, $to);
my $max_claims = int($span / 0.1) + 1 + 10;
my $max_passes = int($span / 1) + 1 + 3;
my $looks = statements($OUTBOX, $from, $to);
my $max_looks = int($span / 0.1) + 1 + 10;
cmp_ok($claims, '<=', $max_claims, sprintf('claims in the %.1f s flood: %d, at most %d',
    $span, $claims, $max_claims));
cmp_ok($passes, '<=', $max_passes, sprintf('completion passes in it: %d, at most %d',
    $passes, $max_passes));
cmp_ok($looks, '<=', $max_looks, sprintf('looks at the alert outbox in it: %d, at most %d',
    $looks, $max_looks));

# The watcher: its lookups, and what it printed once the runs it saw
# were accepted.
my $lookups = statements($LOOKUP, $from, $to, 'evalschedctl');
my $max_lookups = int($span / 0.1) + 1 + 2;
cmp_ok($lookups, '<=', $max_lookups, sprintf('lookups of evalschedctl watch in it: %d, at most %d',
    $lookups, $max_lookups));
ok($t->wait_until(sub { (() = $t->slurp($watched) =~ /"event":"accepted"/g) == 2 }, 30),
    'watch printed both runs\' events') or diag $t->slurp($watched);
is($t->stop('watch', 'INT'), 0, 'watch: SIGINT, exit 0');
my $seen = $t->slurp($watched);
unlike($seen, qr/00000000-0000-4000-8000-000000000000/, 'and not the forged run');
is(scalar(() = $seen =~ /^\{"event":"dispatched"/mg), 2, 'two dispatched, as there were');
unlike($seen, qr/^evalschedctl: /m, 'without a complaint');

my $log = $t->supervisor_log;
unlike($log, qr/database connection lost/, 'the supervisor kept its connection');
is($t->stop_supervisor >> 8, 0, 'clean exit');
done_testing;
