# Where a daemon logs (the log key): a file, opened as the user the
# supervisor runs as and reopened on SIGHUP, as logrotate needs; the
# standard error it was started with; and syslog, said to be lost on the
# standard error when nothing listens on /dev/log.  No database: the
# supervisor logs that it cannot reach it, and goes on.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test;

my $t = Evalsched::Test->new;
my $dir = $t->dir;
my $sup = Evalsched::Test::bin('evalsched-supervisor');

# A configuration of its own for each case, the database nowhere.
sub conf {
	my (%over) = @_;
	return $t->write_config(database => "host=$dir/nowhere dbname=x",
	    pidfile => "$dir/daemon.pid", %over);
}

# Starts the daemon (no -f); returns its exit status and its pid.
sub daemon {
	my ($conf, @pre) = @_;
	unlink "$dir/daemon.pid";
	system(@pre, $sup, '-c', $conf) == -1 and die "$sup: $!";
	my $st = $? >> 8;
	my $pid;
	if ($st == 0) {
		$t->wait_until(sub { -s "$dir/daemon.pid" }, 10);
		($pid) = $t->slurp("$dir/daemon.pid") =~ /^(\d+)/;
	}
	return ($st, $pid);
}

# Gone, or a zombie: whoever reaps orphans here may be slow to.
sub stop {
	my ($pid) = @_;
	return 0 unless $pid;
	kill 'TERM', $pid;
	return $t->wait_until(sub { !kill(0, $pid) ||
	    $t->slurp("/proc/$pid/stat") =~ /^\d+ \(.*\) Z /s }, 20);
}

# Runs the daemon with stderr into $dir/daemon.err.
sub daemon_err {
	my ($conf, @pre) = @_;
	open my $save, '>&', \*STDERR or die;
	open STDERR, '>', "$dir/daemon.err" or die;
	my @r = daemon($conf, @pre);
	open STDERR, '>&', $save or die;
	return @r;
}

# --- a file, reopened on SIGHUP ---------------------------------------------

my $logdir = "$dir/logs";
mkdir $logdir;
my $log = "$logdir/evalsched.log";
my $conf = conf(log => $log);
my ($st, $pid) = daemon_err($conf);
is($st, 0, 'log = a file: the daemon starts');
ok($t->wait_until(sub { $t->slurp($log) =~ /starting evalsched/ }, 10),
    '... and logs to the file') or diag $t->slurp("$dir/daemon.err");
ok($t->wait_until(sub { $t->slurp($log)
    =~ /^\S+Z evalsched-supervisor\[$pid\]: database unreachable/m }, 10),
    '... each line stamped and named, as on a terminal');
is((stat $log)[2] & 07777, 0640, '... a file it creates is 0640');

rename $log, "$log.1" or die;
kill 'HUP', $pid;
ok($t->wait_until(sub { $t->slurp($log) =~ /reload: configuration reread/ }, 10),
    'SIGHUP after the file was moved: a new file, written from then on');
unlike($t->slurp("$log.1"), qr/reload:/, '... the moved one gets no more');

# A bad configuration at rotation still gets a new file.
rename $log, "$log.2" or die;
$t->spew($conf, $t->slurp($conf) . "bogus = 1\n");
kill 'HUP', $pid;
ok($t->wait_until(sub { $t->slurp($log) =~ /reload: configuration unchanged/ }, 10),
    'SIGHUP with a bad configuration: the file is reopened all the same');
like($t->slurp($log), qr/reload: \Q$conf\E:\d+: unknown key 'bogus'/,
    '... and the error is in it');
ok(stop($pid), 'the daemon stops');
like($t->slurp($log), qr/terminating$/m, '... and says so in the file');

# A link planted where the file goes is refused, its target untouched.
unlink $log;
$t->spew("$dir/victim", "untouched\n");
symlink "$dir/victim", $log or die;
($st) = daemon_err(conf(log => $log));
is($st, 78, 'a symbolic link as the log file: refused, 78');
like($t->slurp("$dir/daemon.err"), qr/log file \Q$log\E: .*symbolic link: refusing to follow it/,
    '... saying so on stderr');
is($t->slurp("$dir/victim"), "untouched\n", '... its target untouched');
unlink $log;

# --- as the user -----------------------------------------------------------

SKIP: {
	skip 'needs root and the user nobody', 7
	    unless $> == 0 && defined getpwnam('nobody');
	my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
	chown 0, 0, $logdir;
	chmod 0755, $logdir;
	my $key = "$dir/service.key";
	chown $uid, -1, $key;
	$conf = conf(log => $log, user => 'nobody',
	    spool_dir => "$dir/spool-nobody");
	my $r = $t->run_program([$sup, '-t', '-c', $conf]);
	is($r->{status}, 78, '-t: a log file the user cannot create: 78');
	like($r->{err}, qr/log: cannot create \Q$log\E: its directory \Q$logdir\E is not writable by the supervisor's user \(Permission denied\)/,
	    '... saying why');
	($st) = daemon_err($conf);
	is($st, 78, 'the daemon refuses to start too');
	like($t->slurp("$dir/daemon.err"), qr/log file \Q$log\E: Permission denied/,
	    '... saying so on stderr');

	chown $uid, $gid, $logdir;
	($st, $pid) = daemon_err($conf);
	is($st, 0, 'in a directory of the user\'s: the daemon starts');
	ok($t->wait_until(sub { $t->slurp($log) =~ /starting evalsched/ }, 10),
	    '... and logs there');
	is((stat $log)[4], $uid, '... to a file it made as nobody');
	stop($pid);
	unlink $log;
	chown $uid, -1, $key;	# write_config rewrote it
}

# --- the standard error --------------------------------------------------------

($st, $pid) = daemon_err(conf(log => 'stderr'));
is($st, 0, 'log = stderr: the daemon starts');
ok($t->wait_until(sub { $t->slurp("$dir/daemon.err") =~ /starting evalsched/ }, 10),
    '... and, detached, goes on writing to the standard error it had');
isnt(getppid(), $pid, '... detached indeed');
stop($pid);

# --- syslog with nobody listening ----------------------------------------------

SKIP: {
	my @pre;
	if (-e '/dev/log') {
		skip 'something listens on /dev/log, and unshare cannot hide it', 2
		    unless $> == 0 && system('unshare -m true 2>/dev/null') == 0;
		@pre = ('unshare', '-m', 'sh', '-c',
		    'mount --bind /dev/null /dev/log && exec "$@"', 'sh');
	}
	($st, $pid) = daemon_err(conf(log => 'syslog'), @pre);
	stop($pid);
	is($st, 0, 'log = syslog with nothing on /dev/log: the daemon starts');
	like($t->slurp("$dir/daemon.err"), qr/: warning: log: syslog, but nothing listens on \/dev\/log \(.*\): every message after this one is lost; set log = stderr, or log = \S+$/m,
	    '... and says on stderr that every message is lost');
}

done_testing;
