# evalschedctl watch: the events of runs as they happen, pushed by the
# schema additions' triggers (NOTIFY evalsched_events).  Watchers in JSON
# lines, in text, and filtered to one schedule by name and by id, while
# the supervisor runs schedules against the stand-in: a batch test that
# completes (dispatched, accepted, completed with its results), one
# refused three times (failed, blamed on the schedule, then disabled),
# one cancelled, a pause, a regression; a PostgreSQL restart in the middle
# that the watchers live through; text cut to keep a line short;
# SIGINT and SIGTERM end them with status 0.
#
# Any role may LISTEN and NOTIFY: a listener without privileges sees ids
# only, notifications forged by another role are not printed, a watcher
# prints only the rows it may read, and a hostile name or error text
# prints as one escaped line, in text and in JSON.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json encode_json);
use Time::HiRes qw(sleep);
use Evalsched::Test;

$ENV{TZ} = 'UTC';
my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
my $conf = $t->write_config(poll_interval => 2, quality_settle => 1);
my $ctl = Evalsched::Test::bin('evalschedctl');

sub ctl {
	my $out = `$ctl -c $conf @_ 2>&1`;
	return ($? >> 8, $out);
}

# --- the command line ------------------------------------------------------

my ($rc, $out) = ctl('watch', 'a', 'b');
is($rc, 64, 'two operands: usage');
like($out, qr/^usage: evalschedctl watch \[--json\] \[ID\|NAME\]$/m, 'the usage line');
($rc, $out) = ctl('watch', 'nosuch');
is($rc, 65, 'an unknown schedule: exit 65');
like($out, qr/no schedule 'nosuch'/, 'it says so');

# A database without the triggers: said, and schema-additions.sql (again)
# brings them.
$t->sql('DROP TRIGGER evalsched_notify_run ON scheduled_evaluation_runs');
($rc, $out) = ctl('watch');
is($rc, 70, 'no event triggers: exit 70');
like($out, qr/no event triggers: apply schema-additions\.sql/, 'it says what to do');
$t->psql_file(Evalsched::Test::top() . '/etc/schema-additions.sql');
is($t->sql_value("SELECT string_agg(tgname, ' ' ORDER BY tgname) FROM pg_trigger "
    . "WHERE tgname IN ('evalsched_notify_run', 'evalsched_notify_disabled')"),
    'evalsched_notify_disabled evalsched_notify_run', 'the additions applied once more bring them back');
is($t->sql_value("SELECT string_agg(proname || ' ' || prosecdef || ' ' || array_to_string(proconfig, ','), '; ' "
    . "ORDER BY proname) FROM pg_proc WHERE proname IN ('evalsched_notify_run', 'evalsched_notify_disabled')"),
    'evalsched_notify_disabled false search_path=""; evalsched_notify_run false search_path=""',
    'their functions run with the writer\'s rights and an empty search_path');

# --- the watchers ----------------------------------------------------------

# Roles without privileges: one listens, one forges.  And a viewer, who
# may read the schedules and runs but, by row-level security, not those
# of schedules named 'hidden ...'.
$t->sql('CREATE ROLE intruder LOGIN');
$t->sql('CREATE ROLE forger LOGIN');
$t->sql('CREATE ROLE viewer LOGIN');
$t->sql('GRANT SELECT ON scheduled_evaluations, scheduled_evaluation_runs TO viewer');
$t->sql('ALTER TABLE scheduled_evaluations ENABLE ROW LEVEL SECURITY');
$t->sql('ALTER TABLE scheduled_evaluation_runs ENABLE ROW LEVEL SECURITY');
$t->sql("CREATE POLICY viewer_sched ON scheduled_evaluations FOR SELECT TO viewer "
    . "USING (name NOT LIKE 'hidden%')");
$t->sql("CREATE POLICY viewer_runs ON scheduled_evaluation_runs FOR SELECT TO viewer "
    . "USING (scheduled_evaluation_id IN (SELECT id FROM scheduled_evaluations))");

