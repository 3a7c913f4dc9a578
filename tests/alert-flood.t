# One user's hundred failing webhooks: the notifier that delivers their
# alert writes more than a pipe holds (a log line per webhook, each
# naming the webhook's long host name), and its job is larger than a
# pipe too.  The supervisor reads a child's pipes as they fill and
# writes its job as they drain, so nothing waits for a deadline: the
# delivery's result is recorded (each webhook gets the alert once per
# attempt; the one that took it, once), the loop answers SIGUSR1 all
# along, and another user's alert, queued behind, goes out in the next
# round.
#
# The webhooks are on loopback (*.localhost): the configuration allows
# it (webhook_allow).
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use Evalsched::Test qw(uuid);

my $t = Evalsched::Test->new;
$t->start_pg;
my $dir = $t->dir;

my $hport = $t->start_receiver;

# A port nothing listens on: a webhook there is refused at once.
my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Listen => 1) or die "socket: $!";
my $dead = $sock->sockport;
close $sock;

# A host name as long as DNS allows, which curl resolves to loopback
# itself: it is in every log line and error text of its webhook.
my $host = join('.', ('h' x 63) x 3, 'a' x 40) . '.localhost';
my $pad = 'q=' . ('x' x 600);	# long URLs: the job outgrows a pipe

sub received { return scalar $t->received(@_) }

sub add_webhooks {
	my ($user, @hooks) = @_;
	$t->sql('INSERT INTO user_webhooks (user_id, name, url, secret) VALUES '
	    . join(', ', map { sprintf "('%s', '%s', '%s', 'whsec-%s')", $user,
	    $_->[0], $_->[1], $_->[0] } @hooks));
}

sub add_alert {
	my ($user, $event, $ago) = @_;
	my $id = uuid();
	$t->sql("INSERT INTO evalsched_alerts (id, event, user_id, title, message, "
	    . "next_attempt_at) VALUES ('$id', '$event', '$user', 'Flood', "
	    . "'Many webhooks', now() - interval '$ago seconds')");
	return $id;
}

# User A: 98 webhooks refused, one the receiver fails (500), one it takes.
my $ua = $t->add_user;
add_webhooks($ua, (map { ["refused$_", "http://$host:$dead/hook/refused$_?$pad"] } 1 .. 98),
    ['fail', "http://$host:$hport/hook/fail?$pad"],
    ['ok', "http://$host:$hport/hook/ok?$pad"]);
# User B: one webhook that works.
my $ub = $t->add_user;
add_webhooks($ub, ['other', "http://127.0.0.1:$hport/hook/other"]);

# A's two events fill both notifiers; B's comes after them.
my $a1 = add_alert($ua, 'scheduled_eval_failed', 3);
my $a2 = add_alert($ua, 'scheduled_eval_disabled', 2);
my $balert = add_alert($ub, 'scheduled_eval_failed', 1);

my $conf = $t->write_config(alert_retry => 10, webhook_allow => '127.0.0.0/8, ::1');
my $sup = $t->start_supervisor(config => $conf);

# --- the loop answers while the deliveries are under way -----------------

# A live notifier of the supervisor's, as /proc shows it.
sub notifier_alive {
	for my $stat (glob '/proc/[0-9]*/stat') {
		next unless ($t->slurp($stat) // '') =~ /^(\d+) \(.*\) [^Z] (\d+) /
		    && $2 == $sup;
		return 1 if ($t->slurp("/proc/$1/cmdline") // '') =~ /^evalsched-notifier/;
	}
	return 0;
}
$t->wait_until(sub { notifier_alive() || received('other') }, 30);
ok($t->supervisor_status(undef, 10), 'SIGUSR1 answered while the notifiers run');

# --- the other user's alert: the next round, before A is tried again -------

sub state_of {
	$t->sql_value("SELECT state FROM evalsched_alerts WHERE id = '$_[0]'");
}
ok($t->wait_until(sub { state_of($balert) eq 'delivered' }, 90),
    'the other user\'s alert is delivered') or diag $t->supervisor_log;
is(received('other'), 1, 'once');
my $log = $t->supervisor_log;
my $bpos = index($log, "alert $balert delivered");
# One notifier per user at a time: B's alert goes out beside A's first
# event, or right after it, never behind both.
my @before = grep { my $p = index($log, "alert $_: will retry"); $p >= 0 && $p < $bpos } $a1, $a2;
cmp_ok(scalar @before, '<=', 1, "B's alert waited for at most one of A's events")
    or diag $log;
unlike($log, qr/outlived|without delivering|larger than/,
    'no notifier met its deadline or lost its result');
is($t->sql_value("SELECT max(attempts) FROM evalsched_alerts WHERE id IN ('$a1', '$a2')"),
    1, 'A\'s events had been tried once then: B waited one round at most');

# --- A's events: every webhook's result recorded, each attempt once ---------

ok($t->wait_until(sub { state_of($a1) eq 'failed' && state_of($a2) eq 'failed' }, 60),
    'A\'s events end failed after alert_retry, as their failing webhooks do')
    or diag $t->sql_value('SELECT json_agg(e) FROM evalsched_alerts e');
my $attempts = $t->sql_value("SELECT sum(attempts) FROM evalsched_alerts "
    . "WHERE id IN ('$a1', '$a2')");
cmp_ok($attempts, '>=', 4, "A's events were retried ($attempts attempts)");

is(received('ok'), 2, 'the webhook that took the alert got each event once');
is($t->sql_value("SELECT count(*) FROM alert_history h JOIN user_webhooks w "
    . "ON w.id = h.webhook_id WHERE w.name = 'ok' AND h.webhook_sent "
    . "AND h.webhook_status_code = 200"), 2, 'and has one alert_history row for each');
is(received('fail'), $attempts, 'the failing webhook got each attempt once');
is($t->sql_value("SELECT failure_count FROM user_webhooks WHERE user_id = '$ua' "
    . "AND name = 'fail'"), $attempts, 'and counted each failure once');

my @per = $t->sql("SELECT w.name, count(h.id) FROM user_webhooks w "
    . "LEFT JOIN alert_history h ON h.webhook_id = w.id WHERE w.user_id = '$ua' "
    . "GROUP BY w.name HAVING count(h.id) <> 2");
is_deeply(\@per, [], 'each of A\'s 100 webhooks has one alert_history row per event');
is($t->sql_value("SELECT count(*) FROM alert_history WHERE user_id = '$ua' "
    . "AND webhook_error = 'unreachable'"), 2 * 98,
    'the refused ones with their error, in the words a user may read');
is($t->sql_value("SELECT count(DISTINCT failure_count) || ':' || min(failure_count) "
    . "FROM user_webhooks WHERE user_id = '$ua' AND name LIKE 'refused%'"), "1:$attempts",
    'each refused webhook counted each attempt once');

my $st = $t->supervisor_status(undef, 10);
ok($st, 'the loop still answers');
is($t->stop_supervisor >> 8, 0, 'clean exit');
done_testing;
