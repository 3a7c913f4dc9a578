# Per-schedule API keys.  A schedule with api_key_encrypted (sealed as the
# application's lib/models/encryption.ts seals it) is sent with X-API-Key,
# decrypted in the jobrunner, and without the service-role headers; a
# value that does not decrypt is the schedule's failure once the
# encryption_key has opened another schedule's; an encryption_key that
# has opened none, and a deployment without encryption_key, fail those
# runs as the platform's (nobody charged) and -n warns of the latter; an API key the application refuses (401) is the
# schedule's.  Neither the decrypted key nor the encryption key shows in
# a log, a recorded error, or a jobrunner's argv or environment.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json);
use MIME::Base64 qw(decode_base64 encode_base64);
use Evalsched::Test qw(uuid);

# Sealed once with Node's crypto by the application's own encrypt(),
# under ENCRYPTION_KEY = $EKEY (the unknown key) and, for $OTHER_SEALED,
# under another encryption key.
my $EKEY = 'evalsched-apikey-t-encryption-key-0123456789';
my $GOOD_PLAIN = 'wak_apikeyt_good_7Hq2Vx9Lm3Rt6Yp1';
my $GOOD = 'jn208P8s2sBT2nrZuSbx2OKVtMynGBC/HQ4uLmd2OTI8g9Pbk0Mss8Htwr5zV8gl'
    . '9JyMzvCv2UMgacI0XeNZXLEpMugRI2fSIoRrXy9f+jfbfyBKD9Oy/Ve/OM6db8mTIw==';
my $UNKNOWN_PLAIN = 'wak_apikeyt_unknown_4Fz8Kc2Nw5Qs';
my $UNKNOWN = 'Kw4j2gnskDuErWjhpJqvg8wIkERxgnFbPEvhmeEl1F1W+LgvCs/l26T8VE6p6wmB'
    . 'hk8vDyXhPNffbr76HC2e2pHQskPtATSPUfEUpyB2rIfDUQJUxOX24JX48oSD2h4S';
my $OTHER_SEALED = '+YXQ+hEVNSuWbkPCNMfxl9GuuLiX7c+ItrH4dbpK3A+wTsLCCps2r7W+Ve7kVOeT'
    . 'oHbykpvbGWVY9bLuTzLoI4IxyPHdpuXEmtnethuUwIBAlYFhR//4S7VIndv3RkuVrA==';
my @SECRETS = ($EKEY, $GOOD_PLAIN, $UNKNOWN_PLAIN);

# One flipped bit in the ciphertext: still base64, no longer authentic.
my $raw = decode_base64($GOOD);
substr($raw, 64 + 5, 1) = chr(ord(substr($raw, 64 + 5, 1)) ^ 0x01);
my $DAMAGED = encode_base64($raw, '');

my $CANNOT = "the schedule's API key cannot be decrypted (wrong encryption_key, "
    . "or a damaged api_key_encrypted)";
my $NO_KEY = 'the schedule has an encrypted API key but no encryption_key is configured';

my $t = Evalsched::Test->new;
$t->start_pg;
my $owner = uuid();
$t->start_api(mode => 'never', api_keys => ["$GOOD_PLAIN $owner"]);
my $sup = Evalsched::Test::bin('evalsched-supervisor');

sub details {
	my ($id) = @_;
	my @rows = $t->sql("SELECT status, error_message, error_details FROM "
	    . "scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$id' "
	    . "ORDER BY triggered_at");
	return map { [$_->[0], $_->[1], defined $_->[2] ? decode_json($_->[2]) : {}] } @rows;
}

sub status_of {
	my ($id) = @_;
	my ($first) = details($id);
	return $first ? $first->[0] : '';
}

sub failures_of {
	my ($id) = @_;
	return $t->sql_value("SELECT consecutive_failures FROM scheduled_evaluations WHERE id = '$id'");
}

