#!/usr/bin/env perl
# evalsched-jobrunner run by hand against tests/stand-in-api: the request
# it makes, its result JSON and exit status for each kind of answer, its
# retries and deadline, and that the key never shows in what it prints.
# The route is not idempotent: an attempt is made again only when it
# provably started nothing (the route's own temporary error, or a
# request that never left); any other failure after the request went out
# is ambiguous, never retried, and the result says so.
#
# The binary: $EVALSCHED_JOBRUNNER if set; else the installed layout under
# $EVALSCHED_ROOT$EVALSCHED_PREFIX (as `make check` runs it); else
# build/evalsched-jobrunner.
use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG _exit);
use Socket ();
use Test::More;
use Time::HiRes qw(time sleep);
use lib "$FindBin::Bin/lib";
use Evalsched::Test;

my $TOP = "$FindBin::Bin/..";
my $BIN = $ENV{EVALSCHED_JOBRUNNER} // Evalsched::Test::bin('evalsched-jobrunner');
plan skip_all => "no jobrunner at $BIN" unless -x $BIN;

# The calls go to 127.0.0.1: no proxy may come between.
delete @ENV{qw(http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy
    ALL_PROXY)};

my $KEY = 'sk-test-' . join('', map { ('a'..'z')[rand 26] } 1..24);
my $USER = '99999999-8888-7777-6666-555555555555';
my $SCHED = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
my $SUITE = '12345678-1234-1234-1234-123456789abc';
my $UUID = qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
my $json = JSON::PP->new->canonical;
# A schedule's own API key, sealed by the application under $EKEY (as in
# apikey.t).
my $EKEY = 'evalsched-apikey-t-encryption-key-0123456789';
my $SEALED = 'jn208P8s2sBT2nrZuSbx2OKVtMynGBC/HQ4uLmd2OTI8g9Pbk0Mss8Htwr5zV8gl'
    . '9JyMzvCv2UMgacI0XeNZXLEpMugRI2fSIoRrXy9f+jfbfyBKD9Oy/Ve/OM6db8mTIw==';
my $NAME = 'nightly regression - 2026-12-05 02:00 CET';
my $dir = tempdir(CLEANUP => 1);
my $t = Evalsched::Test->new;	# runs the program under test
my $RUNS = 0;

# --- the stand-in API ------------------------------------------------------

my %API;	# pid => 1, stopped at the end

sub start_api {
	my ($name, @args) = @_;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>', "$dir/$name.out";
		open STDERR, '>&', \*STDOUT;
		exec "$TOP/tests/stand-in-api", '--port-file', "$dir/$name.port",
		    '--log', "$dir/$name.log", @args or _exit(127);
	}
	$API{$pid} = 1;
	my $t0 = time;
	sleep 0.05 until -s "$dir/$name.port" || time - $t0 > 15;
	my $p = slurp("$dir/$name.port") //
	    BAIL_OUT("stand-in API $name did not start");
	chomp $p;
	return $p;
}
END { for my $pid (keys %API) { kill 'TERM', $pid; waitpid $pid, 0 } }

my $port = start_api('api');
my $URL = "http://127.0.0.1:$port";

# --- helpers ---------------------------------------------------------------

sub slurp {
	my ($path) = @_;
	open my $fh, '<', $path or return undef;
	local $/;
	return scalar <$fh>;
}

sub new_uuid {
	return sprintf '%08x-%04x-4%03x-%04x-%012x', rand 2**32, rand 2**16,
	    rand 2**12, 0x8000 | rand 2**14, rand 2**48;
}

sub job {
	my (%over) = @_;
	return {
		run_id => new_uuid(), schedule_id => $SCHED,
		schedule_name => 'nightly regression', user_id => $USER,
		test_suite_id => $SUITE, model_id => 'gpt-4o',
		batch_test_config => { prompt_limit => 25, concurrency => 2,
		    model_id => 'overridden', test_suite_id => 'overridden' },
		app_url => $URL, service_role_key => $KEY, timeout_ms => 2000,
		%over,
	};
}

# Runs the jobrunner with $stdin; returns exit status, result, stderr, time.
sub run_raw {
	my ($stdin, @args) = @_;
	my $in = "$dir/job" . ++$RUNS . ".json";
	open my $fh, '>', $in or die;
	print $fh $stdin;
	close $fh;
	my $r = $t->run_program([$BIN, @args], stdin => $in);
	return { %$r, stderr => $r->{err}, result => scalar(eval { decode_json($r->{out}) }) };
}

