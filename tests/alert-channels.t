# Every channel end to end: a schedule fails, and the supervisor and the
# real evalsched-notifier deliver its alert to the owner's email (a fake
# sendmail), the owner's Teams, Telegram and PagerDuty integrations (the
# stand-ins of tests/channel-standin) and the owner's webhook, and record
# it as the application does: alert_history rows with the email's
# result, the integrations' last_sync_at, last_error and error_count.
# An owner in their quiet hours gets no email, and the history says why;
# a failing integration is retried without any other channel being sent
# the alert twice.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP;
use Evalsched::Test qw(uuid);

delete @ENV{qw(http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY)};
my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
my $dir = $t->dir;

# --- the stand-ins ------------------------------------------------------------

my $spid = fork // die "fork: $!";
if ($spid == 0) {
	open STDIN, '<', '/dev/null';
	open STDOUT, '>', "$dir/standin.out";
	open STDERR, '>&', \*STDOUT;
	exec Evalsched::Test::top() . '/tests/channel-standin', '--port-file',
	    "$dir/standin.port", '--log', "$dir/standin.log" or POSIX::_exit(127);
}
END { if ($spid) { kill 'TERM', $spid; waitpid $spid, 0 } }
ok($t->wait_until(sub { -s "$dir/standin.port" }, 15), 'the channel stand-ins listen');
my $port = $t->slurp("$dir/standin.port");
chomp $port;
my $api = "http://127.0.0.1:$port";
sub requests {
	my ($re) = @_;
	return grep { $_->{path} =~ $re } map { decode_json($_) }
	    split /\n/, $t->slurp("$dir/standin.log") // '';
}

# sendmail: one file per message, named by the address it went to.
mkdir "$dir/mail";
my $sendmail = "$dir/sendmail";
# Written aside and renamed: a message seen is whole.
$t->spew($sendmail, "#!/bin/sh\nlast=\nfor a in \"\$@\"; do last=\$a; done\n"
    . "cat > '$dir/'\$\$.tmp && mv '$dir/'\$\$.tmp '$dir/mail/'\"\$last\".\$\$\nexit 0\n");
chmod 0755, $sendmail;
sub mails { my @m = glob "$dir/mail/$_[0].*"; return @m }

# --- owners -------------------------------------------------------------------

sub owner {
	my ($email, %prefs) = @_;
	my $u = $t->add_user;
	$t->sql("UPDATE auth.users SET email = '$email' WHERE id = '$u'");
	if (%prefs) {
		my @k = sort keys %prefs;
		$t->sql(sprintf "INSERT INTO user_alert_preferences (user_id, %s) VALUES ('$u', %s)",
		    join(', ', @k), join(', ', map { Evalsched::Test::quote($prefs{$_}) } @k));
	}
	return $u;
}
sub integration {
	my ($u, $type, $creds) = @_;
	return $t->sql_value("INSERT INTO user_integrations (user_id, integration_type, credentials) "
	    . "VALUES ('$u', '$type', " . Evalsched::Test::quote(encode_json($creds))
	    . ") RETURNING id");
}

# A: email, Teams, Telegram, PagerDuty (whose API fails), and a webhook.
my $a = owner('owner-a@example.test');
integration($a, 'teams', { webhook_url => "$api/teams/a" });
integration($a, 'telegram', { bot_token => '111:tgsecret', chat_id => '42' });
integration($a, 'pagerduty', { routing_key => 'pdsecretkey' });
my $hook = $t->sql_value("INSERT INTO user_webhooks (user_id, name, url) "
    . "VALUES ('$a', 'hook', '$api/teams/hook') RETURNING id");
# Q: in quiet hours, in their time zone, for all but one hour of the
# day, the one twelve hours from now (the end hour is not quiet; a start
# after the end wraps past midnight).  0 to 23 left 23:00 to 24:00 out,
# when this failed.
my $loud = ($t->sql_value("SELECT extract(hour FROM now() AT TIME ZONE "
    . "'Europe/Berlin')::int") + 12) % 24;