sub request_of {
	my ($id) = @_;
	return grep { ($_->{headers}{'x-scheduled-evaluation-id'} // '') eq $id } $t->api_requests;
}

# --- with the encryption key (from the environment, as the application) --

# The keys that do not open fall due once the encryption key has opened
# one: until then, the key is the likelier culprit than theirs.
my $later = \"now() + interval '1 hour'";
my %id = (
	keyed => $t->add_schedule(name => 'keyed', user_id => $owner, api_key_encrypted => $GOOD),
	plain => $t->add_schedule(name => 'plain', user_id => $owner),
	damaged => $t->add_schedule(name => 'damaged', api_key_encrypted => $DAMAGED,
	    next_run_at => $later),
	other => $t->add_schedule(name => 'other key', api_key_encrypted => $OTHER_SEALED,
	    next_run_at => $later),
	garbage => $t->add_schedule(name => 'garbage', api_key_encrypted => 'not base64!',
	    next_run_at => $later),
	unknown => $t->add_schedule(name => 'unknown', api_key_encrypted => $UNKNOWN),
	hung => $t->add_schedule(name => 'hung', user_id => $owner, api_key_encrypted => $GOOD,
	    model_id => 'standin:hang'),
);
my $conf = $t->write_config(poll_interval => 2, max_concurrent => 8, run_timeout => 60,
    shutdown_grace => 0);
$t->start_supervisor(config => $conf, child => sub { $ENV{ENCRYPTION_KEY} = $EKEY });

ok($t->wait_until(sub { status_of($id{keyed}) eq 'running' }, 20),
    'keyed: the run is accepted') or diag $t->supervisor_log;
my ($req) = request_of($id{keyed});
is($req->{headers}{'x-api-key'}, $GOOD_PLAIN, 'keyed: X-API-Key carries the decrypted key');
ok(!exists $req->{headers}{'x-service-role-key'}, 'keyed: no x-service-role-key');
ok(!exists $req->{headers}{'x-user-id'}, 'keyed: no x-user-id');
my ($run) = $t->sql("SELECT id, batch_test_run_id FROM scheduled_evaluation_runs "
    . "WHERE scheduled_evaluation_id = '$id{keyed}'");
is_deeply([@{ $req->{headers} }{qw(x-scheduled-evaluation x-scheduled-evaluation-id
    x-scheduled-evaluation-run-id idempotency-key content-type)}],
    ['true', $id{keyed}, $run->[0], $run->[0], 'application/json'], 'keyed: the other headers as ever');
is($t->sql_value("SELECT user_id FROM batch_test_runs WHERE id = '$run->[1]'"), $owner,
    'keyed: the batch test belongs to the key\'s user');
is(failures_of($id{keyed}), 0, 'keyed: no failure');
$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() WHERE id IN "
    . "('$id{damaged}', '$id{other}', '$id{garbage}')");

ok($t->wait_until(sub { request_of($id{plain}) == 1 }, 20), 'plain: requested');
($req) = request_of($id{plain});
is_deeply([$req->{headers}{'x-service-role-key'}, $req->{headers}{'x-user-id'},
    exists $req->{headers}{'x-api-key'} ? 1 : 0], [$t->key, $owner, 0],
    'plain: the service-role headers, no X-API-Key');

for my $name (qw(damaged other garbage)) {
	ok($t->wait_until(sub { status_of($id{$name}) eq 'failed' }, 20),
	    "$name: the run failed");
	my ($st, $msg, $d) = @{ (details($id{$name}))[0] };
	is($msg, $CANNOT, "$name: the error says the key cannot be decrypted");
	is($d->{blame}, 'schedule', "$name: blamed on the schedule");
	is($d->{exit_status}, 65, "$name: jobrunner exit 65");
	is(failures_of($id{$name}), 1, "$name: counted");
	is(scalar(request_of($id{$name})), 0, "$name: no request made");
}

ok($t->wait_until(sub { status_of($id{unknown}) eq 'failed' }, 20),
    'unknown key: the run failed');
($req) = request_of($id{unknown});
is($req->{headers}{'x-api-key'}, $UNKNOWN_PLAIN, 'unknown key: sent decrypted');
is($req->{answered}, 401, 'unknown key: the application answered 401');
my ($st, $msg, $d) = @{ (details($id{unknown}))[0] };
like($msg, qr/^HTTP 401 from .*Invalid API key/, 'unknown key: the error quotes the refusal');
is_deeply([$d->{blame}, $d->{http_status}], ['schedule', 401], 'unknown key: 401 blamed on the schedule');
is(failures_of($id{unknown}), 1, 'unknown key: counted');
unlike($t->supervisor_log, qr/circuit open/, 'the schedules\' failures leave the circuit closed');

# The hung run's jobrunner holds the decrypted key: look at it from outside.
ok($t->wait_until(sub { request_of($id{hung}) == 1 }, 20), 'hung: request in flight');
my %kids = $t->jobrunners_of($t->supervisor_pid);
cmp_ok(scalar keys %kids, '>=', 1, 'hung: its jobrunner is alive');
for my $pid (sort keys %kids) {
	my ($cmdline, $environ) = @{ $kids{$pid} };
	ok(!grep({ index($cmdline, $_) >= 0 } @SECRETS), "jobrunner $pid: no secret in its argv");
	ok(!grep({ index($environ, $_) >= 0 } @SECRETS), "jobrunner $pid: no secret in its environment");
	unlike($environ, qr/ENCRYPTION_KEY/, "jobrunner $pid: no ENCRYPTION_KEY variable");
}
is($t->stop_supervisor >> 8, 0, 'stopped');

my $check = `$sup -n -c $conf 2>&1`;
is($? >> 8, 0, '-n without a key and with keyed schedules: exit 0');
like($check, qr/warning: \d+ active schedule\(s\) have an encrypted API key but encryption_key is not set/,
    '-n: warns without the key (ENCRYPTION_KEY is not in this environment)');
$t->spew($t->dir . '/encryption.key', "$EKEY\n");
chmod 0600, $t->dir . '/encryption.key';
my $with_key = $t->write_config(encryption_key_file => $t->dir . '/encryption.key');
$check = Evalsched::Test::no_settings(scalar `$sup -n -c $with_key 2>&1`);
is($? >> 8, 0, '-n with encryption_key_file: exit 0');
is($check, "configuration OK\n", '-n with encryption_key_file: no warning');

# --- without the encryption key: the platform's failure -------------------

$t->sql('UPDATE scheduled_evaluations SET is_active = false');
my $nokey = $t->add_schedule(name => 'no encryption key', api_key_encrypted => $GOOD);
$t->add_schedule(name => 'keyed, later', api_key_encrypted => $GOOD,
    next_run_at => \"now() + interval '1 hour'");
$t->add_schedule(name => 'keyed, paused', api_key_encrypted => $GOOD, is_active => 'false');
my $no_conf = $t->write_config(run_timeout => 30);
$check = Evalsched::Test::no_settings(scalar `$sup -n -c $no_conf 2>&1`);
is($? >> 8, 0, '-n without encryption_key: exit 0');
is($check, "$no_conf: warning: 2 active schedule(s) have an encrypted API key but "
    . "encryption_key is not set; their runs will fail (counted against nobody)\n"
    . "configuration OK\n", '-n: the warning counts the active keyed schedules');

$t->start_supervisor(config => $no_conf, args => ['-1'], name => 'once', wait_ready => 0);
my $status = $t->wait_exit('once', 30);
is(defined $status ? $status >> 8 : -1, 0, '-1 without encryption_key: done, exit 0');
($st, $msg, $d) = @{ (details($nokey))[0] // [] };
is($st, 'failed', 'no encryption_key: the run failed');
is($msg, $NO_KEY, 'no encryption_key: the error says so');
is($d->{blame}, 'platform', 'no encryption_key: blamed on the platform');
is($d->{exit_status}, 78, 'no encryption_key: jobrunner exit 78');
is(failures_of($nokey), 0, 'no encryption_key: nobody charged');
is(scalar(request_of($nokey)), 0, 'no encryption_key: no request made');

# --- a wrong encryption key: it opens nobody's key -------------------------

$t->sql('UPDATE scheduled_evaluations SET is_active = false');
my $wrong = $t->add_schedule(name => 'wrong encryption key', api_key_encrypted => $GOOD);
$t->start_supervisor(config => $no_conf, args => ['-1'], name => 'wrong', wait_ready => 0,
    child => sub { $ENV{ENCRYPTION_KEY} = 'not-the-application-s-encryption-key' });
$status = $t->wait_exit('wrong', 30);
is(defined $status ? $status >> 8 : -1, 0, '-1 with a wrong encryption_key: done, exit 0');
($st, $msg, $d) = @{ (details($wrong))[0] // [] };
is($st, 'failed', 'wrong encryption_key: the run failed');
like($msg, qr/^\Q$CANNOT\E; the encryption_key has opened no schedule's API key since it was loaded: the deployment's fault/,
    'wrong encryption_key: the error says whose fault it is');
is($d->{blame}, 'platform', 'wrong encryption_key: blamed on the platform');
is(failures_of($wrong), 0, 'wrong encryption_key: nobody charged');

# --- nothing leaks ----------------------------------------------------------

my $logs = join '', map { $t->slurp($_) } glob($t->dir . '/supervisor*.log');
ok(length $logs, 'the supervisors logged');
for my $s (@SECRETS) {
	ok(index($logs, $s) < 0, 'no log line holds ' . substr($s, 0, 12) . '...');
}
my $recorded = join "\n", map { map { $_ // '' } @$_ }
    $t->sql('SELECT error_message, error_details::text FROM scheduled_evaluation_runs');
ok(!grep({ index($recorded, $_) >= 0 } @SECRETS), 'no recorded error holds a secret');
done_testing;
