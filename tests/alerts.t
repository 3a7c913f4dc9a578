# Alerts: events go into the outbox with the fact that caused them and
# are delivered by evalsched-notifier children to the owner's subscribed,
# enabled webhooks (the application's generic body, signed with the
# webhook's secret; a real Slack message for a Slack webhook) and to
# alert_command; each delivery is in alert_history and in the webhook's
# counters; a failing webhook is retried, then recorded as failed, and
# costs the schedules nothing, and what it answered is not recorded
# beyond its status; two supervisors send each event once.  The receiver
# is on 127.0.0.1, which webhook_allow lets through; without it, the
# webhook is refused, recorded at once, counted as a failure and not
# tried again, as is a URL with credentials.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use JSON::PP qw(decode_json);

# A body from the receiver's log is already text, not UTF-8 bytes.
sub from_json { JSON::PP->new->decode($_[0]) }
use Evalsched::Test qw(uuid);

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
my $dir = $t->dir;

my $hport = $t->start_receiver;
my $hooks = "http://127.0.0.1:$hport/hook";

sub received { $t->received(@_) }

my $user = $t->add_user;
my $secret = 'whsec-' . join('', map { ('a'..'z')[rand 26] } 1 .. 24);
sub webhook {
	my (%c) = @_;
	my $id = uuid();
	my %row = (id => $id, user_id => $user, name => $c{name}, url => "$hooks/$c{name}",
	    webhook_type => $c{type} // 'generic', %c);
	delete $row{type};
	my @k = sort keys %row;
	$t->sql(sprintf 'INSERT INTO user_webhooks (%s) VALUES (%s)', join(', ', @k),
	    join(', ', map { defined $row{$_} ? Evalsched::Test::quote($row{$_}) : 'NULL' } @k));
	return $id;
}
my $signed = webhook(name => 'signed', secret => $secret);
my $slack = webhook(name => 'slack', type => 'slack');
my $unsub = webhook(name => 'unsubscribed', alert_scheduled_eval_failed => 'false',
    alert_scheduled_eval_disabled => 'false', alert_scheduled_eval_regression => 'false');
my $off = webhook(name => 'disabled', enabled => 'false');
my $failing = webhook(name => 'failing');
my $other = $t->add_user;	# another user's webhook never hears of ours
$t->sql("INSERT INTO user_webhooks (user_id, name, url) VALUES ('$other', 'other', '$hooks/other')");

my $cmd = "$dir/alert-command";
mkdir "$dir/command.out";
# Two deliveries may run at once: one file each.
$t->spew($cmd, "#!/bin/sh\ncat > $dir/command.out/\$\$\n");
chmod 0755, $cmd;

my $conf = $t->write_config(poll_interval => 2, alert_command => $cmd, alert_retry => 10,
    webhook_allow => '127.0.0.1/32');
$t->start_supervisor(config => $conf);

# --- a failed dispatch, three times: failed x3, then disabled once --------

my $bad = $t->add_schedule(name => 'refused nightly', user_id => $user,
    model_id => 'standin:status=400');
for my $n (1 .. 3) {
	ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
	    . "WHERE scheduled_evaluation_id = '$bad' AND status = 'failed'") == $n }, 20),
	    "failure $n");
	$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() WHERE id = '$bad'") if $n < 3;
}
ok($t->wait_until(sub { (grep { from_json($_->{body})->{type} eq 'scheduled_eval_disabled' }
    received('signed')) == 1 }, 20), 'the disabled alert reached the signed webhook')
    or diag $t->supervisor_log;
ok($t->wait_until(sub { received('signed') == 4 }, 20), 'three failed alerts and one disabled');
sleep 1;
is(scalar(received('signed')), 4, 'one disabled alert per auto-disable, each event once');

my ($first) = grep { from_json($_->{body})->{type} eq 'scheduled_eval_failed' } received('signed');
my $body = $first->{body};
is($first->{headers}{'x-webhook-signature'}, hmac_sha256_hex($body, $secret),
    'X-Webhook-Signature: HMAC-SHA256 of the exact body with the secret');
