#!/usr/bin/env perl
# evalsched-notifier run by hand against tests/webhook-receiver: the
# generic body byte for byte and its signature, the Slack message, a
# failing and a slow webhook, the alert command (its stdin, its
# environment, its failures, its timeout), the result document and exit
# status, and that no secret shows in what it prints.  Where a user's URL
# may lead: this host in every spelling, names of it, link-local,
# private and unique-local addresses are refused before any connection
# (real listeners see none), unless webhook_allow covers them; URLs with
# credentials are refused; an answer's body never reaches the result;
# the environment's proxy is not used.
#
# The binary: Evalsched::Test::bin, the installed layout under
# $EVALSCHED_ROOT$EVALSCHED_PREFIX (as `make check` runs it) or build/.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha256_hex);
use Encode qw(encode_utf8);
use IO::Socket::IP;
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

# Runs it with $stdin (bytes), the arguments and more environment;
# returns exit status, result, stderr, time.
sub run_with {
	my ($stdin, $args, $env) = @_;
	my $in = "$dir/in" . ++$RUNS . ".json";
	spew($in, $stdin);
	my $r = $t->run_program([$BIN, @$args], stdin => $in, env => {
	    EVALSCHED_CANARY => $CANARY, LANG => 'C.UTF-8', TZ => 'Europe/Berlin',
	    %{ $env // {} } });
	return { %$r, stderr => $r->{err}, result => scalar(eval { decode_json($r->{out}) }) };
}

sub run_raw {
	my ($stdin, @args) = @_;
	return run_with($stdin, \@args);
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

# The receiver is on 127.0.0.1: allowed unless a test says otherwise
# (allow => undef: no webhook_allow at all).
sub alert_doc {
	my (%o) = @_;
	my %doc = (
		webhooks => $o{webhooks} // [],
		command => $o{command},
		timeout_ms => $o{timeout_ms} // 5000,
		webhook_allow => exists $o{allow} ? $o{allow} : ['127.0.0.1/32'],
	);
	delete $doc{webhook_allow} unless defined $doc{webhook_allow};
	my $rest = JSON::PP->new->canonical->encode(\%doc);
	$rest =~ s/^\{//;
	return "{\"alert_id\":\"$ALERT\",\"event\":$EVENT,$rest";
}

sub run_alert {
	my (%o) = @_;
	my $env = delete $o{env};
	return run_with(alert_doc(%o), [], $env);
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
	    status_code => 200, error => undef, retry => JSON::PP::false },
	    'generic: delivered');
	is_deeply($w->[1], { id => $hooks[1]{id}, ok => JSON::PP::true,
	    status_code => 200, error => undef, retry => JSON::PP::false },
	    'slack: delivered');
	is_deeply($w->[2], { id => $hooks[2]{id}, ok => JSON::PP::false,
	    status_code => 500, error => 'HTTP 500', retry => JSON::PP::true },
	    'failing: status 500, nothing of its body, to be tried again');
	unlike($r->{out} . $r->{stderr}, qr/receiver failure/,
	    'the answer\'s body is neither in the result nor in the log');
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
	ok(!$w->[0]{ok} && !defined $w->[0]{status_code} && $w->[0]{retry},
	    'slow: failed, no status, to be tried again');
	# No answer is one word for the user; the reason is the operator's.
	is($w->[0]{error}, 'unreachable', 'slow: unreachable');
	is($w->[1]{error}, 'unreachable', 'a closed port: unreachable too');
	like($r->{stderr}, qr/\Q$hooks[0]{id}\E.*not delivered: unreachable \(.*timed out/i,
	    'the log says the slow one timed out');
	like($r->{stderr}, qr/\Q$hooks[1]{id}\E.*not delivered: unreachable \(.*connect/i,
	    'and that the closed port refused the connection');
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

# --- where a user's URL may lead ------------------------------------------

# A listener that never answers: what reaches it shows as a connection
# waiting in its backlog, accepted or not.
sub listener {
	my ($addr) = @_;
	return IO::Socket::IP->new(LocalHost => $addr, LocalPort => 0,
	    Listen => 16, ReuseAddr => 1);
}

# The connections that came to a listener since it was last asked.
sub connections {
	my ($l) = @_;
	$l->blocking(0);
	my $n = 0;
	while (my $c = $l->accept) {
		$n++;
		close $c;
	}
	return $n;
}

my $L4 = listener('127.0.0.1') // BAIL_OUT("listen on 127.0.0.1: $!");
my $P4 = $L4->sockport;
my $L6 = listener('::1');
my $P6 = $L6 ? $L6->sockport : undef;

sub url_hook {
	my ($url) = @_;
	return { id => uuid(), url => $url, type => 'generic' };
}

sub refused_all {
	my ($r, $want, $what) = @_;
	my $w = $r->{result}{webhooks} // [];
	for my $i (0 .. $#$w) {
		is_deeply([ @{ $w->[$i] }{qw(ok status_code error retry)} ],
		    [ JSON::PP::false, undef, $want, JSON::PP::false ],
		    "$what: $w->[$i]{id} refused, not to be tried again");
	}
}

# Nothing allowed: this host in every spelling, and names of it.  The
# spellings of an address that resolvers read their own way are not
# URLs the notifier takes: refused before any connection, as bad URLs.
{
	my @odd = ("http://2130706433:$P4/x", "http://0177.0.0.1:$P4/x",
	    "http://0x7f000001:$P4/x", "http://0x7f.1:$P4/x",
	    "http://127.1:$P4/x", "http://127.0.1:$P4/x", "http://0:$P4/x",
	    "http://[::ffff:127.0.0.1%25lo]:$P4/x");
	my $r = run_alert(webhooks => [ map { url_hook($_) } @odd ],
	    allow => undef, timeout_ms => 3000);
	clean($r, 'odd spellings');
	refused_all($r, 'bad URL: not an http:// or https:// URL with a host',
	    'odd spellings');
	is(connections($L4), 0, 'odd spellings: no connection');
}
{
	my @loop = ("http://127.0.0.1:$P4/x", "http://127.9.9.9:$P4/x",
	    "http://[::ffff:127.0.0.1]:$P4/x", "http://[::ffff:7f00:1]:$P4/x",
	    "http://0.0.0.0:$P4/x",
	    "http://localhost:$P4/x", "http://foo.localhost:$P4/x",
	    "http://LocalHost:$P4/x", "https://127.0.0.1:$P4/x");
	push @loop, "http://[::1]:$P6/x", "http://[::]:$P6/x",
	    "http://localhost:$P6/x" if $L6;
	my @hooks = map { url_hook($_) } @loop;
	my $r = run_alert(webhooks => \@hooks, allow => undef,
	    timeout_ms => 3000);
	is($r->{status}, 75, 'this host, every spelling: exit 75')
	    or diag $r->{stderr};
	clean($r, 'this host');
	refused_all($r, 'refused: destination not allowed', 'this host');
	is(connections($L4), 0, 'the listener on 127.0.0.1 saw no connection');
	is(connections($L6), 0, 'the listener on ::1 saw no connection') if $L6;
	like($r->{stderr}, qr/\Q$hooks[0]{id}\E.*refused: destination not allowed \(127\.0\.0\.1 is loopback, and webhook_allow does not cover it\)/,
	    'the log says which address was refused and why');
	# The control: allowed, the same listener sees the connection.
	$r = run_alert(webhooks => [ url_hook("http://127.0.0.1:$P4/x") ],
	    allow => ['127.0.0.1/32'], timeout_ms => 500);
	is($r->{result}{webhooks}[0]{error}, 'unreachable',
	    'allowed, the silent listener: unreachable');
	is(connections($L4), 1, 'and the listener saw that connection');
}

# Link-local, private, shared, unique-local, multicast, documentation:
# refused before a packet leaves.
{
	my @urls = map { "http://$_/x" } qw(169.254.169.254
	    [fe80::a9fe:a9fe] 10.0.0.1 172.16.0.1 172.31.255.254 192.168.0.1
	    100.64.0.1 [fd00::1] [fc00::1] [::ffff:10.0.0.1] [::ffff:169.254.169.254]
	    [64:ff9b::a9fe:a9fe] 224.0.0.1 255.255.255.255 192.0.2.1
	    [2001:db8::1] 240.0.0.1);
	my @hooks = map { url_hook($_) } @urls;
	my $r = run_alert(webhooks => \@hooks, allow => ['127.0.0.1/32'],
	    timeout_ms => 3000);
	clean($r, 'internal networks');
	refused_all($r, 'refused: destination not allowed',
	    'internal networks');
	like($r->{stderr}, qr/169\.254\.169\.254 is link-local/,
	    'the metadata address is named link-local in the log');
	like($r->{stderr}, qr/fd00::1 is unique-local/,
	    'fd00::1 unique-local');
}

# Credentials in the URL would go out as Basic authentication.
{
	my @hooks = (url_hook("http://user:pass\@127.0.0.1:$port/hook/creds-1"),
	    url_hook("http://user\@127.0.0.1:$port/hook/creds-2"));
	my $r = run_alert(webhooks => \@hooks);
	clean($r, 'credentials');
	refused_all($r, 'refused: credentials in the URL are not allowed',
	    'credentials');
	is(scalar(received('creds-1')) + scalar(received('creds-2')), 0,
	    'credentials: nothing sent');
	unlike($r->{stderr}, qr/pass/, 'credentials: the password is not logged');
}

# webhook_allow: a network that holds the receiver lets it through, one
# that does not refuses it.
{
	my $r = run_alert(webhooks => [ hook('allowed-net', 'generic', undef) ],
	    allow => [ '10.0.0.0/8', '127.0.0.0/8' ]);
	is($r->{status}, 0, 'webhook_allow 127.0.0.0/8: delivered')
	    or diag $r->{stderr};
	is(scalar(received('allowed-net')), 1, 'the receiver got it');
	$r = run_alert(webhooks => [ hook('other-net', 'generic', undef) ],
	    allow => [ '10.0.0.0/8', '127.0.0.2/32', '::1/128' ]);
	refused_all($r, 'refused: destination not allowed',
	    'an allow list without it');
	is(scalar(received('other-net')), 0, 'the receiver got nothing');
	$r = run_alert(webhooks => [ hook('bad-allow', 'generic', undef) ],
	    allow => [ '127.0.0.1/33' ]);
	is($r->{status}, 65, 'a bad webhook_allow: a bad document');
	like($r->{result}{error} // '', qr/webhook_allow\[0\] is not a network/,
	    'and it says which');
}

# The environment's proxies are the deployment's: a user's webhook goes
# straight to its own address, or nowhere.
{
	my $proxy = listener('127.0.0.1') // BAIL_OUT("listen: $!");
	my $purl = 'http://127.0.0.1:' . $proxy->sockport;
	my %env = map { $_ => $purl } qw(http_proxy https_proxy HTTPS_PROXY
	    ALL_PROXY all_proxy);
	my $r = run_alert(webhooks => [ hook('no-proxy', 'generic', undef),
	    url_hook("https://127.0.0.1:$port/hook/no-proxy-tls") ],
	    env => \%env, timeout_ms => 2000);
	is($r->{result}{webhooks}[0]{status_code}, 200,
	    'http_proxy set: delivered straight to the receiver')
	    or diag $r->{stderr};
	is(scalar(received('no-proxy')), 1, 'the receiver got it');
	is(connections($proxy), 0, 'the proxy saw no connection, for http '
	    . 'nor https');
	# A proxy is an address too: allowed by nobody, it is not used.
	$r = run_alert(webhooks => [ hook('no-proxy-2', 'generic', undef) ],
	    env => \%env, allow => undef, timeout_ms => 2000);
	refused_all($r, 'refused: destination not allowed',
	    'nothing allowed, a proxy set');
	is(connections($proxy), 0, 'and the proxy saw nothing');
}

# tls_ca_file is the application's CA, for the jobrunner: a webhook's
# certificate is checked against the system's store alone, even when a
# job names a CA file (as the supervisor's did).
SKIP: {
	skip 'no openssl(1) to make a certificate', 3
	    if system('openssl version >/dev/null 2>&1') != 0;
	system("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 "
	    . "-addext subjectAltName=IP:127.0.0.1 -days 2 "
	    . "-keyout '$dir/key.pem' -out '$dir/cert.pem' 2>/dev/null") == 0
	    or die "openssl req failed\n";
	my $tpid = fork // die "fork: $!";
	if ($tpid == 0) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>', "$dir/tls.out";
		open STDERR, '>&', \*STDOUT;
		exec "$TOP/tests/webhook-receiver", '--port-file', "$dir/tls.port",
		    '--log', "$dir/tls.log", '--tls-cert', "$dir/cert.pem",
		    '--tls-key', "$dir/key.pem" or _exit(127);
	}
	my $t0 = time;
	sleep 0.05 until -s "$dir/tls.port" || time - $t0 > 15;
	chomp(my $tport = slurp("$dir/tls.port") // '');
	my $doc = alert_doc(webhooks => [ url_hook(
	    "https://127.0.0.1:$tport/hook/tls") ]);
	$doc =~ s/\}$/,"tls_ca_file":"$dir\/cert.pem"}/ or die;
	my $r = run_raw($doc);
	kill 'TERM', $tpid;
	waitpid $tpid, 0;
	is($r->{result}{webhooks}[0]{error}, 'unreachable',
	    'a certificate only the job\'s tls_ca_file trusts: not delivered');
	like($r->{stderr}, qr/not delivered: unreachable \(.*certificate/i,
	    'the log says it was the certificate');
	is(slurp("$dir/tls.log") // '', '', 'the receiver got nothing');
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
	ok(!$r->{result}{webhooks}[0]{retry}, 'ftp: not to be tried again');
}

# --- no one reads its result -------------------------------------------------

# The supervisor stopped reading (it refused a result too large, say):
# the notifier is not killed by SIGPIPE, it says so and exits as its
# deliveries went.
{
	my $in = "$dir/in-nobody.json";
	spew($in, alert_doc(webhooks => [hook('nobody', 'generic')]));
	pipe(my $rd, my $wr) or die "pipe: $!";
	close $rd;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		$SIG{PIPE} = 'DEFAULT';	# what the supervisor gives it
		open STDIN, '<', $in or _exit(126);
		open STDOUT, '>&', $wr or _exit(126);
		open STDERR, '>', "$dir/nobody.err" or _exit(126);
		exec $BIN or _exit(127);
	}
	close $wr;
	waitpid $pid, 0;
	is($? & 127, 0, 'no reader for its result: not killed by SIGPIPE');
	is($? >> 8, 0, 'it exits as its deliveries went (0)');
	is(scalar received('nobody'), 1, 'the webhook got the alert');
	like(slurp("$dir/nobody.err") // '', qr/cannot write the result/,
	    'it says the result was not written');
}

done_testing;