# A role that may not read the runs: said at once.
(my $intruder_conf = $conf) =~ s/\.conf$/-intruder.conf/;
$t->spew($intruder_conf, $t->slurp($conf) =~ s/user=postgres/user=intruder/r);
$out = `$ctl -c $intruder_conf watch 2>&1`;
is($? >> 8, 70, 'a role that may not read the runs: exit 70');
like($out, qr/permission denied for table/, 'it says why');

# psql as another role, its commands fed as we go.
sub psql_as {
	my ($role, $out) = @_;
	my @cmd = $t->psql_cmd;
	$cmd[$_] = $role for grep { $cmd[$_ - 1] eq '-U' } 1 .. $#cmd;
	my $pid = open(my $psql, '|-') // die "fork: $!";
	if ($pid == 0) {
		open STDOUT, '>', $out or die;
		open STDERR, '>&', \*STDOUT;
		exec @cmd, '-A', '-t' or POSIX::_exit(127);
	}
	$psql->autoflush(1);
	return $psql;
}
my $heard = $t->dir . '/intruder.out';
my $intruder = psql_as('intruder', $heard);
print $intruder "LISTEN evalsched_events;\nSELECT 'listening';\n";
ok($t->wait_until(sub { ($t->slurp($heard) // '') =~ /listening/ }, 10), 'a role without privileges listens');

my %later = (next_run_at => \"now() + interval '1 hour'");
my $good = $t->add_schedule(name => 'good', %later,
    model_id => 'standin:prompts=5,fail=1,quality=0.75,latency=120,duration=300');
my $refused = $t->add_schedule(name => 'refused', %later, model_id => 'standin:status=400');
my $cancel = $t->add_schedule(name => 'cancelled one', %later, model_id => 'standin:cancel');

my %file;
sub watch {
	my ($name, @args) = @_;
	$file{$name} = $t->dir . "/watch-$name.out";
	$t->spawn("watch-$name", [$ctl, '-c', $conf, 'watch', @args], $file{$name});
}
watch('json', '--json');
watch('text');
watch('byname', '--json', 'good');
watch('byid', $refused);
(my $viewer_conf = $conf) =~ s/\.conf$/-viewer.conf/;
$t->spew($viewer_conf, $t->slurp($conf) =~ s/user=postgres/user=viewer/r);
$file{viewer} = $t->dir . '/watch-viewer.out';
$t->spawn('watch-viewer', [$ctl, '-c', $viewer_conf, '--json', 'watch'], $file{viewer});

# Listening and idle: between lookups (SELECT ...) and pings.
sub listeners {
	return $t->sql_value("SELECT count(*) FROM pg_stat_activity "
	    . "WHERE application_name = 'evalschedctl' AND state = 'idle'");
}
ok($t->wait_until(sub { listeners() == 5 }, 20), 'five watchers listen')
    or diag map { $t->slurp($_) } values %file;

# Events of the JSON watcher, as hash refs; its stderr lines are not JSON.
sub events {
	my ($name) = @_;
	return map { decode_json($_) } grep { /^\{/ } split /\n/, $t->slurp($file{$name // 'json'});
}
sub events_of {
	my ($id, $name) = @_;
	return grep { $_->{schedule_id} eq $id } events($name);
}
sub names { join ' ', map { $_->{event} } @_ }
sub last_event { my @e = events_of(@_); return @e ? $e[-1]{event} : '' }

sub due_again {
	my ($id) = @_;
	$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() WHERE id = '$id'");
}

$t->start_supervisor(config => $conf);
due_again($_) for $good, $refused, $cancel;

# --- a run that completes --------------------------------------------------

ok($t->wait_until(sub { names(events_of($good)) eq 'dispatched accepted completed' }, 20),
    'good: dispatched, accepted, completed, in order')
    or diag names(events_of($good)), "\n", $t->supervisor_log;
my ($run, $btr) = @{ ($t->runs_of($good, 'id, batch_test_run_id'))[0] };
my @ev = events_of($good);
is_deeply([map { $_->{run_id} } @ev], [($run) x 3], 'good: every event names the run');
is($ev[0]{schedule}, 'good', 'the schedule\'s name');
like($ev[0]{time}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/, 'the time, RFC 3339 in UTC');
ok(defined $ev[0]{slot_at}, 'dispatched: the slot fired');
is($ev[1]{batch_test_run_id}, $btr, 'accepted: the batch test');
ok(!exists $ev[1]{total_prompts}, 'accepted: no results yet');
is_deeply([@{ $ev[2] }{qw(batch_test_run_id total_prompts successful_prompts failed_prompts
    avg_latency_ms avg_quality_score)}], [$btr, 5, 4, 1, 120, 0.75],
    'completed: with its results');

# --- a schedule refused three times is disabled ----------------------------

for my $n (1 .. 3) {
	ok($t->wait_until(sub { $t->count_runs($refused, "status = 'failed'") == $n }, 20),
	    "refused: failure $n");
	due_again($refused) if $n < 3;
}
my $want = join ' ', ('dispatched failed') x 3, 'disabled';
ok($t->wait_until(sub { names(events_of($refused)) eq $want }, 10),
    'refused: dispatched and failed three times, then disabled, in order')
    or diag names(events_of($refused));
@ev = events_of($refused);
my @ids = map { $_->[0] } $t->runs_of($refused, 'id');
is_deeply([map { $_->{run_id} } grep { $_->{event} eq 'failed' } @ev], \@ids,
    'refused: each failure names its run');
is($ev[1]{blame}, 'schedule', 'failed: blamed on the schedule');
like($ev[1]{error}, qr/^HTTP 400 from /, 'failed: the error');
is($ev[6]{auto}, JSON::PP::true, 'disabled: auto');
is($ev[6]{consecutive_failures}, 3, 'disabled: after 3 failures');
is($ev[6]{reason}, '3 consecutive failures', 'disabled: why, as evalsched wrote it');
ok(!exists $ev[6]{run_id}, 'disabled: a schedule\'s event');

# --- cancelled, and a pause ------------------------------------------------

ok($t->wait_until(sub { names(events_of($cancel)) eq 'dispatched accepted cancelled' }, 20),
    'cancelled: dispatched, accepted, cancelled')
    or diag names(events_of($cancel));
($rc, $out) = ctl('pause', "'cancelled one'");
is($rc, 0, 'evalschedctl pause') or diag $out;
ok($t->wait_until(sub { last_event($cancel) eq 'disabled' }, 10),
    'a pause is a disabled event');
is((events_of($cancel))[-1]{auto}, JSON::PP::false, 'not an auto-disable');

# --- PostgreSQL restarts: the watchers go on -------------------------------

# The listener without privileges does not live through it: it says
# what it heard so far, and another one listens after.
print $intruder "SELECT 'before the restart';\n";
close $intruder;
is($t->pg_ctl('restart'), 0, 'pg_ctl restart');
for my $name (sort keys %file) {
	ok($t->wait_until(sub { $t->slurp($file{$name}) =~ /reconnected/ }, 30),
	    "$name: reconnected") or diag $t->slurp($file{$name});
}
like($t->slurp($file{json}), qr/^evalschedctl: watch: lost the database connection: .*; reconnecting$/m,
    'the loss is said on stderr');
like($t->slurp($file{json}), qr/^evalschedctl: watch: reconnected and listening; events while disconnected were not seen$/m,
    'and the reconnection');
ok($t->wait_until(sub { listeners() == 5 }, 20), 'five watchers listen again');
my $heard2 = $t->dir . '/intruder2.out';
$intruder = psql_as('intruder', $heard2);
print $intruder "LISTEN evalsched_events;\nSELECT 'listening';\n";
ok($t->wait_until(sub { ($t->slurp($heard2) // '') =~ /listening/ }, 10), 'it listens again');

# A second run of good, then a third that is a regression against it.
due_again($good);
ok($t->wait_until(sub { grep({ $_->{event} eq 'completed' } events_of($good)) == 2 }, 30),
    'after the restart: the next run\'s events appear')
    or diag names(events_of($good)), "\n", $t->supervisor_log;
$t->sql("UPDATE scheduled_evaluations SET model_id = "
    . "'standin:prompts=5,fail=2,quality=0.5,latency=80,duration=300' WHERE id = '$good'");
due_again($good);
ok($t->wait_until(sub { last_event($good) eq 'regression' }, 30),
    'a regression') or diag names(events_of($good));
is(names(events_of($good)), join(' ', ('dispatched accepted completed') x 3, 'regression'),
    'good: all its events, in order');
my ($r2, $r3) = map { $_->[0] } ($t->runs_of($good, 'id'))[1, 2];
@ev = events_of($good);
is($ev[-1]{run_id}, $r3, 'regression: the run');
is($ev[-1]{baseline_run_id}, $r2, 'regression: its baseline');
is($ev[-1]{regression_details}{avg_quality_score}{change_percent}, -33.33,
    'regression: the details');

# --- forged notifications, hostile text, rows the watcher may not read -----

# Another role NOTIFYs runs that do not exist, events its rows do not
# show, and things that are not our format at all.
my $fake_run = Evalsched::Test::uuid();
my $forge_out = $t->dir . '/forger.out';
my $forger = psql_as('forger', $forge_out);
my @fakes = (
	{ event => 'completed', run_id => $fake_run, schedule_id => $good },
	{ event => 'failed', run_id => Evalsched::Test::uuid(), schedule_id => $good,
	  schedule => 'good', error => 'forged failure', blame => 'platform' },
	{ event => 'regression', run_id => $run, schedule_id => $good },
	{ event => 'cancelled', run_id => $run, schedule_id => $good },
	{ event => 'disabled', schedule_id => $good, auto => JSON::PP::true },
	{ event => 'dispatched', run_id => "x' OR true --", schedule_id => $good },
	{ event => 'exploded', run_id => $run, schedule_id => $good },
);
print $forger "SELECT pg_backend_pid();\n";
print $forger 'SELECT pg_notify(\'evalsched_events\', ' . Evalsched::Test::quote($_) . ");\n"
    for (map { encode_json($_) } @fakes), 'not json', '[1, 2]', '{"event": "completed"}';
print $forger "SELECT 'forged';\n";
ok($t->wait_until(sub { ($t->slurp($forge_out) // '') =~ /forged/ }, 10), 'another role forged notifications');
my ($forger_pid) = ($t->slurp($forge_out) // '') =~ /^(\d+)$/m;
close $forger;

# Then real events, of a schedule whose name and error text try to pass
# for other events, and of one the viewer may not read.
my $hostile = qq{x" completed: run $fake_run, 5 of 5 prompts succeeded\n}
    . qq{2030-01-01 00:00:00 "good" disabled: paused};
my $evil_err = qq{boom"\n2030-01-01 00:00:00 "good" completed: run $fake_run\x1b[2J};
my $hid = $t->add_schedule(name => 'hidden one', %later);
my $hos = $t->add_schedule(name => $hostile, %later);
for my $id ($hid, $hos) {
	$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, status, slot_at, "
	    . "error_message, error_details) VALUES ('$id', 'failed', now(), "
	    . Evalsched::Test::quote($evil_err) . ", '{\"blame\": \"schedule\"}')");
	$t->sql("UPDATE scheduled_evaluations SET is_active = false WHERE id = '$id'");
}
# The hostile schedule's events come after the forgeries: once they are
# printed, the forgeries have been read.
ok($t->wait_until(sub { names(events_of($hos)) eq 'failed disabled' }, 20),
    'JSON: the hostile schedule\'s events are printed') or diag $t->slurp($file{json});
ok($t->wait_until(sub { names(events_of($hos, 'viewer')) eq 'failed disabled' }, 20),
    'the viewer: too') or diag $t->slurp($file{viewer});
ok($t->wait_until(sub { $t->slurp($file{text}) =~ /x\\" completed.*" disabled: paused$/m }, 20),
    'text: too') or diag $t->slurp($file{text});

my @all = events();
is(scalar(grep { ($_->{run_id} // '') eq $fake_run } @all), 0, 'a forged run is not printed');
is(scalar(grep { ($_->{error} // '') eq 'forged failure' } @all), 0, 'nor a forged failure');
is(names(events_of($good)), join(' ', ('dispatched accepted completed') x 3, 'regression'),
    'no forged event of a real run or schedule is printed');
is(scalar(grep { $_->{event} eq 'exploded' } @all), 0, 'nor an event of no known kind');
unlike($t->slurp($file{text}), qr/forged|exploded|not an event/, 'text: none either, and no complaint');

my @h = events_of($hos);
is(names(@h), 'failed disabled', 'JSON: the hostile schedule\'s two events');
is($h[0]{schedule}, $hostile, 'JSON: its name, whole');
is($h[0]{error}, $evil_err, 'JSON: its error, whole');
my @hl = grep { /x\\" completed/ } split /\n/, $t->slurp($file{text});
is(scalar(@hl), 2, 'text: its two events, one line each');
my $T0 = qr/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/;
my @parsed = map { [/^$T0 "((?:[^"\\]|\\.)*)" (\w+): (.*)$/] } @hl;
is_deeply([map { $_->[1] } @parsed], [qw(failed disabled)], 'text: read as its own events');
is($parsed[0][0] =~ s/\\n/\n/gr =~ s/\\(.)/$1/gr, $hostile, 'text: the name, escaped, between its quotes');
like($hl[0], qr/: boom"\\n2030-01-01 00:00:00 "good" completed: run \S+\\x1b\[2J$/, 'text: the error, escaped');
is($parsed[1][2], 'paused', 'text: a pause');

my @v = events('viewer');
is(scalar(grep { $_->{schedule_id} eq $hid } @v), 0, 'the viewer: nothing of a schedule it may not read');
is(scalar(grep { $_->{schedule_id} eq $hid } @all), 2, 'which the owner\'s watcher prints');
is(names(grep { $_->{schedule_id} eq $hos } @v), 'failed disabled', 'the viewer: what it may read');
is(names(grep { $_->{schedule_id} eq $good } @v), names(events_of($good)),
    'the viewer: good\'s events, as the owner sees them');

# --- text ------------------------------------------------------------------

ok($t->wait_until(sub { $t->slurp($file{text}) =~ /"good" regression: / }, 10),
    'text: up to the regression');
my $text = $t->slurp($file{text});
my $T = qr/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/;
like($text, qr/^$T "good" dispatched: run \Q$run\E$/m, 'text: dispatched');
like($text, qr/^$T "good" accepted: run \Q$run\E, batch test \Q$btr\E$/m, 'text: accepted');
like($text, qr/^$T "good" completed: run \Q$run\E, 4 of 5 prompts succeeded, latency 120 ms, quality 75\.0%$/m,
    'text: completed with its results');
like($text, qr/^$T "refused" failed: run \Q$ids[0]\E, the fault of the schedule: HTTP 400 from /m,
    'text: failed with the blame');
like($text, qr/^$T "refused" disabled: auto-disabled after 3 consecutive failures$/m,
    'text: auto-disabled');
like($text, qr/^$T "cancelled one" cancelled: run \S+: Cancelled by user$/m,
    'text: cancelled');
like($text, qr/^$T "cancelled one" disabled: paused$/m, 'text: paused');
# A bad row is auto-disabled too, and says what is wrong with it, not
# "after 0 consecutive failures".
$t->add_schedule(name => 'bad zone', timezone => 'Mars/Olympus');
ok($t->wait_until(sub { $t->slurp($file{text}) =~ /"bad zone" disabled: / }, 20),
    'text: a bad row\'s auto-disable') or diag $t->slurp($file{text});
like($t->slurp($file{text}), qr/^$T "bad zone" disabled: auto-disabled: bad schedule: .*Mars\/Olympus/m,
    'text: why, as evalsched wrote it');
like($text, qr/^$T "good" regression: run \Q$r3\E against run \Q$r2\E: quality -33\.33%, success rate -25\.00% \(threshold 10%\)$/m,
    'text: the regression');
like($text, qr/lost the database connection.*\n(?s:.*)reconnected/, 'text: the restart said');

# --- filters ---------------------------------------------------------------

ok($t->wait_until(sub { names(events('byname')) eq names(events_of($good)) }, 10),
    'by name: all of good\'s events');
my @by = events('byname');
is(scalar(grep { $_->{schedule_id} ne $good } @by), 0, 'by name: only good\'s events');
ok($t->wait_until(sub { (() = $t->slurp($file{byid}) =~ /"refused" /g) == 7 }, 10),
    'by id: refused\'s seven events') or diag $t->slurp($file{byid});
my $byid = $t->slurp($file{byid});
unlike($byid, qr/"good"|"cancelled one"/, 'by id: no one else\'s');

# --- long text is cut to keep a line short ---------------------------------

# 3000 times U+263A in UTF-8: 9000 bytes.
my $long = $t->add_schedule(name => "\xe2\x98\xba" x 3000, is_active => 'false');
$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, status, slot_at, "
    . "error_message, error_details) VALUES ('$long', 'failed', now(), "
    . "repeat('e', 100000), jsonb_build_object('blame', repeat('b', 5000)))");
ok($t->wait_until(sub { events_of($long) == 1 }, 10), 'a run with long text is announced');
my ($l) = events_of($long);
is(length($l->{error}), 200, 'the error cut to 200 characters');
is(length($l->{schedule}), 200, 'the name cut to 200 characters');
is(length($l->{blame}), 40, 'the blame cut');

# --- what a role without privileges heard ----------------------------------

print $intruder "SELECT 'done';\n";
close $intruder;
my %payloads;
my $notification = qr/^Asynchronous notification "evalsched_events" with payload "(.*)" received from server process with PID (\d+)\.$/m;
for my $file ($heard, $heard2) {
	my $text = $t->slurp($file);
	while ($text =~ /$notification/g) {
		push @{ $payloads{$file eq $heard2 && $2 == $forger_pid ? 'forged' : 'real'} }, $1;
	}
}
my @real = @{ $payloads{real} // [] };
cmp_ok(scalar(@real), '>=', 20, 'the listener without privileges heard the events')
    or diag $t->slurp($heard), $t->slurp($heard2);
my @keys = sort keys %{{ map { %{ decode_json($_) } } @real }};
is_deeply(\@keys, [qw(auto event run_id schedule_id)], 'only ids, an event and a flag');
my $said = join "\n", @real;
for my $secret ('good', 'refused', 'cancelled one', 'hidden one', 'x\\"', 'HTTP 400', 'boom',
    '\u263a', "\xe2\x98\xba", 'prompts', 'quality', 'latency', 'baseline', 'e' x 10) {
	unlike($said, qr/\Q$secret\E/, "no '$secret' in what it heard");
}
is(scalar(@{ $payloads{forged} // [] }), 10, 'it heard the forgeries too: anyone may NOTIFY');

# --- stopping --------------------------------------------------------------

$t->stop_supervisor;
is($t->stop('watch-text', 'TERM'), 0, 'SIGTERM: exit 0');
is($t->stop('watch-byname', 'INT'), 0, 'filtered: SIGINT, exit 0');
is($t->stop('watch-byid', 'INT'), 0, 'filtered by id: SIGINT, exit 0');
is($t->stop('watch-viewer', 'INT'), 0, 'the viewer: SIGINT, exit 0');
unlike($t->slurp($file{json}), qr/not an event|database: /, 'no complaints');

# While the database is down, it retries with backoff; SIGINT still ends it.
is($t->pg_ctl('stop'), 0, 'pg_ctl stop');
ok($t->wait_until(sub { $t->slurp($file{json}) =~
    /^evalschedctl: watch: cannot reconnect: .*; retrying in [\d.]+ s\n(?s:.*)retrying in/m }, 20),
    'the database down: attempts, with the next one\'s delay')
    or diag $t->slurp($file{json});
is($t->stop('watch-json', 'INT'), 0, 'SIGINT while reconnecting: exit 0');

done_testing;
