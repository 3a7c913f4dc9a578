#!/usr/bin/env perl
# evalsched-notifier run by hand against tests/webhook-receiver: the
# generic body byte for byte and its signature, the Slack message, a
# failing and a slow webhook, the alert command (its stdin, its
# environment, its failures, its timeout), the result document and exit
# status, and that no secret shows in what it prints.
#
# The binary: Evalsched::Test::bin, the installed layout under
# $EVALSCHED_ROOT$EVALSCHED_PREFIX (as `make check` runs it) or build/.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha256_hex);
use Encode qw(encode_utf8);
use MIME::Base64 ();
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX qw(_exit);
use Test::More;
use Time::HiRes qw(time sleep);
use Evalsched::Test qw(uuid);

my $BIN = Evalsched::Test::bin('evalsched-notifier');
plan skip_all => "no notifier at $BIN" unless -x $BIN;

# The calls go to 127.0.0.1: no proxy may come between.
delete @ENV{qw(http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy
    ALL_PROXY)};

my $TOP = Evalsched::Test::top();
my $dir = tempdir(CLEANUP => 1);
my $t = Evalsched::Test->new;	# runs the program under test
my $ALERT = uuid();
my $SECRET = 'whsec-' . join('', map { ('a'..'z')[rand 26] } 1 .. 24);
my $SLACK_PATH = 'slack/T0' . join('', map { ('A'..'Z')[rand 26] } 1 .. 10)
    . '/B0SECRETPATH/' . join('', map { ('a'..'z')[rand 26] } 1 .. 24);
my $CANARY = 'canary-' . join('', map { ('a'..'z')[rand 26] } 1 .. 16);
my $RUNS = 0;

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

# --- the receiver ------------------------------------------------------------

my $rpid = fork // die "fork: $!";
if ($rpid == 0) {
	open STDIN, '<', '/dev/null';
	open STDOUT, '>', "$dir/receiver.out";
	open STDERR, '>&', \*STDOUT;
	exec "$TOP/tests/webhook-receiver", '--port-file', "$dir/receiver.port",
	    '--log', "$dir/receiver.log" or _exit(127);
}
END { if ($rpid) { kill 'TERM', $rpid; waitpid $rpid, 0 } }
{
	my $t0 = time;
	sleep 0.05 until -s "$dir/receiver.port" || time - $t0 > 15;
}
my $port = slurp("$dir/receiver.port") // BAIL_OUT('no webhook receiver');
chomp $port;
my $HOOKS = "http://127.0.0.1:$port/hook";

# The requests the receiver got for one name, oldest first.
sub received {
	my ($name) = @_;
	my @r;
	for (split /\n/, slurp("$dir/receiver.log") // '') {
		my $e = eval { decode_json($_) } or next;
		push @r, $e if $e->{name} eq $name;
	}
	return @r;
}

# --- running the notifier ----------------------------------------------------

# Runs it with $stdin (bytes); returns exit status, result, stderr, time.
sub run_raw {
	my ($stdin, @args) = @_;
	my $in = "$dir/in" . ++$RUNS . ".json";
	spew($in, $stdin);
	my $r = $t->run_program([$BIN, @args], stdin => $in, env => {
	    EVALSCHED_CANARY => $CANARY, LANG => 'C.UTF-8', TZ => 'Europe/Berlin' });
	return { %$r, stderr => $r->{err}, result => scalar(eval { decode_json($r->{out}) }) };
}

# The event, as text: its key order is part of what is checked.
my $EVENT = '{"type":"scheduled_eval_failed",'
    . '"title":"Scheduled evaluation \"nightly/eu\" failed",'
    . '"message":"The application answered 400: \u00e9t\u00e9 \u2192 '
    . 'line\nbreak\ttab\u0001 </x>",'
    . '"timestamp":"2026-11-30T16:00:00.000Z",'
    . '"metadata":{"scheduledEvaluationId":"aaaaaaaa-bbbb-4ccc-8ddd-'
    . 'eeeeeeeeeeee","userId":"99999999-8888-4777-8666-555555555555",'
    . '"scheduleName":"nightly/eu","modelId":"gpt-4o","status":"failed",'
    . '"totalPrompts":null,"successfulPrompts":null,"failedPrompts":null,'
    . '"errorMessage":"HTTP 400: {\"error\":\"bad suite\"}",'
    . '"consecutiveFailures":2,"score":0.50,"whole":3.0}}';