like($body, qr/^\{"type":"scheduled_eval_failed","title":"Scheduled Evaluation Failed: refused nightly","message":"Your scheduled evaluation failed\. (?:[^"\\]|\\.)*","timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","metadata":\{"scheduledEvaluationId":"\Q$bad\E","userId":"\Q$user\E","scheduleName":"refused nightly","modelId":"standin:status=400","status":"failed","errorMessage":"(?:[^"\\]|\\.)*","consecutiveFailures":1,"runId":"[0-9a-f-]{36}"\}\}$/,
    'the application\'s generic body, its keys in its order') or diag $body;
is($first->{headers}{'content-type'}, 'application/json', 'Content-Type');

my @sl = received('slack');
is(scalar @sl, 4, 'the Slack webhook got the four alerts');
my $msg = from_json($sl[0]{body});
ok(ref $msg->{blocks} eq 'ARRAY' && defined $msg->{text}, 'a Slack message: text and blocks');
unlike($sl[0]{body}, qr/undefined|Progress/, 'no junk fields');
is(scalar(received('unsubscribed')), 0, 'an unsubscribed webhook hears nothing');
is_deeply([$t->sql("SELECT alert_type, webhook_sent, webhook_error FROM alert_history "
    . "WHERE webhook_id = '$unsub' ORDER BY alert_type")],
    [['scheduled_eval_disabled', 'f', 'Alert type scheduled_eval_disabled disabled'],
     (['scheduled_eval_failed', 'f', 'Alert type scheduled_eval_failed disabled']) x 3],
    'but has the application\'s row for each event, saying its type is off');
is(scalar(received('disabled')), 0, 'a disabled webhook hears nothing');
is(scalar(received('other')), 0, 'another user\'s webhook hears nothing');

is($t->sql_value("SELECT count(*) FROM alert_history WHERE webhook_id = '$signed' "
    . "AND webhook_sent AND webhook_status_code = 200 AND user_id = '$user'"), 4,
    'alert_history: one row per delivery to the signed webhook');
is_deeply([$t->sql("SELECT last_success_at IS NOT NULL, failure_count FROM user_webhooks "
    . "WHERE id = '$signed'")], [['t', 0]], 'the webhook\'s last_success_at and failure_count');

# --- the failing webhook: retried, marked, then recorded as failed --------

ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM evalsched_alerts "
    . "WHERE state = 'failed'") == 4 }, 40), 'after alert_retry the events are recorded as failed')
    or diag $t->sql_value('SELECT json_agg(e) FROM evalsched_alerts e');
cmp_ok(scalar(received('failing')), '>', 4, 'the failing webhook was retried');
my ($fc, $lf) = @{ ($t->sql("SELECT failure_count, last_failure_at IS NOT NULL FROM user_webhooks "
    . "WHERE id = '$failing'"))[0] };
cmp_ok($fc, '>', 4, "its failure_count counts every failed attempt ($fc)");
is($lf, 't', 'its last_failure_at is set');
is($t->sql_value("SELECT count(*) FROM alert_history WHERE webhook_id = '$failing' "
    . "AND NOT webhook_sent AND webhook_status_code = 500 AND webhook_error = 'HTTP 500'"), 4,
    'alert_history: the failed deliveries, with status and error, nothing of the answer\'s body');
is($t->sql_value("SELECT count(*) FROM alert_history WHERE webhook_error LIKE '%receiver failure%'"), 0,
    'the receiver\'s words are nowhere in alert_history');
unlike($t->supervisor_log, qr/receiver failure/, 'nor in the log');
is($t->sql_value("SELECT consecutive_failures FROM scheduled_evaluations WHERE id = '$bad'"), 3,
    'a failing webhook costs the schedule nothing');

# --- alert_command ----------------------------------------------------------

