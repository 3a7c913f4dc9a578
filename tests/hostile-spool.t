# Hostile neighbours in the spool and the pid file's directory (issue 14,
# items 1 and 2), tried as an attacker would: root runs the supervisor
# with user = nobody, and postgres plays the other account on the host.
# A spool others can write to, or a symlinked one, is refused; files
# planted in the spool (another owner, a symlink, a hard link, another
# node, a FIFO) are never taken and never hang start-up; a symlinked pid
# file is refused, its target untouched.  The legitimate paths go on
# working: a fresh spool is made and given to the user, and the result a
# real orphaned jobrunner leaves is recorded.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use POSIX qw(mkfifo);
use Evalsched::Test;

plan skip_all => 'needs root to run as a user and to play others' if $> != 0;
my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
my ($evil) = (getpwnam('postgres'))[2];
plan skip_all => 'needs the users nobody and postgres' unless defined $uid && defined $evil;

my $t = Evalsched::Test->new;
my $dir = $t->dir;
$t->start_pg;
$t->start_api(mode => 'never');	# batch tests stay under way

# Starts a supervisor that must refuse to; returns its exit status and log.
sub refused {
	my ($name, %conf) = @_;
	my $conf = $t->write_config(user => 'nobody', %conf);
	$t->start_supervisor(config => $conf, name => $name, wait_ready => 0);
	my $st = $t->wait_exit($name, 15);
	return (defined $st ? $st >> 8 : 'still running', $t->supervisor_log($name));
}

sub mode_of { return sprintf '%04o', (stat $_[0])[2] & 07777 }
sub owner_of { return (stat $_[0])[4] }

# --- the spool directory ------------------------------------------------

# The fix never takes a directory from another account: it may be the
# spool of a packaged service that runs as that account.
my $give = 'fix: chown nobody:\S+ DIR && chmod 0750 DIR';
for my $case ([ 'world-writable', 0777, 0, $give ],
    [ 'group-writable', 0770, $uid, 'fix: chmod 0750 DIR' ],
    [ 'sticky and world-writable', 01777, 0, $give ],
    [ "another user's", 0750, $evil, 'run the supervisor as its owner '
    . '\(user = postgres, or -u postgres\) or give it a spool_dir of its own' ]) {
	my ($what, $mode, $owner, $fix) = @$case;
	my $spool = "$dir/spool-" . ($what =~ s/\W+/-/gr);
	mkdir $spool;
	chown $owner, 0, $spool;
	chmod $mode, $spool;
	my ($st, $log) = refused($what, spool_dir => $spool);
	is($st, 78, "$what spool_dir: refused with 78");
	like($log, qr/spool directory \Q$spool\E is owned by \S+ with mode \Q@{[mode_of($spool)]}\E: it must belong to root or nobody/,
	    "$what spool_dir: the message names the directory, its owner and mode");
	$fix =~ s/DIR/\Q$spool\E/g;
	like($log, qr/and be writable by its owner alone; $fix$/m,
	    "$what spool_dir: and says how to fix it");
	is(owner_of($spool), $owner, "$what spool_dir: its owner is unchanged");
}

# Root without a user, and the spool of another account, as a packaged
# service's is: run as that account, never a chown that takes it away.
{
	my $spool = "$dir/spool-packaged";
	mkdir $spool;
	chown $evil, 0, $spool;
	chmod 0750, $spool;
	my ($st, $log) = refused('as root', spool_dir => $spool, user => undef);
	is($st, 78, 'another account\'s spool_dir, run as root: refused with 78');
	like($log, qr/owned by postgres with mode 0750: it must belong to root and be writable by its owner alone; run the supervisor as its owner \(user = postgres, or -u postgres\)/,
	    '... saying to run as its owner');
	unlike($log, qr/root or root|chown/, '... neither "root or root" nor a chown');
	is(owner_of($spool), $evil, '... its owner unchanged');
}

