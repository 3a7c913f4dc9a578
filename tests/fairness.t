# One user cannot take everyone's turn.  The claim shares the free slots
# between users: rank 1 of every user before rank 2 of anyone, the user
# served least recently first, so a user whose one schedule falls due
# behind another's backlog is dispatched at the next free slot, not
# after the backlog.  Alerts share the notifiers the same way, one per
# user at a time: a user whose webhook hangs holds one notifier, and
# another user's alert queued behind theirs goes out on the other.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json);
use Evalsched::Test qw(uuid);

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
my $dir = $t->dir;

# --- fair claims ------------------------------------------------------------

# Three users with 50 due schedules each (the application's cap), each
# user's wholly older than the next one's, and each dispatch taking a
# while; a fourth user's one schedule falls due a few seconds later,
# with the backlog still waiting.
my @users = map { $t->add_user(uuid(), uuid()) } 1 .. 3;
my $n = 0;
for my $i (0 .. 2) {
	my $u = $users[$i];
	my $suite = $t->sql_value("SELECT id FROM test_suites WHERE user_id = '$u'");
	my $age = 600 - 100 * $i;
	$t->sql(<<"SQL");
INSERT INTO scheduled_evaluations (user_id, name, schedule_type, cron_expression,
    timezone, test_suite_id, model_id, next_run_at)
SELECT '$u', 'backlog $i.' || g, 'custom', '0 0 1 1 *', 'UTC', '$suite',
    'standin:slow=250', now() - ($age - g) * interval '1 second'
FROM generate_series(1, 50) AS g
SQL
}
is($t->sql_value("SELECT count(*) FROM scheduled_evaluations WHERE name LIKE 'backlog %'"),
    150, 'three users, 50 due schedules each');
my $lone = $t->add_schedule(name => 'lone', next_run_at => \"now() + interval '4 seconds'");
my $lone_due = $t->sql_value("SELECT extract(epoch FROM next_run_at) FROM "
    . "scheduled_evaluations WHERE id = '$lone'");

my $conf = $t->write_config(poll_interval => 2, max_concurrent => 3);
$t->start_supervisor(config => $conf);
ok($t->wait_until(sub { $t->runs_done($lone) > 0 }, 90), 'the lone schedule ran');

# Who was dispatched in what order: the runs' claim times, one claim
# (one transaction, one time) for the rows it took.
my @order = $t->sql("SELECT s.user_id, s.name, extract(epoch FROM r.triggered_at), "
    . "extract(epoch FROM r.slot_at) FROM scheduled_evaluation_runs r JOIN "
    . "scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
    . "ORDER BY r.triggered_at, r.slot_at, r.id");
my ($lone_at) = map { $_->[2] } grep { $_->[1] eq 'lone' } @order;
my @before = grep { $_->[1] ne 'lone' && $_->[2] >= $lone_due && $_->[2] < $lone_at } @order;
cmp_ok(scalar @before, '<', 3, 'the lone schedule is among the first max_concurrent '
    . 'dispatches once it is due (' . scalar(@before) . ' before it)');
my $waiting = $t->sql_value("SELECT count(*) FROM scheduled_evaluations s WHERE "
    . "s.name LIKE 'backlog %' AND NOT EXISTS (SELECT 1 FROM scheduled_evaluation_runs r "
    . "WHERE r.scheduled_evaluation_id = s.id AND r.triggered_at <= to_timestamp($lone_at))");
cmp_ok($waiting, '>=', 50, "while the backlog waited ($waiting of 150 not yet dispatched)");

# Rank 1 of every user before rank 2 of anyone: the first three
# dispatches are one of each user, although one user's are all older.
my %first = map { $_->[0] => 1 } @order[0 .. 2];
is(scalar keys %first, 3, 'the first three dispatches: one schedule of each user');
# Oldest first within a user.
my $in_order = 1;
for my $u (@users) {
	my @slots = map { $_->[3] } grep { $_->[0] eq $u } @order;
	$in_order &&= !grep { $slots[$_] < $slots[$_ - 1] } 1 .. $#slots;
}
ok($in_order, 'each user\'s schedules are dispatched oldest first');
$t->stop_supervisor;
$t->sql('UPDATE scheduled_evaluations SET is_active = false');

# --- fair alert delivery -----------------------------------------------------

my $hport = $t->start_receiver;

sub received {
	return map { decode_json($_) } split /\n/, $t->slurp("$dir/hooks.log");
}

# User A's webhook never answers in time (the receiver holds "slow"
# requests longer than the notifier waits); user B's answers at once.
# A has ten alerts waiting, B one, queued after them.
my ($ua, $ub) = map { $t->add_user } 1 .. 2;
$t->sql("INSERT INTO user_webhooks (user_id, name, url) VALUES "
    . "('$ua', 'a', 'http://127.0.0.1:$hport/hook/slow-a'), "
    . "('$ub', 'b', 'http://127.0.0.1:$hport/hook/b')");
$t->sql("INSERT INTO evalsched_alerts (event, user_id, title, message, created_at, "
    . "next_attempt_at) SELECT 'scheduled_eval_failed', '$ua', 'A ' || g, 'm', "
    . "now() - (20 - g) * interval '1 second', now() - (20 - g) * interval '1 second' "
    . "FROM generate_series(1, 10) AS g");
$t->sql("INSERT INTO evalsched_alerts (event, user_id, title, message) VALUES "
    . "('scheduled_eval_failed', '$ub', 'B', 'm')");
$t->start_supervisor(config => $t->write_config(poll_interval => 2, alert_retry => 600,
    webhook_allow => '127.0.0.1/32'));
ok($t->wait_until(sub { $t->sql_value("SELECT state FROM evalsched_alerts "
    . "WHERE user_id = '$ub'") eq 'delivered' }, 120), 'B\'s alert is delivered');
my @got = received();
my ($b_at) = map { $_->{t} } grep { $_->{name} eq 'b' } @got;
my $a_before = grep { $_->{name} eq 'slow-a' && $_->{t} <= $b_at } @got;
cmp_ok($a_before, '<=', 1, "B's alert went out before A's ten were tried "
    . "($a_before of A's before it)");
is($t->sql_value("SELECT count(*) FROM alert_history WHERE user_id = '$ub' AND webhook_sent"),
    1, 'B\'s delivery is in alert_history');
# A's hanging webhook holds one notifier at a time, never both: until
# A's second alert is tried, at most one of A's is ever claimed.
my $most = 0;
ok($t->wait_until(sub {
	my $claimed = $t->sql_value("SELECT count(*) FROM evalsched_alerts WHERE "
	    . "user_id = '$ua' AND state = 'pending' AND claimed_until >= now()");
	$most = $claimed if $claimed > $most;
	return (grep { $_->{name} eq 'slow-a' } received()) >= 2;
}, 60), 'A\'s alerts are tried one after another');
is($most, 1, 'A never had more than one notifier');
$t->stop_supervisor;
done_testing;
