# Hostile neighbours after the keys, tried as an attacker would:
#
# - an API that echoes the key it was sent in a long error body, at every
#   offset around the excerpt's cut, in a body longer than we read, in
#   JSON, or only a part of it: no piece of 8 characters of a key it was
#   sent (the service key, a schedule's own API key) reaches the
#   jobrunner's log or result, nor the supervisor's log, nor a run's
#   error_message or error_details, and the encryption key (never sent)
#   shows nowhere;
# - another process of the same user reading a jobrunner's or a
#   notifier's memory (/proc/PID/mem, environ): refused, as neither is
#   dumpable, and no process of ours may leave a core file;
# - a configuration that leaks the key (a key file or a config readable by
#   others, a config others may write, app_url in clear to another host,
#   user nobody): -n warns on each in file:line form and still says
#   "configuration OK"; the supervisor warns in its log at start; a clean
#   setup gets no warning.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json encode_json);
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);
use Evalsched::Test qw(uuid);

plan skip_all => 'no /proc' unless -r "/proc/$$/status";
delete @ENV{qw(http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy
    ALL_PROXY)};

# A schedule's own API key, sealed by the application under $EKEY (as in
# apikey.t).  Pieces of $EKEY are common words ("evalsched"): it is
# looked for whole.
my $EKEY = 'evalsched-apikey-t-encryption-key-0123456789';
my $API_KEY = 'wak_apikeyt_good_7Hq2Vx9Lm3Rt6Yp1';
my $SEALED = 'jn208P8s2sBT2nrZuSbx2OKVtMynGBC/HQ4uLmd2OTI8g9Pbk0Mss8Htwr5zV8gl'
    . '9JyMzvCv2UMgacI0XeNZXLEpMugRI2fSIoRrXy9f+jfbfyBKD9Oy/Ve/OM6db8mTIw==';
# A key longer than the excerpt, JWT-like.
my $LONG_KEY = 'eyJhbGciOiJIUzI1NiJ9.' . join('', map {
    ('A'..'Z', 'a'..'z', 0..9, '_', '-')[rand 64] } 1 .. 280);

my $t = Evalsched::Test->new;
my $dir = $t->dir;
my $JOBRUNNER = Evalsched::Test::bin('evalsched-jobrunner');
my $NOTIFIER = Evalsched::Test::bin('evalsched-notifier');
my $SUP = Evalsched::Test::bin('evalsched-supervisor');

# The first 8-character piece of $key found in $text, or undef.
sub piece_of {
	my ($text, $key) = @_;
	for my $i (0 .. length($key) - 8) {
		my $piece = substr($key, $i, 8);
		return $piece if index($text, $piece) >= 0;
	}
	return undef;
}

sub no_piece {
	my ($text, $what, @keys) = @_;
	my @found = grep { defined } map { piece_of($text, $_) } @keys;
	push @found, 'the encryption key' if index($text, $EKEY) >= 0;
	ok(!@found, "$what: no 8-character piece of a key")
	    or diag "found '$found[0]' in: $text";
}

# --- the hostile API ----------------------------------------------------------

# POST /api/batch-testing/run answers by config.model_id, "echo:SPEC":
#   OFFSET[,prefix=N][,utf8][,big][,status=N][,app]  a body of filler,
#       then the key it was sent (X-API-Key, else x-service-role-key), or
#       its first N characters, then more filler; utf8: the filler is
#       two-byte characters; big: the body runs past 64 KiB; app: all in
#       the application's {"error": "..."}, the schedule's failure
#   json    a JSON error that quotes the key and every header
#   hang    answers nothing for 30 s
$t->spew("$dir/echo-api", <<'EOF');
import http.server, json, os, sys, time