# A symlinked spool_dir: root must not chown the link's target.
my $target = "$dir/victim-dir";
mkdir $target;
chown $evil, 0, $target;
chmod 0700, $target;
symlink $target, "$dir/spool-link" or die;
my ($st, $log) = refused('symlink', spool_dir => "$dir/spool-link");
is($st, 78, 'symlinked spool_dir: refused with 78');
like($log, qr/spool directory \Q$dir\E\/spool-link is a symbolic link/, '... saying so');
is(owner_of($target), $evil, '... its target keeps its owner');
is(mode_of($target), '0700', '... and its mode');
symlink "$dir/nowhere", "$dir/spool-dangling" or die;
($st, $log) = refused('dangling', spool_dir => "$dir/spool-dangling");
is($st, 78, 'a symlink to nothing as spool_dir: refused too');
ok(!-e "$dir/nowhere", '... and nothing made where it points');

# --- the pid file -------------------------------------------------------

my $victim = "$dir/victim-file";
$t->spew($victim, "precious\n");
mkdir "$dir/run";
symlink $victim, "$dir/run/evalsched.pid" or die;
($st, $log) = refused('pid symlink', pidfile => "$dir/run/evalsched.pid");
is($st, 78, 'symlinked pid file: refused with 78');
like($log, qr/pid file \Q$dir\E\/run\/evalsched.pid is a symbolic link/, '... saying so');
is($t->slurp($victim), "precious\n", '... its target untouched');
unlink "$dir/run/evalsched.pid";
link $victim, "$dir/run/evalsched.pid" or die;
($st, $log) = refused('pid hard link', pidfile => "$dir/run/evalsched.pid");
is($st, 78, 'a pid file with a second name: refused with 78');
like($log, qr/not a regular file with one link/, '... saying so');
is($t->slurp($victim), "precious\n", '... the other name untouched');
unlink "$dir/run/evalsched.pid";
mkdir "$dir/run-nobody";
chown $uid, $gid, "$dir/run-nobody";
($st, $log) = refused('pid dir', pidfile => "$dir/run-nobody/evalsched.pid");
is($st, 78, "a pid directory the user can write to: refused with 78");
like($log, qr/pid file \Q$dir\E\/run-nobody\/evalsched.pid: its directory \Q$dir\E\/run-nobody is owned by uid $uid with mode 0755/,
    '... naming the directory, its owner and mode');
ok(!-e "$dir/run-nobody/evalsched.pid", '... and no pid file is made there');

# --- files planted in a live spool --------------------------------------

# A fresh spool: made by the supervisor and given to the user.
my $spool = "$dir/fresh-spool";
my $conf = $t->write_config(user => 'nobody', spool_dir => $spool,
    pidfile => "$dir/run/evalsched.pid", lease => 6, max_concurrent => 8);
my %id;
$id{$_} = $t->add_schedule(name => $_, model_id => 'standin:slow=120000,never')
    for qw(owner link hardlink node fifo control);
$id{real} = $t->add_schedule(name => 'real', model_id => 'standin:slow=8000,never');
my $old = $t->start_supervisor(config => $conf, name => 'old');
is(owner_of($spool), $uid, 'a fresh spool is given to the user');
is(mode_of($spool), '0750', '... mode 0750');
is(owner_of("$spool/.node"), $uid, 'the node marker is the user\'s');
is(mode_of("$spool/.node"), '0600', '... mode 0600');
like($t->slurp("$dir/run/evalsched.pid"), qr/^$old\n?$/, 'the pid file is written');

sub run_of {
	my ($name) = @_;
	return $t->sql_value("SELECT id FROM scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$id{$name}'");
}
sub status_of {
	my ($name) = @_;
	return $t->sql_value("SELECT status || ' ' || coalesce(batch_test_run_id::text, '-') "
	    . "FROM scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$id{$name}'");
}
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
    . "WHERE status = 'triggered'") == 7 }, 10), 'seven runs in flight');
# Claimed is not yet dispatched: kill it only once every jobrunner runs.
ok($t->wait_until(sub { (() = $t->supervisor_log('old') =~ /dispatched run/g) == 7 }, 10),
    '... each with its jobrunner');
kill 'KILL', $old;
$t->wait_exit('old', 5);

