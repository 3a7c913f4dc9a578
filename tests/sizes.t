# Sizes: a user writes a schedule's name without limit.  A schedule with
# a 400 KB name whose dispatch fails still alerts its owner's webhook and
# alert_command, with the name cut (200 characters, an ellipsis last) in
# the title, the message and the metadata; a webhook whose URL or secret
# is longer than the notifier has room for fails with that reason and
# holds up no other; and no line of the supervisor's log is longer than
# 4 KiB, the name in it cut too.
use strict;
use warnings;
use lib 'tests/lib';
use Encode qw(decode_utf8);
use JSON::PP qw(decode_json);
use Test::More;
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
my $dir = $t->dir;

my $hport = $t->start_receiver;
my $hooks = "http://127.0.0.1:$hport/hook";

sub received { $t->received(@_) }

my $user = $t->add_user;
sub webhook {
	my ($name, $url, $secret) = @_;
	$t->sql("INSERT INTO user_webhooks (user_id, name, url, secret) VALUES ('$user', "
	    . "'$name', " . Evalsched::Test::quote($url) . ", "
	    . (defined $secret ? Evalsched::Test::quote($secret) : 'NULL') . ')');
	return $t->sql_value("SELECT id FROM user_webhooks WHERE name = '$name'");
}
webhook('owner', "$hooks/owner", 'whsec-owner');
my $long_url = webhook('long-url', "$hooks/long-url?" . ('q' x 3000));
my $long_secret = webhook('long-secret', "$hooks/long-secret", 's' x 1500);

my $cmd = "$dir/alert-command";
$t->spew($cmd, "#!/bin/sh\nenv > $dir/command.env\ncat > $dir/command.in\n");
chmod 0755, $cmd;

# The caps, at their edges: 200 characters of a name, 1000 of an error.
is_deeply([$t->sql("SELECT char_length(evalsched_alert_name(repeat('n', 200))), "
    . "char_length(evalsched_alert_name(repeat('n', 201))), "
    . "right(evalsched_alert_name(repeat('n', 201)), 1) = chr(8230), "
    . "char_length(evalsched_alert_error(repeat('e', 1000))), "
    . "char_length(evalsched_alert_error(repeat('e', 5000))), "
    . "evalsched_alert_name(NULL) IS NULL")],
    [[200, 200, 't', 1000, 1000, 't']], 'the caps: kept up to them, cut to them');

$t->start_supervisor(config => $t->write_config(poll_interval => 2,
    webhook_allow => '127.0.0.1/32',
    alert_command => $cmd, alert_retry => 10));

# 400 KB: "huge " and 204,800 two-byte characters (built by the
# database: no command line takes it).
my $sched = $t->add_schedule(user_id => $user, model_id => 'standin:status=400',
    name => \"'huge ' || repeat(chr(233), 204800)");
is($t->sql_value("SELECT octet_length(name) FROM scheduled_evaluations "
    . "WHERE id = '$sched'"), 5 + 409600, 'the schedule\'s name is 400 KB');

ok($t->wait_until(sub { received('owner') >= 1 }, 30),
    'the owner\'s webhook got the alert')
    or diag substr($t->supervisor_log, 0, 20000);
my ($got) = received('owner');
my $body = eval { JSON::PP->new->decode($got->{body} // '') } // {};
my $cut = 'huge ' . ("\x{e9}" x 194) . "\x{2026}";
is($body->{metadata}{scheduleName}, $cut,
    'metadata: the name cut to 200 characters, an ellipsis last');
is($body->{title}, "Scheduled Evaluation Failed: $cut", 'the title holds the cut name');
is($body->{message}, 'Your scheduled evaluation failed. HTTP 400 from the application: '
    . '{"error": "stand-in error 400"}', 'the message is the application\'s, without the name');
cmp_ok(length($got->{body}), '<', 16 * 1024, 'the alert is small');

ok($t->wait_until(sub { -s "$dir/command.in" }, 30), 'alert_command ran');
my $in = eval { decode_json($t->slurp("$dir/command.in")) } // {};
is($in->{metadata}{scheduleName}, $cut, 'alert_command read the cut name on its stdin');
my %env = map { /^(EVALSCHED_\w+)=(.*)$/ ? ($1 => decode_utf8($2)) : () }
    split /\n/, $t->slurp("$dir/command.env");
is($env{EVALSCHED_TITLE}, $body->{title}, 'EVALSCHED_TITLE: the title, on one line');
is($env{EVALSCHED_SCHEDULE_ID}, $sched, 'EVALSCHED_SCHEDULE_ID');

# The webhooks the notifier has no room for: failed, with the reason.
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM user_webhooks "
    . "WHERE id IN ('$long_url', '$long_secret') AND failure_count > 0") == 2 }, 30),
    'a webhook with a too long URL or secret fails')
    or diag $t->sql_value("SELECT json_agg(a) FROM evalsched_alerts a");
my $why = $t->sql_value("SELECT last_error FROM evalsched_alerts");
like($why, qr/its URL is longer than 2048 characters/, 'and says why: the URL');
like($why, qr/its secret is longer than 1024 characters/, 'and says why: the secret');
is(scalar(received('long-url')) + scalar(received('long-secret')), 0,
    'nothing is sent to them');

# Settled: the failed run is logged, and the alert's first attempt.
$t->wait_log(qr/alert \S+: will retry/, 30);
my $log = $t->supervisor_log;
my ($longest) = sort { $b <=> $a } map { length } split /\n/, $log;
cmp_ok($longest, '<=', 4096, "no log line is longer than 4 KiB ($longest bytes)");
my $log_cut = 'huge ' . ("\x{e9}" x 193) . "\x{2026}";
like(decode_utf8($log), qr/schedule "\Q$log_cut\E": run \S+ failed: /,
    'the log shows the name cut (to fewer than 200 characters) as well');
is($t->stop_supervisor >> 8, 0, 'clean exit');
done_testing;
