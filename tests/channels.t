#!/usr/bin/env perl
# evalsched-notifier's email and integrations, run by hand: the email
# through a fake sendmail (its argv, the headers, the RFC 2047 subject of
# a hostile name, the text and HTML byte for byte as the application's
# formatter writes them) and through a Resend stand-in; Teams, Telegram,
# PagerDuty and Notion through stand-ins on 127.0.0.1 (tests/channel-
# standin): the exact JSON each receives, the dedup key, which failures
# are tried again, and that no key, token or Teams URL ever shows in what
# the notifier prints.
#
# The expected texts are written here from the application's code
# (lib/alerts/formatters/email.formatter.ts, lib/integrations/
# integration.service.ts), not taken from the notifier.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use Encode qw(encode_utf8 decode_utf8);
use File::Temp qw(tempdir);
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use POSIX qw(_exit);
use Test::More;
use Time::HiRes qw(time sleep);
use Evalsched::Test qw(uuid);

my $BIN = Evalsched::Test::bin('evalsched-notifier');
plan skip_all => "no notifier at $BIN" unless -x $BIN;
delete @ENV{qw(http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy
    ALL_PROXY)};

my $TOP = Evalsched::Test::top();
my $dir = tempdir(CLEANUP => 1);
my $t = Evalsched::Test->new;
my $ALERT = uuid();
my $SCHEDULE = uuid();
my $RUNS = 0;
my $rand = sub { join '', map { ('a'..'z')[rand 26] } 1 .. $_[0] };
my $RESEND_KEY = 're_' . $rand->(24);
my $TG_TOKEN = '123456:' . $rand->(30);
my $PD_KEY = 'R' . $rand->(31);
my $NOTION_KEY = 'secret_' . $rand->(30);
my $TEAMS_SECRET = 'IncomingWebhook/' . $rand->(24);
my @SECRETS = ($RESEND_KEY, $TG_TOKEN, $PD_KEY, $NOTION_KEY, $TEAMS_SECRET);

sub slurp {
	my ($path) = @_;
	open my $fh, '<:raw', $path or return undef;
	local $/;
	return scalar <$fh>;
}

sub spew {
	my ($path, $text, $mode) = @_;
	open my $fh, '>:raw', $path or die "$path: $!";
	print $fh $text;
	close $fh;
	chmod $mode, $path if defined $mode;
}

# --- the stand-ins -----------------------------------------------------------

# The schema as text: its order is what the page follows.
spew("$dir/schema.json", '{"object":"database","properties":{'
    . '"Name":{"type":"title"},"Status":{"type":"select"},'
    . '"Type":{"type":"select"},"Job ID":{"type":"rich_text"},'
    . '"Error":{"type":"rich_text"},"Model":{"type":"rich_text"},'
    . '"Loss":{"type":"number"},"Notes":{"type":"rich_text"}}}');

my $spid = fork // die "fork: $!";
if ($spid == 0) {
	open STDIN, '<', '/dev/null';
	open STDOUT, '>', "$dir/standin.out";
	open STDERR, '>&', \*STDOUT;
	exec "$TOP/tests/channel-standin", '--port-file', "$dir/standin.port",
	    '--log', "$dir/standin.log", '--notion-schema', "$dir/schema.json"
	    or _exit(127);
}
END { if ($spid) { kill 'TERM', $spid; waitpid $spid, 0 } }
{
	my $t0 = time;
	sleep 0.05 until -s "$dir/standin.port" || time - $t0 > 15;
}
my $port = slurp("$dir/standin.port") // BAIL_OUT('no stand-in');
chomp $port;
my $API = "http://127.0.0.1:$port";

# The requests the stand-ins got since the log was last read.
my $LOG_OFF = 0;
sub requests {
	my $log = slurp("$dir/standin.log") // '';
	my @r = map { decode_json($_) } split /\n/, substr($log, $LOG_OFF);
	$LOG_OFF = length $log;
	$_->{body} = encode_utf8($_->{body}) for @r;
	return @r;
}