# What a jobrunner would leave for an accepted run, with a batch test id
# of the attacker's choosing.
my $forged = Evalsched::Test::uuid();
sub forged_result {
	my ($name, $node) = @_;
	my $run = run_of($name);
	return qq({"run_id": "$run", "node": "$node", "exit_status": 0, )
	    . qq("result": {"http_status": 201, "test_run_id": "$forged", "attempts": 1, "elapsed_ms": 7}}\n);
}
sub plant {
	my ($file, $text, $owner) = @_;
	$t->spew($file, $text);
	chown $owner, $gid, $file;
	chmod 0600, $file;
}
plant("$spool/" . run_of('owner') . '.result', forged_result('owner', 'test-node'), $evil);
plant("$dir/elsewhere.json", forged_result('link', 'test-node'), $uid);
symlink "$dir/elsewhere.json", "$spool/" . run_of('link') . '.result' or die;
plant("$dir/second-name.json", forged_result('hardlink', 'test-node'), $uid);
link "$dir/second-name.json", "$spool/" . run_of('hardlink') . '.result' or die;
plant("$spool/" . run_of('node') . '.result', forged_result('node', 'other-node'), $uid);
mkfifo("$spool/" . run_of('fifo') . '.result', 0600) or die;
mkfifo("$spool/" . run_of('fifo') . '.outcome', 0600) or die;
chown $uid, $gid, map { "$spool/" . run_of('fifo') . $_ } '.result', '.outcome';
# A spooled success for a run, from another account.
my $outcome = "$spool/" . run_of('owner') . '.outcome';
plant($outcome, sprintf(qq({"run_id": "%s", "owner": "%s", "kind": "success", "test_run_id": "%s", )
    . qq("schedule_name": "owner", "node": "test-node"}\n), run_of('owner'), Evalsched::Test::uuid(), $forged), $evil);
# The control: the same document written as the user is taken, so the
# others are refused for who wrote them and how, not for their text.
plant("$spool/" . run_of('control') . '.result', forged_result('control', 'test-node'), $uid);

my $new = eval { $t->start_supervisor(config => $conf, name => 'new') };
ok($new, 'start-up does not hang on a FIFO named like a spool file') or diag $@;
ok($t->wait_until(sub { status_of('control') eq "running $forged" }, 15),
    'control: a result the user wrote for this node is taken') or diag $t->supervisor_log('new');
ok($t->wait_until(sub { status_of('real') =~ /^running [0-9a-f-]{36}$/ }, 60),
    'a real orphaned jobrunner\'s result is recorded as accepted') or diag $t->supervisor_log('new');
$log = $t->supervisor_log('new');
my $real = run_of('real');
like($log, qr/run $real: recorded the real outcome its orphaned jobrunner left \(accepted\)/,
    '... by the new supervisor, from the result its jobrunner left');
for my $name (qw(owner link hardlink node fifo)) {
	like(status_of($name), qr/^running -$/, "$name: the run is taken over as lost (unresolved), not accepted");
}
is($t->sql_value("SELECT count(*) FROM scheduled_evaluations WHERE last_run_status = 'success' "
    . "AND name IN ('owner', 'link', 'hardlink', 'node', 'fifo')"), 0, 'no planted success reaches a schedule');
my $r = run_of('owner');
like($log, qr/skipped \Q$spool\E\/$r\.result: owned by uid $evil/, 'another owner\'s result: skipped, saying why');
like($log, qr/skipped \Q$spool\E\/$r\.outcome: owned by uid $evil/, 'another owner\'s spooled outcome: skipped');
$r = run_of('link');
like($log, qr/skipped \Q$spool\E\/$r\.result: a symbolic link/, 'a symlinked result: skipped');
$r = run_of('hardlink');
like($log, qr/skipped \Q$spool\E\/$r\.result: a file with 2 links/, 'a hard-linked result: skipped');
$r = run_of('node');
like($log, qr/skipped \Q$spool\E\/$r\.result: written for node other-node, not test-node/,
    'a result for another node: skipped');
$r = run_of('fifo');
like($log, qr/skipped \Q$spool\E\/$r\.outcome: not a regular file/, 'a FIFO outcome: skipped');
like($log, qr/skipped \Q$spool\E\/$r\.result: not a regular file/, 'a FIFO result: skipped');
ok(-p "$spool/$r.result" && -l "$spool/" . run_of('link') . '.result', 'what was planted is left in place');
is($t->stop_supervisor('new') >> 8, 0, 'clean exit');
done_testing;