class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('content-length') or 0))
        try:
            spec = json.loads(body)['config']['model_id']
        except Exception:
            spec = ''
        key = self.headers.get('x-api-key') or \
            self.headers.get('x-service-role-key') or ''
        spec = spec[5:] if spec.startswith('echo:') else 'json'
        status = 404
        if spec == 'hang':
            time.sleep(30)
            return
        if spec == 'json':
            out = json.dumps({'error': 'Invalid key ' + key,
                              'headers': dict(self.headers)}).encode()
        else:
            items = spec.split(',')
            off, opts = int(items[0]), dict(
                (i.split('=') + [''])[:2] for i in items[1:])
            shown = key[:int(opts['prefix'])] if 'prefix' in opts else key
            if 'status' in opts:
                status = int(opts['status'])
            head = b'{"error": "' if 'app' in opts else b''
            off = max(off - len(head), 0)
            if 'utf8' in opts:
                fill = ('\u00e9' * (off // 2) + ';' * (off % 2)).encode()
            else:
                fill = ('no such key; ' * (off // 13 + 1))[:off].encode()
            tail = b' ; see the docs' + b'.' * (70000 if 'big' in opts else 300)
            out = head + fill + shown.encode() + tail + (b'"}' if head else b'')
        self.send_response(status)
        self.send_header('content-type', 'text/plain; charset=utf-8')
        self.send_header('content-length', str(len(out)))
        self.end_headers()
        try:
            self.wfile.write(out)
        except OSError:
            pass

server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Echo)
server.daemon_threads = True
with open(sys.argv[1] + '.tmp', 'w') as f:
    f.write('%d\n' % server.server_address[1])
os.rename(sys.argv[1] + '.tmp', sys.argv[1])
server.serve_forever()
EOF
$t->spawn('echo-api', ['python3', "$dir/echo-api", "$dir/echo.port"], "$dir/echo.err");
$t->wait_until(sub { -s "$dir/echo.port" }, 15) or BAIL_OUT('the echo API did not start');
chomp(my $port = $t->slurp("$dir/echo.port"));
my $URL = "http://127.0.0.1:$port";

# --- the jobrunner alone ------------------------------------------------------

sub job {
	my (%over) = @_;
	return { run_id => uuid(), schedule_id => uuid(),
	    schedule_name => 'hostile', user_id => uuid(),
	    test_suite_id => uuid(), model_id => 'echo:0',
	    batch_test_config => {}, app_url => $URL,
	    service_role_key => $t->key, timeout_ms => 5000, %over };
}

my $NRUN = 0;
sub run_job {
	my ($job) = @_;
	my $n = ++$NRUN;
	$t->spew("$dir/job$n.json", encode_json($job));
	system("'$JOBRUNNER' <'$dir/job$n.json' >'$dir/out$n' 2>'$dir/err$n'");
	my $out = $t->slurp("$dir/out$n");
	return { status => $? >> 8, out => $out, err => $t->slurp("$dir/err$n"),
	    result => eval { decode_json($out) } // {} };
}

# The excerpt is cut at 200 bytes: every offset that leaves a part of the
# key on either side of the cut, and some that do not.
my @OFFSETS = (0, 1, 50, 100, 150, 159, 160, 161, 170, 180, 185, 190, 191,
    192, 193, 195, 199, 200, 201, 250, 1000);
for my $case (['the service key', $t->key, {}],
    ['a key longer than the excerpt', $LONG_KEY, {}],
    ["the schedule's API key", $API_KEY, { api_key_encrypted => $SEALED,
	encryption_key => $EKEY }]) {
	my ($what, $key, $over) = @$case;
	my %job = (%$over, service_role_key => $key eq $API_KEY ? $t->key : $key);
	my @keys = ($key, $job{service_role_key});
	my @specs = ((map { "echo:$_" } @OFFSETS),
	    (map { "echo:$_,utf8" } 150, 170, 191, 192, 193),
	    (map { "echo:$_,big" } 0, 180, 190), 'echo:180,status=500',
	    (map { "echo:$_,prefix=20" } 0, 100, 185), 'echo:json');
	my ($leaks, $right) = (0, 0);
	for my $spec (@specs) {
		my $r = run_job(job(%job, model_id => $spec));
		my $text = join "\n", $r->{out}, $r->{err};
		my @found = grep { defined } map { piece_of($text, $_) } @keys;
		push @found, 'the encryption key' if index($text, $EKEY) >= 0;
		if (@found) {
			$leaks++;
			diag "$what, $spec: '$found[0]' in:\n$text";
		}
		my $want = $spec =~ /status=500/ ? 75 : 69;
		$right++ if $r->{status} == $want && ($r->{result}{error} // '')
		    =~ /^HTTP (?:404|500) from the application: \S/;
	}
	is($leaks, 0, "$what echoed at " . scalar(@specs) . ' offsets and forms: '
	    . 'no 8-character piece of a key in the result or the log');
	is($right, scalar @specs, "$what: each run still fails as refused, "
	    . 'quoting the answer');
}

{
	# The legitimate path: what is not a key is still quoted.
	my $r = run_job(job(model_id => 'echo:26'));
	like($r->{result}{error}, qr/: no such key; no such key; \*{40} ; see the docs\.+$/,
	    'the key is masked in place and the rest of the answer quoted')
	    or diag $r->{out};
	$r = run_job(job(model_id => 'echo:13,prefix=12'));
	like($r->{result}{error}, qr/: no such key; \*{12} ; see the docs\.+$/,
	    'a part of the key is masked in place')
	    or diag $r->{out};
	$r = run_job(job(model_id => 'echo:13,prefix=7'));
	like($r->{result}{error}, qr/: no such key; \Q${\ substr($t->key, 0, 7)}\E ; see the docs\.+$/,
	    'less than 8 characters of it are left as they are')
	    or diag $r->{out};
	my $fill = substr('no such key; ' x 20, 0, 192);
	$r = run_job(job(model_id => 'echo:192'));
	like($r->{result}{error}, qr/: \Q$fill\E\*{8}$/,
	    'the start of a key left at the cut is masked')
	    or diag $r->{out};
	$fill = substr('no such key; ' x 20, 0, 195);
	$r = run_job(job(model_id => 'echo:195'));
	like($r->{result}{error}, qr/: \Q$fill\E\*{5}$/,
	    'the key is masked in the whole answer before the cut')
	    or diag $r->{out};
}

# --- no peeking at a process's memory -----------------------------------------

# As root, the programs run as an unprivileged user, and so does the peer
# that tries to read them; else both are us.
my ($UID, $GID) = $> == 0 ? (getpwnam('nobody'))[2, 3] : ($>, $) + 0);

sub become {
	return unless $> == 0;
	$( = $) = "$GID $GID";
	$< = $> = $UID;
	die "cannot become $UID\n" unless $> == $UID && $< == $UID;
}

# Starts @cmd as that user, stdin from the handle $in; returns its pid
# once it has exec'ed.
sub start_as {
	my ($in, @cmd) = @_;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open STDIN, '<&', $in or _exit(126);
		open STDOUT, '>', '/dev/null';
		open STDERR, '>>', "$dir/peek.err";
		become();
		exec @cmd or _exit(127);
	}
	my $comm = substr((split m{/}, $cmd[0])[-1], 0, 15);
	$t->wait_until(sub { $t->slurp("/proc/$pid/comm") eq "$comm\n" }, 10);
	return $pid;
}

# What a peer of the same user gets of /proc/PID/mem and environ: "ok" or
# the errno's name, each.
sub peek {
	my ($pid, @files) = @_;
	pipe(my $r, my $w) or die "pipe: $!";
	my $kid = fork // die "fork: $!";
	if ($kid == 0) {
		close $r;
		become();
		print $w join ' ', map { open(my $fh, '<', "/proc/$pid/$_") ? 'ok' :
		    $!{EACCES} ? 'EACCES' : "$!" } @files;
		close $w;
		_exit(0);
	}
	close $w;
	my $got = <$r> // '';
	waitpid $kid, 0;
	return $got;
}

sub core_limit {
	my ($pid) = @_;
	return $t->slurp("/proc/$pid/limits") =~ /^Max core file size\s+(\S+)\s+(\S+)/m ?
	    "$1 $2" : '?';
}

SKIP: {
	skip 'no user nobody to run as', 13 unless defined $UID;

	# The method first: a dumpable process of the same user is open to
	# its peers (its memory too, where Yama allows).
	open my $null, '<', '/dev/null' or die;
	my $sleeper = start_as($null, 'sleep', '30');
	is(peek($sleeper, 'environ'), 'ok', 'control: a dumpable process is open to its user');
	is((stat "/proc/$sleeper/environ")[4], $UID, 'control: its /proc files are its user\'s');
	kill 'KILL', $sleeper;
	waitpid $sleeper, 0;

	# A jobrunner holding the service key and a schedule's API key,
	# waiting on the API.
	my $n = ++$NRUN;
	$t->spew("$dir/job$n.json", encode_json(job(model_id => 'echo:hang',
	    timeout_ms => 20000, api_key_encrypted => $SEALED, encryption_key => $EKEY)));
	open my $job, '<', "$dir/job$n.json" or die;
	my $runner = start_as($job, $JOBRUNNER);
	ok($t->wait_until(sub { grep { (readlink($_) // '') =~ /^socket:/ }
	    glob "/proc/$runner/fd/*" }, 10), 'the jobrunner has read its job and called the API');
	like($t->slurp("/proc/$runner/status"), qr/^Uid:\s+$UID\s/m, "it runs as uid $UID");
	is(peek($runner, 'mem', 'environ'), 'EACCES EACCES',
	    'another process of its user can read neither its memory nor its environment');
	is((stat "/proc/$runner/environ")[4], 0, 'its /proc files are root\'s: it is not dumpable');
	is(core_limit($runner), '0 0', 'it can leave no core file (RLIMIT_CORE 0, hard 0)');
	kill 'KILL', $runner;
	waitpid $runner, 0;

	# A notifier, still reading its alert (webhook secrets) on stdin.
	pipe(my $r, my $w) or die "pipe: $!";
	my $notifier = start_as($r, $NOTIFIER);
	close $r;
	ok(kill(0, $notifier), 'the notifier waits for its alert');
	# Exec'ed is not yet hardened: give its main() the moment it needs.
	$t->wait_until(sub { ((stat "/proc/$notifier/environ")[4] // -1) == 0 }, 10);
	is(peek($notifier, 'mem', 'environ'), 'EACCES EACCES',
	    'the notifier\'s memory is closed to its user too');
	is((stat "/proc/$notifier/environ")[4], 0, 'the notifier is not dumpable');
	is(core_limit($notifier), '0 0', 'the notifier can leave no core file');
	close $w;
	waitpid $notifier, 0;
	is($? >> 8, 65, 'and it ends on an empty alert as ever');
	unlike($t->slurp("$dir/peek.err"), qr/Sanitizer|prctl|setrlimit/, 'nothing complained');
}

# --- through the supervisor: the log and the recorded errors -----------------

$t->start_pg;
$t->spew("$dir/long.key", "$LONG_KEY\n");
chmod 0600, "$dir/long.key";
$t->spew("$dir/encryption.key", "$EKEY\n");
chmod 0600, "$dir/encryption.key";

sub supervised {
	my ($what, $keyfile, $key) = @_;
	$t->sql('UPDATE scheduled_evaluations SET is_active = false');
	# As the application's own refusals: the schedules' failures, so
	# that no circuit opens to slow the dispatches down.
	my @specs = ((map { "echo:$_,app" } 0, 150, 170, 185, 190, 192, 199, 250),
	    'echo:190,utf8,app', 'echo:0,prefix=30,app', 'echo:185,prefix=30,app');
	my @ids = map { $t->add_schedule(name => "$what: $_", model_id => $_) } @specs;
	push @ids, map { $t->add_schedule(name => "$what: keyed $_", model_id => $_,
	    api_key_encrypted => $SEALED) } 'echo:150,app', 'echo:185,app', 'echo:192,app';
	my $runs = "FROM scheduled_evaluation_runs WHERE scheduled_evaluation_id IN ("
	    . join(', ', map { "'$_'" } @ids) . ')';
	my $conf = $t->write_config(app_url => $URL, max_concurrent => 8, run_timeout => 30,
	    encryption_key_file => "$dir/encryption.key",
	    $keyfile ? (service_role_key_file => $keyfile) : ());
	my $pid = $t->start_supervisor(config => $conf, name => $what);
	ok($t->wait_until(sub { $t->sql_value("SELECT count(*) $runs AND status = 'failed'")
	    == @ids }, 30), "$what: the runs failed") or diag $t->supervisor_log($what);
	is(core_limit($pid), '0 0', "$what: the supervisor can leave no core file");
	is($t->stop_supervisor($what) >> 8, 0, "$what: stopped");
	my @rows = $t->sql("SELECT error_message, error_details::text $runs");
	is(scalar(grep { ($_->[1] // '') =~ /"blame": "schedule"/ } @rows), scalar @ids,
	    "$what: each the schedule's failure");
	is(scalar(grep { ($_->[0] // '') =~ /^HTTP 404 from the application: \S/ } @rows),
	    scalar @ids, "$what: each error quotes the refusal")
	    or diag explain \@rows;
	my $errors = join "\n", map { $_ // '' } map { @$_ } @rows;
	# The jobrunner's stderr, which the log has, is not recorded.
	unlike($errors, qr/"jobrunner_stderr"|\Q$URL\E/,
	    "$what: error_details hold neither the jobrunner's stderr nor the URL");
	like($t->supervisor_log($what), qr/jobrunner \d+: run \S+: attempt 1\/3: HTTP 404 from \Q$URL\E/,
	    "$what: the log has the jobrunner's lines");
	no_piece($errors, "$what: error_message and error_details", $key, $API_KEY);
	no_piece($t->supervisor_log($what), "$what: the supervisor's log", $key, $API_KEY);
}
supervised('the service key', undef, $t->key);
supervised('a long service key', "$dir/long.key", $LONG_KEY);

# --- dangerous configurations ------------------------------------------------

$t->sql('UPDATE scheduled_evaluations SET is_active = false');

sub check {
	my ($conf, @args) = @_;
	my $out = `'$SUP' -n -c '$conf' @args 2>&1`;
	return ($? >> 8, Evalsched::Test::no_settings($out));
}

sub line_of {
	my ($conf, $key) = @_;
	my @lines = split /\n/, $t->slurp($conf);
	my ($i) = grep { $lines[$_] =~ /^\Q$key\E = / } 0 .. $#lines;
	return $i + 1;
}

my $clean = $t->write_config;
is_deeply([check($clean)], [0, "configuration OK\n"], 'a clean setup: no warning');

$t->spew("$dir/open.key", $t->key . "\n");
chmod 0644, "$dir/open.key";
my $conf = $t->write_config(service_role_key_file => "$dir/open.key");
is_deeply([check($conf)], [0, "$conf:" . line_of($conf, 'service_role_key_file')
    . ": warning: service_role_key_file: $dir/open.key is readable by its group and "
    . "others (mode 0644): make it 0600, owned by the supervisor's user\nconfiguration OK\n"],
    'a key file 0644: warned, file:line');
chmod 0640, "$dir/open.key";
$conf = $t->write_config(service_role_key_file => undef, encryption_key_file => "$dir/open.key",
    service_role_key => $t->key);
chmod 0640, $conf;
is_deeply([check($conf)], [0, "$conf:" . line_of($conf, 'encryption_key_file')
    . ": warning: encryption_key_file: $dir/open.key is readable by its group (mode 0640): "
    . "make it 0600, owned by the supervisor's user\nconfiguration OK\n"],
    'an encryption key file 0640: warned; a key in a config 0640 is not');

$conf = $t->write_config(service_role_key_file => undef, service_role_key => $t->key);
chmod 0644, $conf;
my ($st, $out) = check($conf);
is_deeply([$st, $out], [0, "$conf:" . line_of($conf, 'service_role_key')
    . ": warning: service_role_key is in a file readable by others (mode 0644): use "
    . "service_role_key_file, or chmod o-r the file\nconfiguration OK\n"],
    'the key in a world-readable config: warned');
unlike($out, qr/\Q${\ $t->key }\E/, 'and the key is not shown');

$conf = $t->write_config;
chmod 0666, $conf;
is_deeply([check($conf)], [0, "$conf: warning: writable by its group and others (mode 0666): "
    . "whoever can change it chooses the programs run and where the keys go; chmod go-w it\n"
    . "configuration OK\n"], 'a config 0666: warned');

for my $url (qw(http://evals.example.org http://10.1.2.3:3000 http://[::2]:3000)) {
	(my $host = $url) =~ s{^http://(\[[^]]+\]|[^:/]+).*}{$1};
	$conf = $t->write_config(app_url => $url);
	is_deeply([check($conf)], [0, "$conf:" . line_of($conf, 'app_url')
	    . ": warning: app_url: plain http:// to $host, not this host: the keys would "
	    . "travel in clear; use https://\nconfiguration OK\n"], "app_url $url: warned");
}
for my $url (qw(https://evals.example.org http://127.0.0.1:3000 http://127.9.9.9
    http://localhost:3000 http://[::1]:3000)) {
	is_deeply([check($t->write_config(app_url => $url))], [0, "configuration OK\n"],
	    "app_url $url: no warning");
}
{
	local $ENV{NEXT_PUBLIC_APP_URL} = 'http://evals.example.org';
	my ($st, $out) = check($clean);
	is($st, 0, 'an http app_url from the environment: exit 0');
	my $want = '\Aenvironment: NEXT_PUBLIC_APP_URL: warning: app_url: plain http:// to '
	    . 'evals\.example\.org, not this host: the keys would travel in clear; use https://\n'
	    . 'environment: warning: NEXT_PUBLIC_APP_URL: this check uses them, the service does '
	    . 'not: its init script and unit start the supervisor with only what '
	    . '/\S*default/evalsched sets\nconfiguration OK\n\z';
	like($out, qr/$want/, '... warned, and that the service will not have it');
}

# Run as root, -n becomes the user and reads the key file as it: the
# supervisor reads it again as that user on SIGHUP.
chown scalar(getpwnam('nobody')), -1, "$dir/service.key" if $> == 0;
my $NOBODY = "warning: user nobody is an account other daemons share; create one for evalsched\n";
$conf = $t->write_config(user => 'nobody');
is_deeply([check($conf)], [0, "$conf:" . line_of($conf, 'user') . ": $NOBODY"
    . "configuration OK\n"], 'user = nobody: warned');
is_deeply([check($clean, '-u', 'nobody')], [0, "-u: $NOBODY" . "configuration OK\n"],
    '-u nobody: warned');

# All at once, each warned, and the supervisor says them at start too.
chmod 0644, "$dir/open.key";
$conf = $t->write_config(service_role_key_file => "$dir/open.key",
    app_url => 'http://evals.example.org', user => 'nobody');
chmod 0666, $conf;
($st, $out) = check($conf);
is($st, 0, 'every warning at once: still exit 0');
my @warnings = grep { /: warning: / } split /\n/, $out;
is(scalar @warnings, 4, 'four warnings') or diag $out;
like($out, qr/\nconfiguration OK\n\z/, 'then "configuration OK"');
$t->start_supervisor(config => $conf, args => ['-1'], name => 'once', wait_ready => 0);
ok(defined $t->wait_exit('once', 30), 'the supervisor ran once');
my $log = $t->supervisor_log('once');
for my $w (@warnings) {
	(my $what = $w) =~ s/^.*?: warning: //;
	like($log, qr/evalsched-supervisor\[\d+\]: .*\Q$what\E/, "logged at start: $what");
}
done_testing;