# A fake sendmail: its argv (one per line) and stdin, and an exit status.
sub fake_sendmail {
	my ($name, $body) = @_;
	spew("$dir/$name", "#!/bin/sh\nfor a in \"\$@\"; do printf '%s\\n' "
	    . "\"\$a\"; done > '$dir/$name.argv'\ncat > '$dir/$name.stdin'\n"
	    . ($body // "exit 0\n"), 0755);
	return "$dir/$name";
}

# --- the alert ---------------------------------------------------------------

my $BASE = 'https://app.example.com';
# A name with a line break, a header of its own and non-ASCII text.
my $NAME = "nightly\r\nBcc: evil\@example.com \x{e9}t\x{e9} <b>";
my $TITLE = "Scheduled Evaluation Failed: $NAME";
my $ERROR = "HTTP 400: <bad> & \"quoted\" 'x'";
my $MESSAGE = "Your scheduled evaluation failed. $ERROR";
my %META = (scheduledEvaluationId => $SCHEDULE, userId => uuid(),
    scheduleName => $NAME, modelId => 'gpt-4o', status => 'failed',
    totalPrompts => 10, successfulPrompts => 7, failedPrompts => 3,
    errorMessage => $ERROR, consecutiveFailures => 2);
my $FROM = 'evalsched <evalsched@host.example>';
my $TO = 'owner@example.com';

sub alert_doc {
	my (%o) = @_;
	my %doc = (alert_id => $ALERT, timeout_ms => $o{timeout_ms} // 5000,
	    event => { type => 'scheduled_eval_failed', title => $TITLE,
	    message => $MESSAGE, timestamp => '2026-11-30T16:00:00.000Z',
	    metadata => \%META },
	    integration_urls => { telegram => "$API/tg",
	    pagerduty => "$API/pd/" . ($o{pd} // 'ok'),
	    notion => "$API/notion/" });
	$doc{webhook_allow} = ['127.0.0.1/32'] unless $o{no_allow};
	$doc{email} = $o{email} if $o{email};
	$doc{integrations} = $o{integrations} if $o{integrations};
	# JSON::PP keeps the metadata's order only canonically; the
	# formatter reads members by name, so any order is the same.
	return JSON::PP->new->utf8->canonical->encode(\%doc);
}

sub run_alert {
	my (%o) = @_;
	my $in = "$dir/in" . ++$RUNS . '.json';
	spew($in, alert_doc(%o));
	my $r = $t->run_program([$BIN], stdin => $in,
	    env => { LANG => 'C.UTF-8', TZ => 'UTC' });
	$r->{result} = eval { decode_json($r->{out}) };
	return $r;
}

# What no run may ever do.
sub clean {
	my ($r, $what) = @_;
	for my $s (@SECRETS) {
		unlike($r->{err}, qr/\Q$s\E/, "$what: no secret in stderr");
		unlike($r->{out}, qr/\Q$s\E/, "$what: no secret in stdout");
	}
	unlike($r->{err}, qr/Sanitizer|runtime error/, "$what: no sanitizer report");
	ok(ref $r->{result} eq 'HASH', "$what: a result") or diag
	    "stdout: $r->{out}\nstderr: $r->{err}";
}

# --- the application's texts, from its code ----------------------------------

# escapeHtml
sub esc {
	my ($s) = @_;
	$s =~ s/&/&amp;/g;
	$s =~ s/</&lt;/g;
	$s =~ s/>/&gt;/g;
	$s =~ s/"/&quot;/g;
	$s =~ s/'/&#039;/g;
	return $s;
}

# JSON.stringify of a string: only ", \ and control characters escaped.
sub js {
	my ($s) = @_;
	my %e = ("\"" => '\\"', "\\" => '\\\\', "\n" => '\\n', "\r" => '\\r',
	    "\t" => '\\t', "\b" => '\\b', "\f" => '\\f');
	$s =~ s/(["\\\x00-\x1f])/$e{$1} \/\/ sprintf('\\u%04x', ord $1)/ge;
	return "\"$s\"";
}

my $COLOR = '#e74c3c';		# STATUS_COLOR.scheduled_eval_failed
my $ICON = "\x{274c}";		# STATUS_ICON.scheduled_eval_failed
my $LINK = "$BASE/testing?tab=scheduled&evalId=$SCHEDULE";

sub row {
	my ($label, $value) = @_;
	return "\n            <tr>\n              <td style=\"padding: 8px 12px; "
	    . "border-bottom: 1px solid #eee; color: #666; width: 140px;\">$label"
	    . "</td>\n              <td style=\"padding: 8px 12px; border-bottom: "
	    . "1px solid #eee; color: #333; font-weight: 500;\">$value</td>\n"
	    . "            </tr>\n          ";
}

my $METRICS = "\n        <table role=\"presentation\" style=\"width: 100%; "
    . "border-collapse: collapse; margin: 20px 0;\">\n          "
    . row('Schedule', esc($NAME)) . row('Model', 'gpt-4o')
    . row('Total Prompts', 10) . row('Successful', 7) . row('Failed', 3)
    . row('Success Rate', '70%') . row('Consecutive Failures', 2)
    . "\n        </table>\n      ";
my $ERRHTML = "\n        <div style=\"background: #fdf2f2; border: 1px solid "
    . "#f5c6cb; border-radius: 4px; padding: 12px; margin: 20px 0; "
    . "font-family: monospace; font-size: 12px; white-space: pre-wrap; "
    . "word-break: break-all; color: #721c24;\">\n          "
    . "<strong>Error:</strong><br>" . esc($ERROR) . "\n        </div>\n      ";
my $BUTTON = "\n        <div style=\"text-align: center; margin: 30px 0;\">\n"
    . "          <a href=\"$LINK\" style=\"display: inline-block; background: "
    . "$COLOR; color: white; padding: 12px 24px; text-decoration: none; "
    . "border-radius: 4px; font-weight: 500;\">View Scheduled Evaluation</a>\n"
    . "        </div>\n      ";
my $P = "<p style=\"color: #333; font-size: 16px; line-height: 1.5; margin: "
    . "0 0 20px 0;\">" . esc($MESSAGE) . "</p>";
my $T = esc($TITLE);
my $HTML = <<"EOT";
<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
</head>
<body style="margin: 0; padding: 0; font-family: -apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; background: #f5f5f5;">
  <table role="presentation" style="width: 100%; background: #f5f5f5; padding: 20px 0;">
    <tr>
      <td align="center">
        <table role="presentation" style="width: 100%; max-width: 600px; background: white; border-radius: 8px; overflow: hidden; box-shadow: 0 2px 4px rgba(0,0,0,0.1);">
          <!-- Header -->
          <tr>
            <td style="background: $COLOR; padding: 24px; text-align: center;">
              <h1 style="margin: 0; color: white; font-size: 24px; font-weight: 600;">$ICON $T</h1>
            </td>
          </tr>
          <!-- Body -->
          <tr>
            <td style="padding: 24px;">
              $P
              $METRICS
              $ERRHTML
              $BUTTON
            </td>
          </tr>
          <!-- Footer -->
          <tr>
            <td style="background: #f9f9f9; padding: 16px 24px; text-align: center; border-top: 1px solid #eee;">
              <p style="margin: 0; color: #999; font-size: 12px;">
                Sent from FineTuneLab
                <br>
                <a href="$BASE/settings/alerts" style="color: #666;">Manage alert preferences</a>
              </p>
            </td>
          </tr>
        </table>
      </td>
    </tr>
  </table>
</body>
</html>
EOT
chomp $HTML;	# .trim()
my $TEXT = join "\n", $TITLE, '', $MESSAGE, "Schedule: $NAME",
    'Model: gpt-4o', 'Total Prompts: 10', 'Successful: 7', 'Failed: 3',
    'Success Rate: 70%', 'Consecutive Failures: 2', "\nError:\n$ERROR",
    "\nView details: $LINK";
my $SUBJECT = "$ICON $TITLE";

# --- email through sendmail --------------------------------------------------

{
	my $sm = fake_sendmail('sendmail');
	my $r = run_alert(email => { to => $TO, from => $FROM,
	    app_base_url => $BASE, transport => { sendmail => $sm } });
	is($r->{status}, 0, 'sendmail: exit 0') or diag $r->{err};
	clean($r, 'sendmail');
	my $e = $r->{result}{email} // {};
	ok($e->{ok} && !$e->{retry} && !defined $e->{error},
	    'sendmail: delivered');
	is($e->{message_id}, "<$ALERT\@host.example>",
	    'sendmail: the Message-ID, the alert\'s id at mail_from\'s domain');
	is(slurp("$dir/sendmail.argv"), "-i\n--\n$TO\n",
	    'argv: -i -- ADDRESS, the one address as an argument, no -t');

	my $msg = slurp("$dir/sendmail.stdin") // '';
	my ($head, $body) = split /\n\n/, $msg, 2;
	$head //= '';
	unlike($head, qr/\r/, 'the headers hold no CR');
	ok(!grep({ length > 78 } split /\n/, $head), 'no header line over 78');
	unlike($head, qr/^Bcc:/mi, 'the name added no Bcc: header');
	ok($head !~ /[^\x00-\x7f]/, 'the headers are ASCII');
	my %h;
	my $unfolded = $head =~ s/\n[ \t]/ /gr;
	for (split /\n/, $unfolded) {
		/^([^:]+): (.*)$/ and $h{lc $1} = $2;
	}
	is_deeply([ sort keys %h ], [ qw(content-type date from message-id
	    mime-version subject to) ], 'these headers, no other');
	is($h{from}, $FROM, 'From: mail_from');
	is($h{to}, $TO, 'To: the address');
	like($h{date}, qr/^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000$/,
	    'Date: RFC 5322');
	is($h{'message-id'}, "<$ALERT\@host.example>", 'Message-ID');
	my @words = split / /, $h{subject} // '';
	ok(@words > 1 && !grep({ !/^=\?UTF-8\?B\?[A-Za-z0-9+\/=]+\?=$/ } @words),
	    'Subject: RFC 2047 encoded words, nothing else');
	my $subject = decode_utf8(join '', map { decode_base64(
	    (/^=\?UTF-8\?B\?(.*)\?=$/)[0]) } @words);
	(my $one = $SUBJECT) =~ s/[\r\n]/ /g;
	is($subject, $one, 'Subject: the application\'s, on one line');
	my ($boundary) = ($h{'content-type'} // '') =~
	    m{^multipart/alternative; boundary="([^"]+)"$};
	ok(defined $boundary, 'multipart/alternative');
	my @parts = split /^--\Q$boundary\E(?:--)?\n/m, $body // '';
	shift @parts;
	is(scalar @parts, 2, 'two parts');
	my %part;
	for (@parts) {
		my ($ph, $pb) = split /\n\n/, $_, 2;
		my ($type) = $ph =~ m{^Content-Type: (text/\w+); charset=utf-8$}m;
		like($ph, qr/^Content-Transfer-Encoding: base64$/m,
		    "$type: base64");
		$part{$type} = decode_base64($pb);
	}
	is($part{'text/plain'}, encode_utf8($TEXT),
	    'the text, byte for byte the application\'s');
	is($part{'text/html'}, encode_utf8($HTML),
	    'the HTML, byte for byte the application\'s');
}

# --- sendmail failing, hanging, missing --------------------------------------

{
	my $sm = fake_sendmail('tempfail', "echo 'sendmail: queue full' >&2\nexit 75\n");
	my $r = run_alert(email => { to => $TO, from => $FROM,
	    transport => { sendmail => $sm } });
	is($r->{status}, 75, 'sendmail exits 75: the notifier exits 75');
	clean($r, 'tempfail');
	is_deeply($r->{result}{email}, { ok => JSON::PP::false,
	    message_id => undef, retry => JSON::PP::true,
	    error => 'sendmail exited 75: sendmail: queue full' },
	    'sendmail exits 75: failed, to be tried again, with its last word');

	$sm = fake_sendmail('hang', "sleep 30\n");
	$r = run_alert(email => { to => $TO, from => $FROM,
	    transport => { sendmail => $sm } }, timeout_ms => 500);
	is($r->{status}, 75, 'a hanging sendmail: exit 75');
	like($r->{result}{email}{error} // '', qr/^sendmail timed out after 0\.5 s/,
	    'a hanging sendmail: killed at the timeout');
	ok($r->{result}{email}{retry}, 'and tried again');
	ok($r->{secs} < 10, 'the timeout is kept');

	$r = run_alert(email => { to => '-t@example.com', from => $FROM,
	    transport => { sendmail => $sm } });
	is($r->{result}{email}{error}, 'bad address',
	    'an address that would be an option is refused');
	ok(!$r->{result}{email}{retry}, 'and not tried again');
}

# --- email through Resend ----------------------------------------------------

{
	requests();
	my $r = run_alert(email => { to => $TO, from => $FROM,
	    app_base_url => $BASE, transport => { resend => {
	    url => "$API/resend/ok", key => $RESEND_KEY } } });
	is($r->{status}, 0, 'resend: exit 0') or diag $r->{err};
	clean($r, 'resend');
	is_deeply($r->{result}{email}, { ok => JSON::PP::true,
	    message_id => 're_standin', error => undef,
	    retry => JSON::PP::false }, 'resend: delivered, its id');
	my ($q) = requests();
	is($q->{headers}{authorization}, "Bearer $RESEND_KEY",
	    'resend: Authorization: Bearer KEY');
	is($q->{headers}{'content-type'}, 'application/json',
	    'resend: Content-Type');
	is($q->{body}, encode_utf8('{"from":' . js($FROM) . ',"to":['
	    . js($TO) . '],"subject":' . js($SUBJECT) . ',"html":' . js($HTML)
	    . ',"text":' . js($TEXT) . '}'),
	    'resend: the provider\'s JSON, byte for byte');

	$r = run_alert(email => { to => $TO, from => $FROM, transport => {
	    resend => { url => "$API/resend/fail", key => $RESEND_KEY } } });
	is($r->{status}, 75, 'resend 500: exit 75');
	is_deeply([ @{ $r->{result}{email} }{qw(error retry)} ],
	    [ 'Resend API error: 500 - internal', JSON::PP::true ],
	    'resend 500: the application\'s words, tried again');
	$r = run_alert(email => { to => $TO, from => $FROM, transport => {
	    resend => { url => "$API/resend/bad", key => $RESEND_KEY } } });
	is_deeply([ @{ $r->{result}{email} }{qw(error retry)} ],
	    [ 'Resend API error: 422 - Invalid `to` field', JSON::PP::false ],
	    'resend 422: not tried again');
	clean($r, 'resend 422');
	requests();
	$r = run_alert(no_allow => 1, email => { to => $TO, from => $FROM,
	    transport => { resend => { url => "$API/resend/ok",
	    key => $RESEND_KEY } } });
	is($r->{result}{email}{error},
	    'Failed to send email: refused: destination not allowed',
	    'resend: the destination policy holds');
	is(scalar(requests()), 0, 'and nothing reached the stand-in');
}

# --- the integrations --------------------------------------------------------

sub integration {
	my ($type, $creds) = @_;
	return { id => uuid(), type => $type, credentials => $creds,
	    config => { log_job_failed => JSON::PP::false } };
}

my $JT = js($TITLE);
my $JE = js($ERROR);
# buildEvent: a schedule's alert has no jobId and no modelName.
my %WANT = (
	teams => '{"@type":"MessageCard","@context":"http://schema.org/'
	    . 'extensions","themeColor":"808080","summary":' . $JT
	    . ',"sections":[{"activityTitle":' . $JT . ',"activitySubtitle":'
	    . '"Training Job scheduled_eval_failed","facts":[{"name":"Job ID",'
	    . '"value":"unknown"},{"name":"Status","value":"failed"},{"name":'
	    . '"Error","value":' . $JE . '}],"markdown":true}]}',
	telegram => '{"chat_id":"-100123","text":' . js("\x{1f4e2} *$TITLE*\n\n"
	    . "Job ID: `unknown`\nStatus: failed\n\nError: $ERROR")
	    . ',"parse_mode":"Markdown"}',
	pagerduty => '{"routing_key":"' . $PD_KEY . '","event_action":"trigger",'
	    . '"dedup_key":"finetune-lab-' . $ALERT . '-scheduled_eval_failed",'
	    . '"payload":{"summary":' . $JT . ',"severity":"info","source":'
	    . '"FineTune Lab","custom_details":{"job_id":"unknown","status":'
	    . '"failed","error_message":' . $JE . '}}}',
	notion => '{"parent":{"database_id":"0123abcd-ef"},"properties":{'
	    . '"Name":{"title":[{"text":{"content":' . $JT . '}}]},'
	    . '"Type":{"select":{"name":"scheduled_eval_failed"}},'
	    . '"Status":{"select":{"name":"failed"}},'
	    . '"Job ID":{"rich_text":[{"text":{"content":"unknown"}}]},'
	    . '"Model":{"rich_text":[{"text":{"content":""}}]},'
	    . '"Error":{"rich_text":[{"text":{"content":' . $JE . '}}]}}}',
);

{
	requests();
	my @ig = (integration('teams', { webhook_url =>
	    "$API/teams/$TEAMS_SECRET" }),
	    integration('telegram', { bot_token => $TG_TOKEN,
	    chat_id => '-100123' }),
	    integration('pagerduty', { routing_key => $PD_KEY }),
	    integration('notion', { api_key => $NOTION_KEY,
	    database_id => '0123abcd-ef' }));
	my $r = run_alert(integrations => \@ig);
	is($r->{status}, 0, 'four integrations: exit 0') or diag $r->{err};
	clean($r, 'integrations');
	is_deeply($r->{result}{integrations}, [ map { { id => $_->{id},
	    type => $_->{type}, ok => JSON::PP::true, error => undef,
	    retry => JSON::PP::false } } @ig ],
	    'all delivered, in order; config toggles name no type of ours');
	my %got;
	for my $q (requests()) {
		my $k = $q->{path} =~ m{^/(\w+)/} ? $1 : '?';
		push @{ $got{$k} }, $q;
	}
	my %path = (teams => 'teams', telegram => 'tg', pagerduty => 'pd',
	    notion => 'notion');
	for my $type (qw(teams telegram pagerduty)) {
		my $q = $got{ $path{$type} }[0] // {};
		is($q->{body}, encode_utf8($WANT{$type}),
		    "$type: the application's JSON, byte for byte");
		is($q->{headers}{'content-type'}, 'application/json',
		    "$type: Content-Type");
	}
	is($got{tg}[0]{path}, "/tg/bot$TG_TOKEN/sendMessage",
	    'telegram: BASE/bot<token>/sendMessage');
	is($got{pd}[0]{path}, '/pd/ok', 'pagerduty: the configured URL');
	my @n = @{ $got{notion} // [] };
	is_deeply([ map { "$_->{method} $_->{path}" } @n ],
	    [ 'GET /notion/v1/databases/0123abcd-ef', 'POST /notion/v1/pages' ],
	    'notion: the schema, then the page');
	is_deeply([ map { [ @{ $_->{headers} }{qw(authorization notion-version)} ] } @n ],
	    [ ([ "Bearer $NOTION_KEY", '2022-06-28' ]) x 2 ],
	    'notion: the key and the version, both times');
	is($n[1]{body}, encode_utf8($WANT{notion}),
	    'notion: the page sets what the database has, byte for byte');
	like($r->{err}, qr/integration \Q$ig[0]{id}\E \(teams, \Q$API\E\): delivered/,
	    'the log names Teams by scheme://host:port');
	unlike($r->{err}, qr/sendMessage|\/bot/, 'no Telegram URL in the log');
}

# --- failures: tried again or not --------------------------------------------

{
	my @ig = (integration('teams', { webhook_url =>
	    "$API/teams/fail-$TEAMS_SECRET" }),
	    integration('telegram', { bot_token => "$TG_TOKEN-bad",
	    chat_id => 42 }),
	    integration('telegram', { bot_token => "$TG_TOKEN-fail",
	    chat_id => 42 }),
	    integration('notion', { api_key => $NOTION_KEY,
	    database_id => 'dead' }),
	    integration('linear', { api_key => 'x' }),
	    integration('telegram', { bot_token => '../../x?y', chat_id => 1 }),
	    { %{ integration('teams', {}) }, refused => 'too large' });
	my $r = run_alert(integrations => \@ig, pd => 'bad');
	is($r->{status}, 75, 'failing integrations: exit 75');
	clean($r, 'failures');
	my @got = map { [ $_->{error}, $_->{retry} ? 'retry' : 'no retry' ] }
	    @{ $r->{result}{integrations} // [] };
	is_deeply(\@got, [
	    [ 'HTTP 500', 'retry' ],
	    [ 'HTTP 400: Bad Request: chat not found', 'no retry' ],
	    [ 'HTTP 502', 'retry' ],
	    [ 'database: HTTP 404: Could not find database', 'no retry' ],
	    [ 'not supported: evalsched delivers to teams, telegram, '
	      . 'pagerduty and notion', 'no retry' ],
	    [ 'bad credentials: bot_token is not a bot\'s token', 'no retry' ],
	    [ 'too large', 'no retry' ],
	], 'a 5xx is tried again, a 4xx, an unknown type, bad credentials '
	    . 'and a refusal are not');
	is($r->{result}{integrations}[1]{id}, $ig[1]{id}, 'by id');

	my $pd = integration('pagerduty', { routing_key => $PD_KEY });
	$r = run_alert(integrations => [ $pd ], pd => 'bad');
	is_deeply([ @{ $r->{result}{integrations}[0] }{qw(error retry)} ],
	    [ 'HTTP 400: Event object is invalid', JSON::PP::false ],
	    'pagerduty 400: not tried again');
	$r = run_alert(integrations => [ $pd ], pd => 'fail');
	ok($r->{result}{integrations}[0]{retry}, 'pagerduty 500: tried again');
	requests();
	$r = run_alert(integrations => [ $pd, $pd ], pd => 'fail');
	my @keys = map { decode_json($_->{body})->{dedup_key} } requests();
	is_deeply(\@keys, [ ("finetune-lab-$ALERT-scheduled_eval_failed") x 2 ],
	    'the same dedup key every time: a retry does not page twice');

	requests();
	$r = run_alert(no_allow => 1, integrations => [ integration('teams',
	    { webhook_url => "$API/teams/$TEAMS_SECRET" }), $pd ]);
	is_deeply([ map { $_->{error} } @{ $r->{result}{integrations} } ],
	    [ ('refused: destination not allowed') x 2 ],
	    'without webhook_allow, 127.0.0.1 is refused for each');
	is(scalar(requests()), 0, 'and nothing reached the stand-ins');
	clean($r, 'refused');
}

# --- the document ------------------------------------------------------------

{
	my $r = run_alert(integrations => [ map { integration('teams',
	    { webhook_url => "$API/teams/x" }) } 1 .. 17 ]);
	is($r->{status}, 65, 'more than 16 integrations: a bad document');
	like($r->{result}{error} // '', qr/more than 16 integrations/, 'says so');
	$r = run_alert(email => { to => $TO, from => $FROM,
	    transport => { smtp => 'x' } });
	is($r->{status}, 65, 'an unknown transport: a bad document');
}

done_testing;
