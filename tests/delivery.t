# Every channel of the application, as the supervisor owns it: what it
# hands evalsched-notifier (the owner's email as user_alert_preferences
# decide, the owner's integrations, the webhooks) and what it records of
# the answer (alert_history as the application writes it, the
# integrations' last_error and error_count), each channel's retries
# apart from the others', the first after 5 seconds, an event queued
# elsewhere picked up at once through NOTIFY, and the application's
# words byte for byte.  The notifier here is a stand-in that keeps its
# job and answers as its plan says: the delivery itself is
# evalsched-notifier's, tested with it.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP;
use Time::HiRes qw(time);
use Evalsched::Test qw(uuid);

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
my $dir = $t->dir;
mkdir "$dir/jobs";

# --- the stand-in notifier ----------------------------------------------------

# fail: {"ID" => N} fails the first N attempts of a webhook, an
# integration or an address ("email:ADDRESS") of each event, retry true.
sub fail_first { $t->spew("$dir/plan.json", encode_json({ fail => {@_} })) }
fail_first();
my $notifier = "$dir/notifier";
$t->spew($notifier, <<"EOF");
#!/usr/bin/perl
use strict;
use warnings;
use JSON::PP;
use Time::HiRes qw(time);
my \$dir = '$dir';
my \$raw = do { local \$/; <STDIN> };
my \$job = decode_json(\$raw);
my \$plan = decode_json(do { local \$/; open my \$f, '<', "\$dir/plan.json"; <\$f> });
my \$attempt = 1 + grep { /-\\Q\$job->{alert_id}\\E\\.json\$/ } glob "\$dir/jobs/*";
my \$name = sprintf '%s/jobs/%.6f-%s.json', \$dir, time, \$job->{alert_id};
open my \$o, '>', "\$name.tmp" or die; print \$o \$raw; close \$o; rename "\$name.tmp", \$name;
my (\$T, \$F) = (JSON::PP::true, JSON::PP::false);
my \$all = 1;
sub fails { my \$n = \$plan->{fail}{\$_[0]} // 0; \$all = 0 if \$attempt <= \$n; \$attempt <= \$n }
my \@hooks = map { fails(\$_->{id})
    ? { id => \$_->{id}, ok => \$F, status_code => 500, error => 'HTTP 500', retry => \$T }
    : { id => \$_->{id}, ok => \$T, status_code => 200, error => undef, retry => \$T } } \@{ \$job->{webhooks} };
my \%r = (webhooks => \\\@hooks, command => undef);
if (my \$e = \$job->{email}) {
	\$r{email} = fails("email:\$e->{to}")
	    ? { ok => \$F, message_id => undef, error => 'sendmail exited 75', retry => \$T }
	    : { ok => \$T, message_id => "<\$job->{alert_id}.\$attempt\\\@test>", error => undef, retry => \$F };
}
if (\$job->{integrations}) {
	\$r{integrations} = [ map { \$_->{refused}
	    ? do { \$all = 0; { id => \$_->{id}, type => \$_->{type}, ok => \$F, error => "refused: \$_->{refused}", retry => \$F } }
	    : fails(\$_->{id})
	    ? { id => \$_->{id}, type => \$_->{type}, ok => \$F, error => 'HTTP 503', retry => \$T }
	    : { id => \$_->{id}, type => \$_->{type}, ok => \$T, error => undef, retry => \$F } } \@{ \$job->{integrations} } ];
}
print encode_json(\\\%r);
exit(\$all ? 0 : 75);
EOF
chmod 0755, $notifier;

# The jobs the stand-in was given: [time, raw text, decoded], oldest first.
sub jobs {
	my ($alert) = @_;
	return map { [/\/(\d+\.\d+)-/, $t->slurp($_), decode_json($t->slurp($_))] }
	    sort grep { !defined $alert || /-\Q$alert\E\.json$/ } glob "$dir/jobs/*.json";
}
sub jobs_of_user {
	my ($user) = @_;
	return grep { $_->[2]{event}{metadata}{userId} eq $user } jobs();
}
sub alert_of {
	my ($user, $event) = @_;
	return $t->sql_value("SELECT id FROM evalsched_alerts WHERE user_id = '$user'"
	    . ($event ? " AND event = '$event'" : '') . " ORDER BY created_at LIMIT 1");
}
sub state_of { $t->sql_value("SELECT state FROM evalsched_alerts WHERE id = '$_[0]'") }
sub ids { [map { $_->{id} } @{ $_[0] // [] }] }

# --- owners, their preferences, webhooks and integrations ---------------------

sub user_with {
	my (%o) = @_;
	my $u = $t->add_user;
	$t->sql("UPDATE auth.users SET email = " . Evalsched::Test::quote($o{email})
	    . " WHERE id = '$u'") if exists $o{email};
	prefs($u, %{ $o{prefs} }) if $o{prefs};
	return $u;
}
sub prefs {
	my ($u, %p) = @_;
	my @k = ('user_id', sort keys %p);
	$p{user_id} = $u;
	$t->sql(sprintf 'INSERT INTO user_alert_preferences (%s) VALUES (%s)', join(', ', @k),
	    join(', ', map { defined $p{$_} ? Evalsched::Test::quote($p{$_}) : 'NULL' } @k));
}
sub webhook {
	my ($u, %c) = @_;
	my $id = uuid();
	my %row = (name => 'hook', url => "https://hooks.example.test/$id", %c);
	my @k = sort keys %row;
	$t->sql(sprintf "INSERT INTO user_webhooks (id, user_id, %s) VALUES ('$id', '$u', %s)",
	    join(', ', @k), join(', ', map { defined $row{$_} ? Evalsched::Test::quote($row{$_})
	    : 'NULL' } @k));
	return $id;
}
sub integration {
	my ($u, $type, $creds, %c) = @_;
	my $id = uuid();
	$t->sql("INSERT INTO user_integrations (id, user_id, integration_type, credentials, config, "
	    . "enabled) VALUES ('$id', '$u', '$type', " . Evalsched::Test::quote(encode_json($creds))
	    . "::jsonb, '{\"log_job_failed\": true}', " . ($c{enabled} // 'true') . ")");
	return $id;
}
# An event another supervisor queued, in the application's words.
sub queue {
	my ($u, %o) = @_;
	return $t->sql_value("INSERT INTO evalsched_alerts (event, user_id, title, message, metadata) "
	    . "SELECT 'scheduled_eval_failed', '$u', m.title, m.message, m.metadata "
	    . "FROM evalsched_schedule_alert('scheduled_eval_failed', gen_random_uuid(), '$u', "
	    . "'queued', 'gpt-test', 'failed', NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
	    . "'HTTP 400', 1, NULL) m RETURNING id");
}

# --- the email decision, as the application's EmailChannel makes it ---------

{
	my %quiet = (quiet_hours_enabled => 'true', quiet_hours_start => 22, quiet_hours_end => 8);
	my $owner = 'owner@example.test';
	# [account address, preferences (undef: no row), at, event, address | skip, what]
	my @cases = (
		[$owner, undef, undef, undef, "$owner | -", 'no preferences: the defaults, the account\'s address'],
		[$owner, {}, undef, undef, "$owner | -", 'a row of defaults'],
		[$owner, { email_address => 'alerts@example.test' }, undef, undef, 'alerts@example.test | -',
		    'email_address wins over the account\'s'],
		[$owner, { email_address => '' }, undef, undef, "$owner | -", 'an empty one is none'],
		[$owner, { email_enabled => 'false' }, undef, undef, "$owner | Email disabled",
		    'email_enabled false'],
		[$owner, { email_enabled => undef }, undef, undef, "$owner | Email disabled",
		    'email_enabled NULL is off'],
		[$owner, { alert_scheduled_eval_failed => 'false' }, undef, undef,
		    "$owner | Alert type scheduled_eval_failed disabled", 'the type\'s toggle off'],
		[$owner, { alert_scheduled_eval_disabled => undef }, undef, 'scheduled_eval_disabled',
		    "$owner | Alert type scheduled_eval_disabled disabled", 'a NULL toggle is off'],
		[$owner, { alert_scheduled_eval_failed => 'false' }, undef, 'trace_latency_high',
		    "$owner | -", 'a metric alert has no toggle'],
		[$owner, { %quiet, timezone => 'America/New_York' }, '2025-01-15 03:30Z', undef,
		    "$owner | Quiet hours active", 'quiet hours over midnight, in their zone (22:30)'],
		[$owner, { %quiet, timezone => 'America/New_York' }, '2025-01-15 13:30Z', undef,
		    "$owner | -", 'and not at 08:30 there'],
		[$owner, { %quiet, timezone => 'America/New_York' }, '2025-07-15 02:30Z', undef,
		    "$owner | Quiet hours active", 'summer time: 22:30 again'],
		[$owner, { %quiet, quiet_hours_start => 9, quiet_hours_end => 17, timezone => 'Asia/Tokyo' },
		    '2025-01-15 00:30Z', undef, "$owner | Quiet hours active", 'a range within a day (09:30)'],
		[$owner, { %quiet, quiet_hours_start => 0, quiet_hours_end => 6, timezone => 'UTC' },
		    '2025-01-15 00:30Z', undef, "$owner | -",
		    'the hour after midnight is 24 to the application\'s Intl.DateTimeFormat: not in 0-6'],
		[$owner, { %quiet, quiet_hours_start => 0, quiet_hours_end => 6, timezone => 'UTC' },
		    '2025-01-15 01:30Z', undef, "$owner | Quiet hours active", 'but 01:30 is'],
		[$owner, { %quiet, quiet_hours_start => 3, quiet_hours_end => 4, timezone => 'Mars/Olympus' },
		    '2025-01-15 03:30Z', undef, "$owner | Quiet hours active",
		    'a zone nobody knows: UTC, as the application falls back'],
		[$owner, { %quiet, quiet_hours_start => 3, quiet_hours_end => 4, timezone => 'UTC+5' },
		    '2025-01-15 03:30Z', undef, "$owner | Quiet hours active",
		    'a POSIX zone JavaScript has no name for: UTC too'],
		[$owner, { %quiet, quiet_hours_start => 3, quiet_hours_end => 4, timezone => undef },
		    '2025-01-15 03:30Z', undef, "$owner | Quiet hours active", 'no zone: UTC'],
		[$owner, { %quiet, quiet_hours_enabled => undef }, '2025-01-15 23:30Z', undef,
		    "$owner | -", 'quiet_hours_enabled NULL is off'],
		[$owner, { email_enabled => 'false', %quiet }, '2025-01-15 23:30Z', undef,
		    "$owner | Email disabled", 'in the application\'s order'],
		[undef, undef, undef, undef, '- | No email address', 'no address at all'],
		['', undef, undef, undef, '- | No email address', 'an empty account address is none'],
		[undef, { email_enabled => 'false' }, undef, undef, '- | Email disabled',
		    'disabled before the address is looked at'],
		(map { [$owner, { email_address => $_ }, undef, undef, '- | Invalid email address',
		    'an address the mail transfer agent cannot take as one argument: ' . s/\n/\\n/r] }
		    'two words@example.test', 'a@b@example.test', 'a,b@example.test', '-oQ@example.test',
		    "x\@example.test\nBcc: y\@example.test"),
	);
	my ($sql, @query) = ('');
	for my $c (@cases) {
		my $u = uuid();
		$sql .= "INSERT INTO auth.users (id, email) VALUES ('$u', "
		    . (defined $c->[0] ? Evalsched::Test::quote($c->[0]) : 'NULL') . ");\n";
		if (my $p = $c->[1]) {
			my @k = ('user_id', sort keys %$p);
			my %v = (%$p, user_id => $u);
			$sql .= sprintf "INSERT INTO user_alert_preferences (%s) VALUES (%s);\n",
			    join(', ', @k), join(', ', map { defined $v{$_} ? Evalsched::Test::quote($v{$_})
			    : 'NULL' } @k);
		}
		push @query, sprintf "SELECT %d, coalesce(address, '-') || ' | ' || coalesce(skip, '-') "
		    . "FROM evalsched_alert_email('%s', '%s', '%s')", scalar @query, $u,
		    $c->[3] // 'scheduled_eval_failed', $c->[2] // '2025-01-15 12:30Z';
	}
	$t->sql($sql);
	my %got = map { @$_ } $t->sql(join(' UNION ALL ', @query));
	is($got{$_}, $cases[$_][4], "email: $cases[$_][5]") for 0 .. $#cases;
}

# --- the application's words, byte for byte -------------------------------------

{
	my ($s, $u) = (uuid(), uuid());
	# [event, errorMessage (SQL), consecutiveFailures, regressionPercent, status]
	my @calls = (
		['scheduled_eval_failed', "E'HTTP 500 \\n\\t\\u00a0'", 2],
		['scheduled_eval_failed', 'NULL', 2],
		['scheduled_eval_disabled', "'Auto-disabled after 4 consecutive failures'", 4, undef, 'auto_disabled'],
		['scheduled_eval_disabled', "'x'", 0],
		['scheduled_eval_regression', 'NULL', undef, 12.3, 'completed'],
		['scheduled_eval_regression', 'NULL', undef, 5],
		['scheduled_eval_regression', 'NULL', undef, 0],
		['scheduled_eval_failed', "'boom'", 1],
	);
	my %w = map { $_->[0] => [@$_[1 .. 3]] } $t->sql(join ' UNION ALL ', map { sprintf
	    "SELECT %d, title, message, metadata::text FROM evalsched_schedule_alert('%s', '$s', '$u', "
	    . "'nightly', 'gpt-x', '%s', NULL, NULL, NULL, NULL, NULL, NULL, %s, %s, %s, NULL)", $_,
	    $calls[$_][0], $calls[$_][4] // 'failed', $calls[$_][3] // 'NULL', $calls[$_][1],
	    $calls[$_][2] // 'NULL' } 0 .. $#calls);
	# titleMap and messageMap of sendScheduledEvaluationAlert, by hand.
	is($w{0}[0], 'Scheduled Evaluation Failed: nightly', 'failed: the title');
	is($w{0}[1], 'Your scheduled evaluation failed. HTTP 500', 'failed: the message, trimmed as trim() does');
	is($w{1}[1], 'Your scheduled evaluation failed.', 'failed without an error: "errorMessage || \'\'", trimmed');
	is($w{2}[0], 'Scheduled Evaluation Auto-Disabled: nightly', 'disabled: the title');
	is($w{2}[1], 'Your scheduled evaluation has been auto-disabled after 4 consecutive failures. '
	    . 'Please check the configuration and re-enable manually.', 'disabled: the message');
	like($w{3}[1], qr/ after 3 consecutive failures\. /, 'disabled: a count of 0 reads 3, as "|| 3" has it');
	is($w{4}[0], 'Regression Detected: nightly', 'regression: the title');
	is($w{4}[1], 'Performance regression detected: Quality score dropped 12.3%.', 'regression: the message');
	is($w{5}[1], 'Performance regression detected: Quality score dropped 5.0%.', 'regression: toFixed(1)');
	is($w{6}[1], 'Performance regression detected.', 'regression: a percent of 0 is left out');
	is_deeply([$w{7}[2] =~ /"(\w+)" :/g], [qw(scheduledEvaluationId userId scheduleName modelId
	    status errorMessage consecutiveFailures)], 'metadata: the data object\'s keys, absent ones left out');
}

# --- delivery: a supervisor with the stand-in notifier --------------------------

my $conf = $t->write_config(poll_interval => 2, notifier => $notifier, alert_retry => 10,
    max_consecutive_failures => 1, quality_settle => 1, sendmail => '/opt/mta/sendmail',
    mail_from => 'Evalsched Alerts <alerts@example.test>');
$t->start_supervisor(config => $conf);

# A: a refused dispatch, which also disables (after one failure here).
# Its owner has no preferences row (email on, to the account's address),
# a subscribed webhook that fails once, one whose toggle is NULL, one
# whose enabled is NULL; Teams that answers, PagerDuty that fails once,
# a disabled Telegram, a Linear the application cannot deliver to.
my $ua = user_with(email => 'owner-a@example.test');
my $wa = webhook($ua, name => 'a-fails-once', secret => 'whsec-a');
my $wnull = webhook($ua, name => 'a-null-toggle', alert_scheduled_eval_failed => undef,
    alert_scheduled_eval_disabled => undef);
my $woff = webhook($ua, name => 'a-null-enabled', enabled => undef);
my $teams = integration($ua, 'teams', { webhook_url => 'https://teams.example.test/secret-path' });
my $pd = integration($ua, 'pagerduty', { routing_key => 'pd-routing-secret' });
integration($ua, 'telegram', { bot_token => '123:tg-secret', chat_id => '42' }, enabled => 'false');
integration($ua, 'linear', { api_key => 'lin-secret' });
fail_first($wa => 1, $pd => 1);
my $sa = $t->add_schedule(name => 'refused nightly', user_id => $ua, model_id => 'standin:status=400');

# R: a regression (0.90, then 0.70), alerted.
my $ur = user_with();
webhook($ur, name => 'r');
my $sr = $t->add_schedule(name => 'quality watch', user_id => $ur, model_id => 'standin:quality=0.90',
    alert_on_regression => 'true', regression_threshold_percent => 10);

ok($t->wait_until(sub { alert_of($ua, 'scheduled_eval_disabled') && jobs_of_user($ua) >= 2 }, 30),
    'A: the failed and the disabled alerts went to the notifier') or diag $t->supervisor_log;
my $fa = alert_of($ua, 'scheduled_eval_failed');
my $da = alert_of($ua, 'scheduled_eval_disabled');
my ($j1) = jobs($fa);
my $job = $j1->[2];
is_deeply($job->{email}, { to => 'owner-a@example.test', from => 'Evalsched Alerts <alerts@example.test>',
    transport => { sendmail => '/opt/mta/sendmail' }, app_base_url => $t->api_url },
    'A: the email, to the account\'s address, through the configured sendmail, its links to app_url');
is_deeply(ids($job->{webhooks}), [$wa], 'A: the subscribed webhook only: NULL toggles and enabled are off');
is_deeply([map { [$_->{id}, $_->{type}, $_->{refused}] } @{ $job->{integrations} }],
    [[$teams, 'teams', undef], [$pd, 'pagerduty', undef]],
    'A: the enabled integrations the application delivers to');
is($job->{integrations}[0]{credentials}{webhook_url}, 'https://teams.example.test/secret-path',
    'A: with their credentials as stored');
is_deeply($job->{integrations}[1]{config}, { log_job_failed => JSON::PP::true }, 'and their config');
is_deeply($job->{integration_urls}, { telegram => 'https://api.telegram.org',
    pagerduty => 'https://events.pagerduty.com/v2/enqueue', notion => 'https://api.notion.com' },
    'A: the integrations\' API bases, the real ones by default');

# The application's words: computed here from its code.
my $err = 'HTTP 400 from the application: {"error": "stand-in error 400"}';
my $run = $t->sql_value("SELECT id FROM scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$sa'");
sub js { JSON::PP->new->allow_nonref->encode($_[0]) }
sub obj { my @kv = @_; '{' . join(',', map { js($kv[2 * $_]) . ':' . $kv[2 * $_ + 1] } 0 .. $#kv / 2) . '}' }
# The event as the job holds it (printed before the webhooks).
sub event_text { ($_[0][1] =~ /"event":(.*?),"webhooks":/)[0] // '' }
my $event_text = event_text($j1);
is($event_text, obj(type => js('scheduled_eval_failed'), title => js('Scheduled Evaluation Failed: refused nightly'),
    message => js("Your scheduled evaluation failed. $err"), timestamp => js($job->{event}{timestamp}),
    metadata => obj(scheduledEvaluationId => js($sa), userId => js($ua), scheduleName => js('refused nightly'),
	modelId => js('standin:status=400'), status => js('failed'), errorMessage => js($err),
	consecutiveFailures => 1, runId => js($run))),
    'A: the failed event, byte for byte: the application\'s title, message and data, then runId');
my ($d1) = jobs($da);
$event_text = event_text($d1);
is($event_text, obj(type => js('scheduled_eval_disabled'),
    title => js('Scheduled Evaluation Auto-Disabled: refused nightly'),
    message => js('Your scheduled evaluation has been auto-disabled after 1 consecutive failures. '
	. 'Please check the configuration and re-enable manually.'),
    timestamp => js($d1->[2]{event}{timestamp}),
    metadata => obj(scheduledEvaluationId => js($sa), userId => js($ua), scheduleName => js('refused nightly'),
	modelId => js('standin:status=400'), status => js('auto_disabled'),
	errorMessage => js('Auto-disabled after 1 consecutive failures'), consecutiveFailures => 1,
	runId => js($run), lastError => js($err))),
    'A: the disabled event, byte for byte, as the worker sends it, the last error after');

# The first attempt's rows: the failure is there at once.
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM alert_history WHERE webhook_id = '$wa' "
    . "AND alert_type = 'scheduled_eval_failed'") == 1 }, 5),
    'A: the failed delivery has its alert_history row at once');
is_deeply([$t->sql("SELECT webhook_sent, webhook_status_code, webhook_error, email_sent, "
    . "email_message_id, email_error, title FROM alert_history WHERE webhook_id = '$wa' "
    . "AND alert_type = 'scheduled_eval_failed'")],
    [['f', 500, 'HTTP 500', 't', "<$fa.1\@test>", undef, 'Scheduled Evaluation Failed: refused nightly']],
    'A: the webhook\'s failure, and the email\'s success on the same row, as the application writes it');
is_deeply([$t->sql("SELECT webhook_error FROM alert_history WHERE webhook_id = '$wnull' "
    . "ORDER BY alert_type")], [['Alert type scheduled_eval_disabled disabled'],
    ['Alert type scheduled_eval_failed disabled']],
    'A: the enabled webhook whose toggle is NULL gets the application\'s "disabled" row');
is($t->sql_value("SELECT count(*) FROM alert_history WHERE webhook_id = '$woff'"), 0,
    'A: the webhook whose enabled is NULL gets none');
# Each event's first attempt fails PagerDuty: one or two failures by now
# (read as one, before a retry's success may clear them).
my @integ;
ok($t->wait_until(sub {
	@integ = $t->sql("SELECT last_error, error_count > 0, last_sync_at IS NULL FROM user_integrations "
	    . "WHERE id IN ('$teams', '$pd') ORDER BY integration_type");
	$integ[0][1] eq 't' }, 5), 'A: PagerDuty\'s failure counted');
is_deeply(\@integ, [['HTTP 503', 't', 't'], [undef, 'f', 'f']],
    'A: PagerDuty\'s last_error and error_count; Teams\' last_sync_at');

# The retry, about 5 seconds later: only what failed.
ok($t->wait_until(sub { jobs($fa) >= 2 }, 15), 'A: the failed event tried again');
my ($j2) = (jobs($fa))[1];
my $gap = $j2->[0] - $j1->[0];
# At least the first pause; well before the 30 s of a periodic look,
# also on a busy machine.
ok($gap >= 4.5 && $gap < 20, sprintf 'A: after about 5 s (%.1f s), not 30', $gap);
is($j2->[2]{email}, undef, 'A: the email that went out is not sent again');
is_deeply(ids($j2->[2]{webhooks}), [$wa], 'A: the failed webhook is tried again');
is_deeply(ids($j2->[2]{integrations}), [$pd], 'A: the failed integration alone too');
ok($t->wait_until(sub { state_of($fa) eq 'delivered' && state_of($da) eq 'delivered' }, 15),
    'A: both events delivered') or diag $t->sql_value("SELECT json_agg(a) FROM evalsched_alerts a");
is_deeply([$t->sql("SELECT webhook_sent, webhook_status_code, webhook_error, webhook_sent_at "
    . "IS NOT NULL, email_sent FROM alert_history WHERE webhook_id = '$wa' ORDER BY alert_type")],
    [['t', 200, undef, 't', 't'], ['t', 200, undef, 't', 't']],
    'A: the retry\'s success updated the row of each delivery, none added');
is_deeply([$t->sql("SELECT last_error, error_count, last_sync_at IS NOT NULL FROM user_integrations "
    . "WHERE id = '$pd'")], [[undef, 0, 't']], 'A: PagerDuty\'s success clears its error, as recordSuccess does');
is($t->sql_value("SELECT count(*) FROM alert_history WHERE user_id = '$ua' AND webhook_id IS NULL"), 0,
    'A: no row of the email alone beside webhook rows');

# B: the email fails once, the webhook answers: the webhook is not called
# twice, and the email's later success reaches the webhook's row.
my $ub = user_with(email => 'owner-b@example.test');
my $wb = webhook($ub, name => 'b');
fail_first("email:owner-b\@example.test" => 1);
my $eb = queue($ub);
ok($t->wait_until(sub { state_of($eb) eq 'delivered' }, 20), 'B: delivered') or diag $t->supervisor_log;
my @jb = jobs($eb);
is(scalar @jb, 2, 'B: two attempts');
is_deeply([ids($jb[1][2]{webhooks}), $jb[1][2]{email}{to}], [[], 'owner-b@example.test'],
    'B: the second has the email alone');
is_deeply([$t->sql("SELECT webhook_sent, email_sent, email_message_id, email_error FROM alert_history "
    . "WHERE user_id = '$ub'")], [['t', 't', "<$eb.2\@test>", undef]],
    'B: one row, its email columns updated by the retry');

# C: no webhook: the row of the email alone, sent, or skipped in quiet
# hours (in a zone nobody knows, so UTC: a range around this hour).
my $h = (gmtime)[2];
my $uc = user_with(email => 'owner-c@example.test');
my $uq = user_with(email => 'owner-q@example.test', prefs => { quiet_hours_enabled => 'true',
    quiet_hours_start => ($h + 23) % 24, quiet_hours_end => ($h + 2) % 24, timezone => 'Nowhere/Atlantis' });
my $ud = user_with(email => 'owner-d@example.test', prefs => { alert_scheduled_eval_failed => 'false' });
my $big = user_with(prefs => { email_enabled => 'false' });
my $huge = integration($big, 'notion', { api_key => 'x' x 5000, database_id => 'db' });
my %ev = map { $_ => queue($_) } $uc, $uq, $ud, $big;
ok($t->wait_until(sub { !grep { state_of($_) eq 'pending' } values %ev }, 20),
    'C: four events ended') or diag $t->sql_value("SELECT json_agg(a) FROM evalsched_alerts a");
my $row = sub { [$t->sql("SELECT webhook_id, webhook_sent, email_sent, email_message_id IS NOT NULL, "
    . "email_error FROM alert_history WHERE user_id = '$_[0]'")] };
is_deeply($row->($uc), [[undef, 'f', 't', 't', undef]], 'C: sent: a row of the email alone');
is_deeply($row->($uq), [[undef, 'f', 'f', 'f', 'Quiet hours active']],
    'C: quiet hours: not sent, and the row says so');
is_deeply($row->($ud), [[undef, 'f', 'f', 'f', 'Alert type scheduled_eval_failed disabled']],
    'C: the type switched off: the row says so');
is(scalar(jobs($ev{$uq})) + scalar(jobs($ev{$ud})), 0, 'C: with nothing to send, no notifier at all');
is_deeply([map { $_->{refused} } @{ (jobs($ev{$big}))[0][2]{integrations} }],
    ['its credentials are larger than 4096 bytes'], 'C: an integration too large is handed over refused');
is_deeply([$t->sql("SELECT last_error, error_count FROM user_integrations WHERE id = '$huge'")],
    [['refused: its credentials are larger than 4096 bytes', 1]], 'C: and its failure recorded');
is(state_of($ev{$big}), 'failed', 'C: an event whose delivery was refused is failed');
is_deeply($row->($big), [[undef, 'f', 'f', 'f', 'Email disabled']],
    'C: its email was off: the row says so, integrations have none');

# R: the regression's alert, byte for byte.
ok($t->wait_until(sub { $t->count_runs($sr, "status = 'completed' AND evalsched_settle_at IS NULL") == 1 },
    20), 'R: the first run completed');
$t->sql("UPDATE scheduled_evaluations SET model_id = 'standin:quality=0.70', next_run_at = now() "
    . "WHERE id = '$sr'");
ok($t->wait_until(sub { alert_of($ur) && jobs(alert_of($ur)) }, 30), 'R: the regression alerted')
    or diag $t->supervisor_log;
my ($jr) = jobs(alert_of($ur));
my ($r1, $r2) = map { $_->[0] } $t->runs_of($sr, 'id');
$event_text = event_text($jr);
my ($comparison) = $event_text =~ /"regression":(\{.*\})\}\}$/;
is($event_text, obj(type => js('scheduled_eval_regression'), title => js('Regression Detected: quality watch'),
    message => js(sprintf 'Performance regression detected: Quality score dropped %.1f%%.', (0.9 - 0.7) / 0.9 * 100),
    timestamp => js($jr->[2]{event}{timestamp}),
    metadata => obj(scheduledEvaluationId => js($sr), userId => js($ur), scheduleName => js('quality watch'),
	modelId => js('standin:quality=0.70'), status => js('completed'), totalPrompts => 4, successfulPrompts => 4,
	failedPrompts => 0, avgLatency => 150, avgQualityScore => 0.7, regressionDetected => 'true',
	regressionPercent => 22.2, runId => js($r2), baselineRunId => js($r1), regression => $comparison // '')),
    'R: the regression event, byte for byte, the comparison after');
is(decode_json($comparison // '{}')->{avg_quality_score}{change_percent}, -22.22,
    'R: the comparison, as the run records it');
$t->stop_supervisor;

# --- a second supervisor, idle: NOTIFY brings it the event at once ------------

my $keyfile = "$dir/resend.key";
$t->spew($keyfile, "re_test_secret_key\n");
chmod 0600, $keyfile;
$t->start_supervisor(name => 'second', config => $t->write_config(poll_interval => 60,
    notifier => $notifier, resend_api_key_file => $keyfile, resend_api_url => 'http://127.0.0.1:9/emails',
    app_link_url => 'https://app.example.test/'));
$t->wait_log(qr/\bready\b/, 10, 'second');
sleep 1;	# its first look is behind it: the next without a NOTIFY is 30 s away
my $un = user_with(email => 'owner-n@example.test');
my $queued = time;
my $en = queue($un);
ok($t->wait_until(sub { jobs($en) }, 10), 'N: the event queued elsewhere was delivered');
my ($jn) = jobs($en);
# Well before the 30 s of its next look without one, on a busy machine
# too (a notifier under the sanitizers starts slowly then).
cmp_ok($jn->[0] - $queued, '<', 10, sprintf 'N: within %.1f s, through NOTIFY', $jn->[0] - $queued);
is_deeply($jn->[2]{email}{transport}, { resend => { url => 'http://127.0.0.1:9/emails',
    key => 're_test_secret_key' } }, 'N: with resend_api_key_file, the email goes through Resend');
is($jn->[2]{email}{app_base_url}, 'https://app.example.test', 'N: its links to app_link_url');
unlike($t->supervisor_log('second') . $t->supervisor_log, qr/re_test_secret_key|pd-routing-secret|tg-secret|secret-path/,
    'no secret in the logs');
is($t->stop_supervisor('second') >> 8, 0, 'clean exit');
done_testing;