my $q = owner('owner-q@example.test', quiet_hours_enabled => 'true',
    quiet_hours_start => ($loud + 1) % 24, quiet_hours_end => $loud,
    timezone => 'Europe/Berlin');

my $conf = $t->write_config(sendmail => $sendmail, telegram_api_url => "$api/tg",
    pagerduty_events_url => "$api/pd/failing",
    webhook_allow => '127.0.0.1/32', max_consecutive_failures => 5,
    mail_from => 'evalsched <alerts@example.test>');
$t->start_supervisor(config => $conf);
my $sa = $t->add_schedule(name => 'nightly A', user_id => $a, model_id => 'standin:status=400');
my $sq = $t->add_schedule(name => 'nightly Q', user_id => $q, model_id => 'standin:status=400');

sub history {
	my ($u) = @_;
	return $t->sql("SELECT alert_type, email_sent, email_error, webhook_sent, "
	    . "(email_message_id IS NOT NULL)::text FROM alert_history WHERE user_id = '$u' "
	    . "ORDER BY created_at");
}

# --- A ------------------------------------------------------------------------

ok($t->wait_until(sub { mails('owner-a@example.test') >= 1 }, 30), 'A: the email went out')
    or diag $t->supervisor_log;
my ($mail) = mails('owner-a@example.test');
like($t->slurp($mail), qr/^Subject: =\?UTF-8\?/m, 'A: its subject, encoded');
like($t->slurp($mail), qr/^From: evalsched <alerts\@example\.test>/m, 'A: from mail_from');
ok($t->wait_until(sub { requests(qr{^/teams/a}) >= 1 && requests(qr{^/teams/hook}) >= 1 }, 20),
    'A: Teams and the webhook got it');
ok($t->wait_until(sub { requests(qr{^/tg/bot111:tgsecret/sendMessage}) >= 1 }, 20),
    'A: Telegram got it');
ok($t->wait_until(sub { requests(qr{^/pd/failing}) >= 2 }, 40),
    'A: PagerDuty, failing, was tried again') or diag $t->supervisor_log;
ok($t->wait_until(sub { $t->sql_value("SELECT error_count FROM user_integrations "
    . "WHERE user_id = '$a' AND integration_type = 'pagerduty'") >= 2 }, 20),
    'A: each failed attempt counted on the integration');
is(scalar(mails('owner-a@example.test')), 1, 'A: the email was not sent again');
is(scalar(requests(qr{^/teams/a})), 1, '... nor Teams');
is(scalar(requests(qr{^/teams/hook})), 1, '... nor the webhook');
is(scalar(requests(qr{^/tg/})), 1, '... nor Telegram');
is($t->sql_value("SELECT state FROM evalsched_alerts WHERE user_id = '$a' "
    . "AND event = 'scheduled_eval_failed'"), 'pending', 'A: the event waits for PagerDuty');
my ($h) = grep { $_->[0] eq 'scheduled_eval_failed' } history($a);
is_deeply($h, ['scheduled_eval_failed', 't', undef, 't', 'true'],
    'A: the webhook\'s history row carries the email sent, with its message id');
is_deeply([$t->sql("SELECT integration_type, last_sync_at IS NOT NULL, last_error IS NOT NULL "
    . "FROM user_integrations WHERE user_id = '$a' ORDER BY integration_type")],
    [['pagerduty', 'f', 't'], ['teams', 't', 'f'], ['telegram', 't', 'f']],
    'A: Teams and Telegram synced, PagerDuty\'s error kept');
unlike($t->supervisor_log, qr/tgsecret|pdsecretkey/, 'A: no token or key in the log');

# --- Q ------------------------------------------------------------------------

ok($t->wait_until(sub { scalar(history($q)) >= 1 }, 30), 'Q: the alert is in the history');
is_deeply((history($q))[0], ['scheduled_eval_failed', 'f', 'Quiet hours active', 'f', 'false'],
    'Q: no email in quiet hours, and the history says so');
is(scalar(mails('owner-q@example.test')), 0, 'Q: sendmail was never run for them');

is($t->stop_supervisor >> 8, 0, 'clean exit');
done_testing;