my @lines = map { $t->slurp($_) } glob "$dir/command.out/*";
is(scalar @lines, 4, 'alert_command ran once per event');
like($lines[0], qr/^\{"type":"scheduled_eval_(failed|disabled)","title":/,
    'alert_command got the event as JSON on stdin');

# A failed dispatch that is the platform's fault alerts as well, and says
# so: the route's own 500, tried three times.
my $down = $t->add_schedule(name => 'route 500', user_id => $user,
    model_id => 'standin:status=500');
ok($t->wait_until(sub { grep { from_json($_->{body})->{metadata}{scheduleName} eq 'route 500' }
    received('signed') }, 30), 'a platform failure alerts the owner too');
my ($p) = grep { from_json($_->{body})->{metadata}{scheduleName} eq 'route 500' } received('signed');
like(from_json($p->{body})->{message}, qr/a fault of the platform, not of the schedule/,
    'and says it does not count against the schedule');

unlike($t->supervisor_log, qr/\Q$secret\E/, 'the webhook secret is not logged');
$t->stop_supervisor;

# --- two supervisors: each event delivered once ------------------------------

$t->sql("DELETE FROM user_webhooks WHERE id <> '$signed'");
my $before = received('signed');
my @many = map { $t->add_schedule(name => "refused $_", user_id => $user,
    model_id => 'standin:status=404') } 1 .. 10;
$t->start_supervisor(name => $_, config => $t->write_config(poll_interval => 2,
    node_name => $_, webhook_allow => '127.0.0.1/32')) for qw(a b);
ok($t->wait_until(sub { received('signed') - $before == 10 }, 40),
    'two supervisors: ten failed alerts delivered');
sleep 2;
is(received('signed') - $before, 10, 'two supervisors: none delivered twice');
is($t->stop_supervisor($_) >> 8, 0, "supervisor $_: clean exit") for qw(a b);

# --- no webhook_allow: this host is refused, and not tried again -------------

$t->sql("DELETE FROM user_webhooks");
my $refused = webhook(name => 'refused');
my $creds = webhook(name => 'creds', url => "http://user:pass\@127.0.0.1:$hport/hook/creds");
$before = received();
$t->start_supervisor(name => 'strict', config => $t->write_config(poll_interval => 2,
    node_name => 'strict'));
my $sched = $t->add_schedule(name => 'refused again', user_id => $user,
    model_id => 'standin:status=400');
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM evalsched_alerts "
    . "WHERE scheduled_evaluation_id = '$sched' AND state <> 'pending'") == 1 }, 30),
    'the event ended at once, alert_retry an hour away') or diag $t->supervisor_log('strict');
is_deeply([$t->sql("SELECT state, attempts FROM evalsched_alerts "
    . "WHERE scheduled_evaluation_id = '$sched'")], [['failed', 1]],
    'failed, after one attempt: a refusal is not tried again');
is_deeply([$t->sql("SELECT webhook_id, webhook_sent, webhook_status_code, webhook_error "
    . "FROM alert_history WHERE webhook_id IN ('$refused', '$creds') ORDER BY webhook_error DESC")],
    [[$refused, 'f', undef, 'refused: destination not allowed'],
     [$creds, 'f', undef, 'refused: credentials in the URL are not allowed']],
    'alert_history: one row each, saying why');
is_deeply([$t->sql("SELECT failure_count, last_failure_at IS NOT NULL FROM user_webhooks "
    . "WHERE id IN ('$refused', '$creds')")], [[1, 't'], [1, 't']],
    'each counts one failure');
sleep 1;
is(received() - $before, 0, 'the receiver got nothing');
like($t->supervisor_log('strict'), qr/\Q$refused\E.*refused: destination not allowed \(127\.0\.0\.1 is loopback, and webhook_allow does not cover it\)/,
    'the log says which address and why');
unlike($t->supervisor_log('strict'), qr/pass\@/, 'and not the credentials');
is($t->stop_supervisor('strict') >> 8, 0, 'supervisor strict: clean exit');
done_testing;