# JSON.stringify({type, title, message, timestamp, metadata}) of it,
# as Node.js writes it (UTF-8 bytes).
my $BODY = '{"type":"scheduled_eval_failed",'
    . '"title":"Scheduled evaluation \"nightly/eu\" failed",'
    . "\"message\":\"The application answered 400: \xc3\xa9t\xc3\xa9 "
    . "\xe2\x86\x92 line\\nbreak\\ttab\\u0001 </x>\","
    . '"timestamp":"2026-11-30T16:00:00.000Z",'
    . '"metadata":{"scheduledEvaluationId":"aaaaaaaa-bbbb-4ccc-8ddd-'
    . 'eeeeeeeeeeee","userId":"99999999-8888-4777-8666-555555555555",'
    . '"scheduleName":"nightly/eu","modelId":"gpt-4o","status":"failed",'
    . '"totalPrompts":null,"successfulPrompts":null,"failedPrompts":null,'
    . '"errorMessage":"HTTP 400: {\"error\":\"bad suite\"}",'
    . '"consecutiveFailures":2,"score":0.5,"whole":3}}';

sub hook {
	my ($name, $type, $secret) = @_;
	return { id => uuid(), url => "$HOOKS/$name", type => $type,
	    secret => $secret };
}

sub alert_doc {
	my (%o) = @_;
	my $rest = JSON::PP->new->canonical->encode({
		webhooks => $o{webhooks} // [],
		command => $o{command},
		timeout_ms => $o{timeout_ms} // 5000,
		tls_ca_file => '',
	});
	$rest =~ s/^\{//;
	return "{\"alert_id\":\"$ALERT\",\"event\":$EVENT,$rest";
}

sub run_alert {
	return run_raw(alert_doc(@_));
}

# What no run may ever do, whatever its outcome.
sub clean {
	my ($r, $what) = @_;
	for my $s ($SECRET, $SLACK_PATH, 'B0SECRETPATH') {
		unlike($r->{stderr}, qr/\Q$s\E/, "$what: no secret in stderr");
		unlike($r->{out}, qr/\Q$s\E/, "$what: no secret in stdout");
	}
	unlike($r->{stderr}, qr/Sanitizer|runtime error/,
	    "$what: no sanitizer report");
	ok(ref $r->{result} eq 'HASH', "$what: one result JSON on stdout")
	    or diag "stdout: $r->{out}\nstderr: $r->{stderr}";
	is(scalar(() = $r->{out} =~ /\n/g), 1, "$what: exactly one line");
	is($r->{result}{alert_id}, $ALERT, "$what: alert_id");
}

# --- command line ------------------------------------------------------------

{
	my $r = run_raw('', '-V');
	is($r->{status}, 0, '-V exits 0');
	like($r->{out}, qr/^evalsched-notifier \d+\.\d+/, '-V prints the version');
	$r = run_raw('', 'alert.json');
	is($r->{status}, 64, 'an argument is a usage error');
	like($r->{stderr}, qr/^usage: evalsched-notifier/m, 'with a usage line');
}

# --- three webhooks: generic signed, Slack, failing ---------------------------

{
	my @hooks = (hook('generic', 'generic', $SECRET),
	    hook($SLACK_PATH, 'slack', undef), hook('fail-1', 'generic', ''));
	my $r = run_alert(webhooks => \@hooks);
	is($r->{status}, 75, 'a failing webhook: exit 75') or diag $r->{stderr};
	clean($r, 'three webhooks');
	my $w = $r->{result}{webhooks} // [];
	is_deeply([ map { $_->{id} } @$w ], [ map { $_->{id} } @hooks ],
	    'results in input order');
	is_deeply($w->[0], { id => $hooks[0]{id}, ok => JSON::PP::true,
	    status_code => 200, error => undef }, 'generic: delivered');
	is_deeply($w->[1], { id => $hooks[1]{id}, ok => JSON::PP::true,
	    status_code => 200, error => undef }, 'slack: delivered');
	is_deeply($w->[2], { id => $hooks[2]{id}, ok => JSON::PP::false,
	    status_code => 500, error => 'HTTP 500: {"error":"receiver failure"}'},
	    'failing: status 500 and the answer');
	is($r->{result}{command}, undef, 'no command: null');

	my ($g) = received('generic');
	my $body = encode_utf8($g->{body} // '');
	is($body, $BODY, 'generic: the body is JSON.stringify\'s, byte for byte');
	is($g->{headers}{'x-webhook-signature'},
	    hmac_sha256_hex($body, $SECRET),
	    'generic: X-Webhook-Signature is HMAC-SHA256 of the body');
	is($g->{headers}{'content-type'}, 'application/json',
	    'generic: Content-Type');
	like($g->{headers}{'user-agent'} // '', qr{^evalsched/\d+\.\d+},
	    'generic: User-Agent');
	my ($f) = received('fail-1');
	ok(!exists $f->{headers}{'x-webhook-signature'},
	    'an empty secret: no signature');
	is(encode_utf8($f->{body}), $BODY, 'the failing one got the body too');

	my ($s) = received($SLACK_PATH);
	ok(!exists $s->{headers}{'x-webhook-signature'},
	    'slack without a secret: no signature');
	my $m = eval { decode_json(encode_utf8($s->{body})) } // {};
	like($m->{text} // '', qr/^Scheduled evaluation "nightly\/eu" failed: /,
	    'slack: text, the one-line fallback');
	unlike($m->{text} // '', qr/\n/, 'slack: text is one line');
	is($m->{blocks}[0]{type}, 'header', 'slack: a header block');
	is($m->{blocks}[0]{text}{text},
	    'Scheduled evaluation "nightly/eu" failed', 'slack: the title');
	my @fields = map { $_->{text} } @{ $m->{blocks}[2]{fields} // [] };
	is_deeply(\@fields, ["*Schedule*\nnightly/eu", "*Model*\ngpt-4o",
	    "*What happened*\nThe evaluation could not be started "
	    . "(2 failures in a row)", "*Status*\nfailed"],
	    'slack: the facts, and no prompt counts when none are known');
	is($m->{blocks}[3]{text}{text},
	    "*Error*\n```HTTP 400: {\"error\":\"bad suite\"}```",
	    'slack: the error');
	unlike($s->{body}, qr/undefined|null|NaN/, 'slack: no junk');
	like($r->{stderr}, qr{webhook \Q$hooks[1]{id}\E \(slack, http://127\.0\.0\.1:$port\)},
	    'the log names a webhook by id and scheme://host:port');
}

# --- all delivered, signed Slack, Discord ------------------------------------

{
	my @hooks = (hook('slack-signed', 'slack', $SECRET),
	    hook('discord', 'discord', undef));
	my $r = run_alert(webhooks => \@hooks);
	is($r->{status}, 0, 'all delivered: exit 0') or diag $r->{stderr};
	clean($r, 'all delivered');
	my ($s) = received('slack-signed');
	is($s->{headers}{'x-webhook-signature'},
	    hmac_sha256_hex(encode_utf8($s->{body}), $SECRET),
	    'slack with a secret: signed too');
	my ($d) = received('discord');
	my $m = eval { decode_json(encode_utf8($d->{body})) } // {};
	is($m->{embeds}[0]{color}, 0xed4245, 'discord: red for a failure');
	is($m->{embeds}[0]{timestamp}, '2026-11-30T16:00:00.000Z',
	    'discord: the timestamp');
	is_deeply([ map { $_->{name} } @{ $m->{embeds}[0]{fields} // [] } ],
	    [ 'Schedule', 'Model', 'Status', 'What happened', 'Error' ],
	    'discord: the fields');
}

# --- a slow webhook, an unreachable one --------------------------------------

{
	my @hooks = (hook('slow', 'generic', undef),
	    { id => uuid(), url => 'http://127.0.0.1:1/x', type => 'generic' });
	my $r = run_alert(webhooks => \@hooks, timeout_ms => 1000);
	is($r->{status}, 75, 'a slow webhook: exit 75');
	clean($r, 'slow');
	my $w = $r->{result}{webhooks} // [];
	ok(!$w->[0]{ok} && !defined $w->[0]{status_code},
	    'slow: failed, no status');
	like($w->[0]{error} // '', qr/timed out/i, 'slow: timed out');
	like($w->[1]{error} // '', qr/connect/i, 'unreachable: the curl error');
	# The receiver answers after 15 s: ending well before, the timeout
	# ended it.  A bound for that alone, not for speed.
	ok($r->{secs} < 10, sprintf('the timeout is kept (%.2f s)', $r->{secs}));
}

# --- the command -------------------------------------------------------------

{
	spew("$dir/tee.sh", "#!/bin/sh\ncat > '$dir/cmd.stdin'\n"
	    . "env > '$dir/cmd.env'\necho done\n", 0755);
	my $r = run_alert(command => "$dir/tee.sh");
	is($r->{status}, 0, 'a command that exits 0: exit 0') or diag $r->{stderr};
	clean($r, 'command');
	is_deeply($r->{result}{command}, { ok => JSON::PP::true,
	    exit_status => 0, signal => undef, error => undef },
	    'command: ok, exit_status 0');
	is(slurp("$dir/cmd.stdin"), $BODY, 'command: the generic body on stdin');
	my %env = map { /^([^=]+)=(.*)$/ ? ($1 => $2) : () }
	    split /\n/, slurp("$dir/cmd.env") // '';
	delete @env{qw(PWD SHLVL _)};	# the shell's own
	is_deeply([ sort keys %env ], [ qw(EVALSCHED_ALERT_ID EVALSCHED_EVENT
	    EVALSCHED_SCHEDULE_ID EVALSCHED_SUBJECT_RFC2047 EVALSCHED_TIMESTAMP
	    EVALSCHED_TITLE EVALSCHED_USER_ID LANG PATH TZ) ],
	    'command: PATH, LANG, TZ and the event\'s values only');
	is($env{TZ}, 'Europe/Berlin', 'command: TZ passed on');
	is_deeply([ @env{qw(EVALSCHED_ALERT_ID EVALSCHED_EVENT
	    EVALSCHED_TIMESTAMP EVALSCHED_SCHEDULE_ID EVALSCHED_USER_ID
	    EVALSCHED_TITLE)} ], [ $ALERT, 'scheduled_eval_failed',
	    '2026-11-30T16:00:00.000Z', 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
	    '99999999-8888-4777-8666-555555555555',
	    'Scheduled evaluation "nightly/eu" failed' ],
	    'command: the event\'s ids, type, time and title');

	spew("$dir/fail.sh", "#!/bin/sh\necho first >&2\necho 'it broke' >&2\n"
	    . "exit 3\n", 0755);
	$r = run_alert(command => "$dir/fail.sh");
	is($r->{status}, 75, 'a failing command: exit 75');
	is_deeply($r->{result}{command}, { ok => JSON::PP::false,
	    exit_status => 3, signal => undef, error => 'exited 3: it broke' },
	    'command: exit status and the last line of stderr');

	$r = run_alert(command => "$dir/no-such-program");
	is($r->{status}, 75, 'a missing command: exit 75');
	is($r->{result}{command}{exit_status}, 127, 'missing: exit_status 127');
	like($r->{result}{command}{error} // '', qr/cannot execute/,
	    'missing: says why');

	spew("$dir/hang.sh", "#!/bin/sh\nexec sleep 30\n", 0755);
	$r = run_alert(command => "$dir/hang.sh", timeout_ms => 1000);
	is($r->{status}, 75, 'a hanging command: exit 75');
	is($r->{result}{command}{signal}, 15, 'hang: killed by SIGTERM');
	like($r->{result}{command}{error} // '', qr/^timed out after 1 s/,
	    'hang: timed out');
	# It sleeps 30 s: ending well before, it was killed.
	ok($r->{secs} >= 0.9 && $r->{secs} < 15,
	    sprintf('hang: killed at the timeout (%.2f s)', $r->{secs}));

	spew("$dir/stubborn.sh", "#!/bin/sh\ntrap '' TERM\n"
	    . "echo \$\$ > '$dir/stubborn.pid'\nsleep 30\n", 0755);
	$r = run_alert(command => "$dir/stubborn.sh", timeout_ms => 500);
	is($r->{result}{command}{signal}, 9, 'SIGTERM ignored: SIGKILL');
	ok($r->{secs} >= 2.4 && $r->{secs} < 15,
	    sprintf('SIGKILL 2 s after SIGTERM, not 30 s later (%.2f s)',
	    $r->{secs}));
	chomp(my $spid = slurp("$dir/stubborn.pid") // '');
	sleep 0.2;
	ok($spid ne '' && !kill(0, $spid), 'the whole process group is gone');
}

# --- the command and a user's text -------------------------------------------

# A schedule's name is a user's: it may hold a newline, a header and a
# body.  The command's environment has it on one line, and as an encoded
# subject; the manual's mail example, run with a fake sendmail, sends one
# message to its one fixed recipient, with one Subject and nothing added.
sub run_titled {
	my ($title, %o) = @_;
	(my $doc = alert_doc(%o)) =~ s/"title":"(?:[^"\\]|\\.)*"/
	    '"title":' . JSON::PP->new->ascii->encode([$title]) =~ s{^\[|\]$}{}gr/e;
	return run_raw($doc);
}

# The example script in the EXAMPLES of evalsched-notifier(8), as text.
sub manual_example {
	my ($page) = @_;
	my ($in, $cur, @blocks) = (0);
	for my $line (split /\n/, slurp($page) // '') {
		$in = 1 if $line =~ /^\.Sh EXAMPLES/;
		next unless $in;
		if ($line =~ /^\.Bd -literal/) { $cur = ''; next }
		if ($line =~ /^\.Ed/ && defined $cur) { push @blocks, $cur; undef $cur; next }
		next unless defined $cur;
		$line =~ s/\\e/\\/g;
		$line =~ s/\\&//g;
		$cur .= "$line\n";
	}
	my ($script) = grep { /^#!\/bin\/sh\n/ && /sendmail/ } @blocks;
	return $script;
}

{
	my $name = "x\nBcc: victim\@example.com\n\nbody";
	my $title = "Scheduled evaluation failed: $name";
	my $one_line = "Scheduled evaluation failed: x Bcc: victim\@example.com  body";
	spew("$dir/env0.sh", "#!/bin/sh\nenv -0 > '$dir/env0'\ncat > '$dir/env0.in'\n", 0755);
	my $r = run_titled($title, command => "$dir/env0.sh");
	is($r->{status}, 0, 'a title with a header in it: the command ran')
	    or diag $r->{stderr};
	is((eval { decode_json(slurp("$dir/env0.in") // '') } // {})->{title},
	    $title, 'the JSON on stdin has the title as it is');
	my %env = map { /^([^=]*)=(.*)$/s ? ($1 => $2) : () }
	    split /\0/, slurp("$dir/env0") // '';
	my @ours = grep { /^EVALSCHED_/ } sort keys %env;
	ok(@ours >= 6, 'the event is in the environment: ' . join(' ', @ours));
	ok(!(grep { $env{$_} =~ /[\x00-\x1f\x7f]/ } @ours),
	    'every value is one line, without control characters');
	is($env{EVALSCHED_TITLE}, $one_line, 'EVALSCHED_TITLE: the title on one line');
	my $subject = $env{EVALSCHED_SUBJECT_RFC2047} // '';
	like($subject, qr/^=\?UTF-8\?B\?[A-Za-z0-9+\/=]+\?=(?: =\?UTF-8\?B\?[A-Za-z0-9+\/=]+\?=)*$/,
	    'EVALSCHED_SUBJECT_RFC2047: encoded words, ASCII');
	ok(!(grep { length > 75 } split / /, $subject), 'each word at most 75 characters');
	is(Encode::decode('MIME-Header', $subject), $one_line,
	    'it decodes to the one-line title');
	ok(!(grep { $env{$_} =~ /\Q$SECRET\E|\Q$CANARY\E/ } keys %env),
	    'no secret in the environment');

	# A long title in four-byte characters: cut, each word whole.
	my $long = "\x{1f600}" x 300;
	$r = run_titled($long, command => "$dir/env0.sh");
	%env = map { /^([^=]*)=(.*)$/s ? ($1 => $2) : () }
	    split /\0/, slurp("$dir/env0") // '';
	$subject = $env{EVALSCHED_SUBJECT_RFC2047} // '';
	like(Encode::decode_utf8($env{EVALSCHED_TITLE} // ''),
	    qr/^\x{1f600}{1,249}\x{2026}$/,
	    'a long title: EVALSCHED_TITLE is cut to 250 characters at most');
	cmp_ok(length($subject), '<=', 911, 'the subject line stays short ('
	    . length($subject) . ')');
	ok(!(grep { length > 75 } split / /, $subject), 'each word at most 75 characters');
	like(Encode::decode('MIME-Header', $subject), qr/^\x{1f600}+\x{2026}$/,
	    'it decodes to whole characters, the cut marked');

	my $script = manual_example("$TOP/man/evalsched-notifier.8");
	ok(defined $script, 'evalsched-notifier(8) has a mail example');
	mkdir "$dir/fakebin";
	spew("$dir/fakebin/sendmail", "#!/bin/sh\nprintf '%s\\n' \"\$@\" > "
	    . "'$dir/sendmail.argv'\ncat > '$dir/sendmail.msg'\n", 0755);
	spew("$dir/mail-alert", $script // "#!/bin/sh\nexit 1\n", 0755);
	unlink "$dir/sendmail.msg";
	my $in = "$dir/in" . ++$RUNS . ".json";
	spew($in, alert_doc(command => "$dir/mail-alert")
	    =~ s/"title":"(?:[^"\\]|\\.)*"/'"title":' . JSON::PP->new->ascii
	    ->encode([$title]) =~ s{^\[|\]$}{}gr/er);
	$r = $t->run_program([$BIN], stdin => $in, env => {
	    PATH => "$dir/fakebin:$ENV{PATH}", LANG => 'C.UTF-8' });
	is($r->{status}, 0, 'the manual\'s example ran') or diag $r->{err};
	is_deeply([ split /\n/, slurp("$dir/sendmail.argv") // '' ],
	    [ '-oi', 'ops@example.com' ],
	    'sendmail: the fixed recipient as its one argument, no -t');
	my $msg = slurp("$dir/sendmail.msg") // '';
	my ($head, $body) = split /\n\n/, $msg, 2;
	my @headers = split /\n/, $head // '';
	ok(@headers && !(grep { !/^[A-Za-z-]+: [\x20-\x7e]*$/ } @headers),
	    'every header one line of ASCII') or diag $head;
	is(scalar(grep { /^Subject:/i } @headers), 1, 'one Subject header');
	is_deeply([ grep { /^(?:To|Cc|Bcc):/i } @headers ],
	    [ 'To: ops@example.com' ], 'one recipient header: the fixed one');
	unlike($head, qr/victim/, 'the user\'s Bcc: is in no header');
	my ($subj) = map { /^Subject: (.*)$/ ? $1 : () } @headers;
	is(Encode::decode('MIME-Header', $subj // ''), "[evalsched] $one_line",
	    'the Subject decodes to the title, on one line');
	my $json = eval { decode_json(MIME::Base64::decode_base64($body // '')) } // {};
	is($json->{title}, $title, 'the body is the event, the title as it was');
}

# --- webhooks and a command at once -------------------------------------------

# Both wait out the whole timeout.  One after the other, the second
# would start a timeout after the first; side by side, they start
# together.  The start times are compared with each other, not with a
# bound on how long anything takes.
{
	spew("$dir/stamp.sh", "#!/bin/sh\ndate +%s.%N > '$dir/stamp'\n"
	    . "exec sleep 30\n", 0755);
	my $r = run_alert(webhooks => [ hook('slow-2', 'generic', undef) ],
	    command => "$dir/stamp.sh", timeout_ms => 2000);
	my ($hook) = received('slow-2');
	chomp(my $cmd = slurp("$dir/stamp") // '');
	ok($hook && $cmd =~ /^\d+\.\d+$/, 'webhook and command both started')
	    or diag "command start: '$cmd'";
	my $apart = abs(($hook->{t} // 0) - ($cmd || 0));
	ok($apart < 1, sprintf('webhooks and the command run side by side '
	    . '(started %.3f s apart; one after the other: 2 s)', $apart));
}

# --- bad documents -----------------------------------------------------------

{
	my $r = run_raw('{"alert_id": "' . $ALERT . '"}');
	is($r->{status}, 65, 'no event: exit 65');
	is($r->{result}{alert_id}, $ALERT, 'bad: the alert_id when known');
	like($r->{result}{error} // '', qr/^bad input: event is missing/,
	    'bad: says what is wrong');
	$r = run_raw('not json');
	is($r->{status}, 65, 'not JSON: exit 65');
	ok(exists $r->{result}{alert_id} && !defined $r->{result}{alert_id},
	    'not JSON: alert_id null');
	my $doc = alert_doc(webhooks => [ { id => 'not-a-uuid',
	    url => "$HOOKS/$SLACK_PATH", secret => $SECRET } ]);
	$r = run_raw($doc);
	is($r->{status}, 65, 'a bad webhook id: exit 65');
	clean($r, 'bad webhook');
	is(scalar received('not-a-uuid'), 0, 'bad: nothing sent');
	$r = run_alert(webhooks => [ { id => uuid(), type => 'generic',
	    url => "ftp://127.0.0.1/$SLACK_PATH" } ]);
	is($r->{status}, 75, 'an ftp:// URL: that webhook fails, exit 75');
	clean($r, 'ftp');
	like($r->{result}{webhooks}[0]{error} // '', qr/^bad URL/,
	    'ftp: a bad URL');
}

done_testing;