sub run_job {
	my ($job) = @_;
	return run_raw(encode_json($job));
}

# The requests a stand-in API recorded for one run id.  The stand-in
# logs a request after it has answered, so the last line may come a
# moment after the jobrunner is gone: with $want, wait a little for that
# many.
sub requests_for {
	my ($run_id, $name, $want) = @_;
	my @reqs;
	my $t0 = time;
	do {
		@reqs = ();
		for my $line (split /\n/,
		    slurp("$dir/" . ($name // 'api') . '.log') // '') {
			my $r = eval { decode_json($line) } or next;
			push @reqs, $r if ($r->{headers}{'idempotency-key'} //
			    '') eq $run_id;
		}
	} while (@reqs < ($want // 0) && time - $t0 < 5 && sleep 0.05);
	return @reqs;
}

# Checks what no run may ever do, whatever its outcome.
sub clean_output {
	my ($r, $what) = @_;
	unlike($r->{stderr}, qr/\Q$KEY\E/, "$what: the key is not in stderr");
	unlike($r->{out}, qr/\Q$KEY\E/, "$what: the key is not in stdout");
	unlike($r->{stderr}, qr/Sanitizer|runtime error/,
	    "$what: no sanitizer report");
	ok(ref $r->{result} eq 'HASH', "$what: one result JSON on stdout")
	    or diag "stdout: $r->{out}\nstderr: $r->{stderr}";
	is(scalar(() = $r->{out} =~ /\n/g), 1, "$what: exactly one line");
}

sub expect {
	my ($r, %want) = @_;
	my $what = $want{what};
	is($r->{status}, $want{status}, "$what: exit $want{status}")
	    or diag "stdout: $r->{out}\nstderr: $r->{stderr}";
	clean_output($r, $what);
	my $res = $r->{result} // {};
	is($res->{http_status}, $want{http}, "$what: http_status")
	    if exists $want{http};
	is($res->{attempts}, $want{attempts}, "$what: attempts")
	    if exists $want{attempts};
	like($res->{error} // '', $want{error}, "$what: error text")
	    if $want{error};
	is($res->{ambiguous} ? 'ambiguous' : 'not ambiguous',
	    $want{ambiguous} ? 'ambiguous' : 'not ambiguous', "$what: "
	    . ($want{ambiguous} ? '' : 'not ') . 'ambiguous')
	    if exists $want{ambiguous};
	is($res->{blame}, $want{blame}, "$what: blame " . ($want{blame} // 'null'))
	    if exists $want{blame};
	ok(!defined $res->{test_run_id}, "$what: no test_run_id")
	    if $want{status} != 0;
	ok(defined $res->{elapsed_ms} && $res->{elapsed_ms} >= 0,
	    "$what: elapsed_ms");
	return $res;
}

# --- command line -----------------------------------------------------------

{
	my $r = run_raw('', '-V');
	is($r->{status}, 0, '-V exits 0');
	like($r->{out}, qr/^evalsched-jobrunner \d+\.\d+/, '-V prints the version');
	$r = run_raw('', 'job.json');
	is($r->{status}, 64, 'an argument is a usage error');
	like($r->{stderr}, qr/^usage: evalsched-jobrunner/m, 'with a usage line');
	$r = run_raw('', '-x');
	is($r->{status}, 64, 'an unknown option is a usage error');
}

# --- accepted: the request, exactly -----------------------------------------

{
	my $job = job();
	my $r = run_job($job);
	my $res = expect($r, what => '2xx', status => 0, http => 200,
	    attempts => 1);
	like($res->{test_run_id} // '', $UUID, '2xx: test_run_id is a UUID');
	ok(!defined $res->{error}, '2xx: error is null');
	ok(!exists $res->{ambiguous} && !exists $res->{api_key},
	    '2xx: neither ambiguous nor api_key is said');
	my @reqs = requests_for($job->{run_id}, undef, 1);
	is(scalar @reqs, 1, '2xx: one request');
	my $q = $reqs[0] // {};
	is($q->{method}, 'POST', 'method POST');
	is($q->{path}, '/api/batch-testing/run', 'path');
	my %h = %{ $q->{headers} // {} };
	my $ua = delete $h{'user-agent'} // '';
	like($ua, qr{^evalsched/\d+\.\d+}, 'User-Agent evalsched/VERSION');
	like(delete $h{host} // '', qr/^127\.0\.0\.1:$port$/, 'Host');
	like(delete $h{'content-length'} // '', qr/^\d+$/, 'Content-Length');
	is_deeply(\%h, {
		'content-type' => 'application/json',
		'accept' => 'application/json',
		'x-service-role-key' => $KEY,
		'x-user-id' => $USER,
		'x-scheduled-evaluation' => 'true',
		'x-scheduled-evaluation-id' => $SCHED,
		'x-scheduled-evaluation-run-id' => $job->{run_id},
		'idempotency-key' => $job->{run_id},
	}, 'the headers, exactly') or diag explain \%h;
	my $body = eval { decode_json($q->{body}) };
	is_deeply($body, { config => { prompt_limit => 25, concurrency => 2,
	    model_id => 'gpt-4o', test_suite_id => $SUITE } },
	    'the body: config merged, model_id and test_suite_id win')
	    or diag $q->{body};
	is($q->{answered}, 200, 'the stand-in answered 200');
}

{
	my $job = job(batch_test_config => {}, app_url => "$URL/");
	my $r = run_job($job);
	expect($r, what => 'empty config, app_url with /', status => 0,
	    attempts => 1);
	my ($q) = requests_for($job->{run_id}, undef, 1);
	is($q->{path}, '/api/batch-testing/run', 'no double slash in the path');
	is_deeply(eval { decode_json($q->{body}) },
	    { config => { model_id => 'gpt-4o', test_suite_id => $SUITE } },
	    'an empty config gets the two ids alone');
}

# --- the batch test's name ----------------------------------------------------

# The route names the batch config.test_run_name?.trim() || a name of its
# own: ours goes in where the config has no name of its own.
for my $case (['no name', {}, $NAME],
    ['a blank name', { test_run_name => " \t\x{a0}\x{3000}" }, $NAME],
    ['a null name', { test_run_name => undef }, $NAME],
    ['a name that is not a string', { test_run_name => 42 }, $NAME],
    ['a name of its own', { test_run_name => ' Mine ' }, ' Mine ']) {
	my ($what, $config, $want) = @$case;
	my $job = job(test_run_name => $NAME,
	    batch_test_config => { prompt_limit => 3, %$config });
	my $r = run_job($job);
	expect($r, what => "config with $what", status => 0, attempts => 1);
	my ($q) = requests_for($job->{run_id}, undef, 1);
	my $cfg = (eval { decode_json($q->{body} // '') } // {})->{config} // {};
	is($cfg->{test_run_name}, $want, "config with $what: test_run_name sent "
	    . "is " . ($want eq $NAME ? 'ours' : "the config's"));
	is($cfg->{prompt_limit}, 3, "config with $what: the rest is kept");
}

# --- the route's answers: nothing started ----------------------------------------

# $n POSTs for the run, and no more.
sub posts_are {
	my ($job, $n, $what) = @_;
	my @reqs = requests_for($job->{run_id}, undef, $n);
	# Time for a POST too many to show.
	sleep 0.2;
	@reqs = requests_for($job->{run_id});
	is(scalar @reqs, $n, "$what: $n POST" . ($n == 1 ? '' : 's'));
	return @reqs;
}

for my $code (400, 422) {
	my $job = job(model_id => "standin:status=$code");
	my $r = run_job($job);
	expect($r, what => "the route's $code", status => 69, http => $code,
	    attempts => 1, ambiguous => 0, blame => 'schedule',
	    error => qr{^HTTP $code from the application: \{"error"});
	posts_are($job, 1, "the route's $code: not retried");
}

{
	my $job = job(model_id => 'standin:status=500');
	my $r = run_job($job);
	expect($r, what => "the route's 500", status => 75, http => 500,
	    attempts => 3, ambiguous => 0, blame => 'platform',
	    error => qr{^HTTP 500 from the application: });
	my @reqs = posts_are($job, 3, "the route's 500: retried");
	is_deeply([map { $_->{headers}{'idempotency-key'} } @reqs],
	    [($job->{run_id}) x 3], "the route's 500: the same Idempotency-Key "
	    . 'each time');
	is_deeply([map { $_->{body} } @reqs], [($reqs[0]{body}) x 3],
	    "the route's 500: the same body each time");
	ok($reqs[1]{t_start} - $reqs[0]{t_end} >= 0.09,
	    "the route's 500: a pause before the second attempt");
	# The pauses are a twentieth of the 2 s deadline, 100 ms, doubled:
	# at least 200 ms before the third (a loaded machine only adds).
	ok($reqs[2]{t_start} - $reqs[1]{t_end} >= 0.19,
	    "the route's 500: a longer pause before the third");
	my @lines = grep { /attempt \d\/3/ } split /\n/, $r->{stderr};
	is(scalar @lines, 3, "the route's 500: one log line per attempt");
}

{
	my $job = job(model_id => 'standin:status=429');
	my $r = run_job($job);
	expect($r, what => "the route's 429", status => 75, http => 429,
	    attempts => 3, ambiguous => 0, blame => 'platform');
	posts_are($job, 3, "the route's 429: retried");
}

# --- ambiguous: the request went out, no answer of the route's came ----------

for my $case (['status=502', 75, 502, qr{^HTTP 502 from the application: }],
    ['status=503', 75, 503, qr{^HTTP 503 from the application: }],
    ['status=504', 75, 504, qr{^HTTP 504 from the application: }],
    ['flaky=2', 75, 503, qr{^HTTP 503 from the application: }],
    ['close', 75, 0, qr/^connection closed without an answer$/],
    ['down', 75, 0, qr/^connection closed without an answer$/],
    ['badjson', 76, 200, qr/^HTTP 200 but the answer is not JSON$/],
    ['no-test-run-id', 76, 200, qr/^HTTP 200 without a test_run_id$/],
    ['bad-uuid', 76, 200, qr/^HTTP 200 but test_run_id is not a UUID$/],
    ['huge', 76, 200, qr/^HTTP 200 but the answer is larger than 65536 bytes$/],
    ['lost=502', 75, 502, qr{^HTTP 502 from the application: <html>}],
    ['lost=504', 75, 504, qr{^HTTP 504 from the application: <html>}],
    ['lost=close', 75, 0, qr/^connection closed without an answer$/]) {
	my ($mode, $status, $http, $error) = @$case;
	my $job = job(model_id => "standin:$mode");
	my $r = run_job($job);
	expect($r, what => $mode, status => $status, http => $http,
	    attempts => 1, ambiguous => 1, blame => 'platform',
	    error => $error);
	posts_are($job, 1, "$mode: not retried");
	like($r->{stderr}, qr/attempt 1\/3: .*: not tried again \(whether a batch test started is for the supervisor to find out\)$/m,
	    "$mode: the log says why it is not tried again");
	like($r->{stderr}, qr/attempt 1\/3: .*\Q$URL\E\/api\/batch-testing\/run/,
	    "$mode: the log names the URL");
	unlike($r->{out}, qr/127\.0\.0\.1|\b$port\b/, "$mode: the result does not");
}

# A gateway's page that names where the request was going: the result,
# which the schedule's owner reads, has the address masked (the path
# with it); the log keeps it.
for my $case (['named,status=502', $URL, "127.0.0.1:$port"],
    ['named,lost=504', $URL, "127.0.0.1:$port"],
    ['named,status=503', "http://localhost:$port", "localhost:$port"]) {
	my ($mode, $url, $host) = @$case;
	my $what = "$mode at $host";
	my $r = run_job(job(model_id => "standin:$mode", app_url => $url));
	expect($r, what => $what, status => 75, attempts => 1, ambiguous => 1,
	    error => qr{^HTTP 50\d from the application: <html> .*<body>\s+<p>upstream \[address\] did not answer</p>});
	unlike($r->{out}, qr/127\.0\.0\.1|localhost|$port|batch-testing/,
	    "$what: no host, port or path in the result");
	like($r->{stderr}, qr{HTTP 50\d from \Q$url\E/api/batch-testing/run: .*<p>upstream http://\Q$host\E/api/batch-testing/run did not answer},
	    "$what: the log has the URL and the page as it came");
}

{
	# What a refused connection proves: not a byte of the request left.
	my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
	    LocalPort => 0, Listen => 1) or die "socket: $!";
	my $free = $sock->sockport;
	close $sock;
	my $r = run_job(job(app_url => "http://127.0.0.1:$free"));
	expect($r, what => 'connection refused', status => 75, http => 0,
	    attempts => 3, ambiguous => 0, blame => 'platform',
	    error => qr/^connection refused$/);
	like($r->{stderr}, qr{attempt 3/3: connection refused; POST http://127\.0\.0\.1:$free/api/batch-testing/run: \S.*127\.0\.0\.1},
	    'connection refused: the log has the URL and libcurl\'s words');
}

SKIP: {
	# A host that does not resolve (.invalid never does, RFC 6761), when
	# the resolver says so at once.
	my $t0 = time;
	my ($err) = Socket::getaddrinfo('evalsched-app.invalid', '3000');
	skip 'the resolver does not refuse .invalid at once', 4
	    unless $err && time - $t0 < 0.5;
	my $r = run_job(job(app_url => 'http://evalsched-app.invalid:3000'));
	expect($r, what => 'unknown host', status => 75, http => 0,
	    attempts => 3, ambiguous => 0, blame => 'platform',
	    error => qr/^cannot resolve the application's host$/);
	like($r->{stderr}, qr{POST http://evalsched-app\.invalid:3000/api/batch-testing/run: .*evalsched-app\.invalid},
	    'unknown host: the log has the URL and libcurl\'s words');
}

# --- the schedule's API key -----------------------------------------------------

{
	my %key = (api_key_encrypted => $SEALED, encryption_key => $EKEY);
	my $job = job(%key);
	my $r = run_job($job);
	my $res = expect($r, what => 'API key', status => 0, attempts => 1);
	is($res->{api_key}, 'opened', 'API key: opened');
	my ($q) = requests_for($job->{run_id}, undef, 1);
	like($q->{headers}{'x-api-key'} // '', qr/^wak_/,
	    'API key: sent as X-API-Key');

	for my $case (['key', 'Invalid API key', 69, 'schedule', 1],
	    ['format', 'Invalid API key format', 69, 'schedule', 1],
	    ['config', 'Server configuration error', 69, 'platform', 1],
	    ['db', 'Database error', 75, 'platform', 3],
	    ['internal', 'Internal server error', 75, 'platform', 3]) {
		my ($kind, $text, $status, $blame, $n) = @$case;
		$job = job(%key, model_id => "standin:auth=$kind");
		$r = run_job($job);
		$res = expect($r, what => "API key, 401 $text", status => $status,
		    http => 401, attempts => $n, ambiguous => 0, blame => $blame,
		    error => qr/^HTTP 401 from the application: \{"error": "\Q$text\E"\}$/);
		is($res->{api_key}, 'opened', "API key, 401 $text: it opened");
		posts_are($job, $n, "API key, 401 $text: "
		    . ($n == 1 ? 'not retried' : 'retried'));
	}

	# The service key: no 401 text is the schedule's.
	$job = job(model_id => 'standin:auth=key');
	$r = run_job($job);
	$res = expect($r, what => 'service key, 401 Invalid API key',
	    status => 69, http => 401, attempts => 1, ambiguous => 0,
	    blame => 'platform');
	ok(!exists $res->{api_key}, 'service key: no api_key in the result');

	# Sealed under another key, or damaged: it does not open.
	(my $damaged = $SEALED) =~ tr/A-Za-z/B-ZAb-za/;
	$job = job(api_key_encrypted => $damaged, encryption_key => $EKEY);
	$r = run_job($job);
	$res = expect($r, what => 'API key that does not open', status => 65,
	    http => 0, attempts => 0, ambiguous => 0, blame => 'schedule',
	    error => qr/^the schedule's API key cannot be decrypted/);
	is($res->{api_key}, 'unopened', 'API key that does not open: unopened');
	is(scalar(requests_for($job->{run_id})), 0,
	    'API key that does not open: no request');
}

# --- the deadline -----------------------------------------------------------

# A deadline of $ms was waited for and then kept.  The stand-in never
# ends the request itself, so the run ends by the deadline or never: the
# wall clock is bounded only for liveness.  The jobrunner's own
# elapsed_ms leaves out its start-up and exit, where a sanitizer build is
# slow; its bound is twice the deadline, slack for a loaded machine, not
# a claim about speed.
sub deadline_kept {
	my ($r, $res, $ms, $what) = @_;
	cmp_ok($r->{secs}, '>=', $ms / 1000 - 0.1, "$what: waited for the deadline");
	cmp_ok($r->{secs}, '<', 30, "$what: and ended by it");
	my $el = $res->{elapsed_ms} // -1;
	ok($el >= $ms && $el < 2 * $ms,
	    "$what: the jobrunner measured the deadline it kept ($el ms)");
}

{
	my $job = job(model_id => 'standin:hang', timeout_ms => 1500);
	my $r = run_job($job);
	my $res = expect($r, what => 'hang', status => 75, http => 0,
	    attempts => 1, ambiguous => 1, blame => 'platform',
	    error => qr/^timed out after 1\.5 s \(1 attempt\)$/);
	deadline_kept($r, $res, 1500, 'hang');
	is(scalar(requests_for($job->{run_id}, undef, 1)), 1,
	    'hang: one request');
}

{
	# 600 ms per answer, 1 s in all: the second attempt meets the
	# deadline, its request sent: that one is ambiguous.
	my $job = job(model_id => 'standin:slow=600,status=500',
	    timeout_ms => 1000);
	my $r = run_job($job);
	my $res = expect($r, what => 'retries inside the deadline',
	    status => 75, attempts => 2, ambiguous => 1,
	    error => qr/^timed out after 1 s \(2 attempts\)$/);
	deadline_kept($r, $res, 1000, 'the deadline covers the retries');
}

# --- bad jobs ----------------------------------------------------------------

for my $case (['not JSON', 'this is not json', qr/^bad job: not JSON/],
    ['empty stdin', '', qr/^bad job: not JSON/],
    ['an array', '[]', qr/^bad job: not a JSON object$/],
    ['no run_id', encode_json({ %{ job() }, run_id => undef }),
	qr/^bad job: run_id is missing$/],
    ['a bad user_id', encode_json(job(user_id => $KEY)),
	qr/^bad job: user_id is not a UUID$/],
    ['a key with a newline', encode_json(job(service_role_key => "$KEY\r\nX: y")),
	qr/^bad job: service_role_key contains control characters$/],
    ['an ftp app_url', encode_json(job(app_url => 'ftp://127.0.0.1/')),
	qr/^bad job: app_url must be an http:\/\/ or https:\/\/ URL$/],
    ['an app_url with a space', encode_json(job(app_url => 'http://exa mple.com')),
	qr/^bad job: app_url is not a valid URL: bad host \(an ASCII name, a\.b\.c\.d or \[IPv6\]\)$/],
    ['a zero timeout', encode_json(job(timeout_ms => 0)),
	qr/^bad job: timeout_ms must be between/],
    ['a config array', encode_json(job(batch_test_config => [1])),
	qr/^bad job: batch_test_config is not a JSON object$/],
    ['a job over 1 MiB', encode_json(job(schedule_name => 'x' x (1 << 20))),
	qr/^bad job: the job is larger than 1048576 bytes$/],
    ['a NUL byte', encode_json(job()) . "\0", qr/^bad job: the job holds a NUL/]) {
	my ($what, $stdin, $error) = @$case;
	my $r = run_raw($stdin);
	expect($r, what => "bad stdin: $what", status => 65, http => 0,
	    attempts => 0, error => $error);
}

# --- the result left behind -------------------------------------------------

# Its reader gone (stdout a pipe nobody reads), the jobrunner leaves the
# result in result_dir for the next supervisor, naming the spool's node.
sub run_orphaned {
	my ($job) = @_;
	my $n = ++$RUNS;
	open my $in, '>', "$dir/job$n.json" or die;
	print $in encode_json($job);
	close $in;
	pipe my $r, my $w or die "pipe: $!";
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		close $r;
		open STDIN, '<', "$dir/job$n.json" or _exit(126);
		open STDOUT, '>&', $w or _exit(126);
		open STDERR, '>', "$dir/err$n" or _exit(126);
		exec $BIN or _exit(127);
	}
	close $r;
	close $w;
	waitpid $pid, 0;
	return { status => $? >> 8, stderr => slurp("$dir/err$n") // '' };
}

{
	my $left = "$dir/left";
	mkdir $left or die "mkdir $left: $!";
	open my $fh, '>', "$left/.node" or die;
	print $fh qq{"node-\\"q\\""\n};
	close $fh;
	chmod 0600, "$left/.node";
	for my $case (['accepted', job(result_dir => $left), 0, 'node-"q"'],
	    ['refused', job(result_dir => $left,
	    model_id => 'standin:status=400'), 69, 'node-"q"'],
	    ['no node marker', job(result_dir => "$dir"), 0, undef]) {
		my ($what, $job, $status, $node) = @$case;
		my $r = run_orphaned($job);
		is($r->{status}, $status, "left behind, $what: exit $status");
		like($r->{stderr}, qr/result left in/,
		    "left behind, $what: says so") or diag $r->{stderr};
		my $path = "$job->{result_dir}/$job->{run_id}.result";
		my $text = slurp($path) // '';
		my $doc = eval { decode_json($text) };
		ok(ref $doc eq 'HASH', "left behind, $what: one JSON object")
		    or diag $text;
		is(scalar(() = $text =~ /\n/g), 1, "left behind, $what: one line");
		is($doc->{run_id}, $job->{run_id}, "left behind, $what: run_id");
		is($doc->{node}, $node, "left behind, $what: node");
		is($doc->{exit_status}, $status,
		    "left behind, $what: exit_status");
		is(ref $doc->{result}, 'HASH', "left behind, $what: the result");
		is($doc->{result}{http_status}, $status == 0 ? 200 : 400,
		    "left behind, $what: its http_status");
		unlike($text, qr/\Q$KEY\E/, "left behind, $what: no key");
	}
}

# --- the process title --------------------------------------------------------

SKIP: {
	skip 'no /proc', 5 unless -r "/proc/$$/cmdline";
	my $job = job(model_id => 'standin:slow=1000');
	open my $in, '>', "$dir/title.json" or die;
	print $in encode_json($job);
	close $in;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open STDIN, '<', "$dir/title.json" or _exit(126);
		open STDOUT, '>', '/dev/null';
		open STDERR, '>', "$dir/title.err";
		exec $BIN or _exit(127);
	}
	my ($cmdline, $environ) = ('', '');
	my $t0 = time;
	while (time - $t0 < 5 && $cmdline !~ /run /) {
		sleep 0.02;
		$cmdline = slurp("/proc/$pid/cmdline") // '';
		$environ = slurp("/proc/$pid/environ") // '';
	}
	waitpid $pid, 0;
	like($cmdline, qr/run \Q$job->{run_id}\E nightly regression/,
	    'the process title names the run and the schedule');
	unlike($cmdline, qr/\Q$KEY\E/, 'the key is not in its command line');
	unlike($environ, qr/\Q$KEY\E/, 'nor in its environment');
	is($? >> 8, 0, 'and the job still runs to success');
	unlike(slurp("$dir/title.err") // '', qr/setproctitle|Sanitizer/,
	    'setting the title complains of nothing');
}

# --- TLS ---------------------------------------------------------------------

SKIP: {
	skip 'no openssl(1) to make a certificate', 1
	    if system('openssl version >/dev/null 2>&1') != 0;
	system("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 "
	    . "-addext subjectAltName=IP:127.0.0.1 -days 2 "
	    . "-keyout '$dir/key.pem' -out '$dir/cert.pem' 2>/dev/null") == 0
	    or die "openssl req failed\n";
	my $tls_port = start_api('tls', '--tls-cert', "$dir/cert.pem",
	    '--tls-key', "$dir/key.pem");
	my $tls_url = "https://127.0.0.1:$tls_port";

	my $job = job(app_url => $tls_url);
	my $r = run_job($job);
	expect($r, what => 'TLS, unknown CA', status => 75, http => 0,
	    attempts => 3, ambiguous => 0, error => qr/^TLS error: [^:]*$/);
	is(scalar(requests_for($job->{run_id}, 'tls')), 0,
	    'TLS, unknown CA: nothing reached the application');

	$job = job(app_url => $tls_url, tls_ca_file => "$dir/cert.pem");
	$r = run_job($job);
	expect($r, what => 'TLS, tls_ca_file', status => 0, http => 200,
	    attempts => 1);
	is(scalar(requests_for($job->{run_id}, 'tls', 1)), 1,
	    'TLS, tls_ca_file: the request arrived');

	$job = job(app_url => $tls_url, tls_ca_file => "$dir/missing.pem");
	$r = run_job($job);
	expect($r, what => 'TLS, missing tls_ca_file', status => 75,
	    error => qr/^TLS error: [^:]*$/);
	unlike($r->{out}, qr/missing\.pem|\Q$dir\E/, 'TLS, missing tls_ca_file: no path in the result');
}

done_testing();
