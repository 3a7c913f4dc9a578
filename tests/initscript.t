#!/usr/bin/perl
# The LSB init script, run for real against an installed tree: start,
# status, a second start, reload, stop, status after stop, restart, and a
# stale pid file.  The supervisor daemonizes and its pid file comes from
# the configuration's pidfile key.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evalsched::Test;
use POSIX ();
use Test::More;

my $t = Evalsched::Test->new;
my $top = Evalsched::Test::top();
my $prefix = $ENV{EVALSCHED_PREFIX} // '/usr/local';
my $etc = "$prefix/etc";
my $root = $ENV{EVALSCHED_ROOT};
unless (defined $root) {
	$root = $t->dir . '/root';
	system("make -s -C '$top' install DESTDIR='$root' PREFIX='$prefix' "
	    . "SYSCONFDIR='$etc' SYSTEMDDIR='$prefix/lib/systemd/system' "
	    . ">/dev/null") == 0 or BAIL_OUT('make install failed');
}
my $daemon = "$root$prefix/sbin/evalsched-supervisor";
plan skip_all => "the supervisor is not installed at $daemon" unless -x $daemon;
plan skip_all => 'start-stop-daemon is not installed'
    unless system('command -v start-stop-daemon >/dev/null 2>&1') == 0;

# --- what make install put in place -----------------------------------------

my $installed = "$root$etc/init.d/evalsched";
ok(-x $installed, 'the init script is installed, executable');
my $text = $t->slurp($installed);
unlike($text, qr/@\w+@/, 'its placeholders are substituted');
like($text, qr{^DAEMON=\Q$prefix\E/sbin/evalsched-supervisor$}m,
    '... the daemon under the prefix');
like($text, qr{^DEFAULTS=\Q$etc\E/default/evalsched$}m,
    '... the defaults file under SYSCONFDIR');
ok(-f "$root$etc/default/evalsched", 'the defaults file is installed');
ok(-f "$root$etc/evalsched/evalsched.conf", 'the sample config is installed');
my $unit = $t->slurp(glob("$root$prefix/lib/systemd/system/evalsched.service")
    // '');
like($unit, qr{^ExecStart=\Q$prefix\E/sbin/evalsched-supervisor -f }m,
    'the systemd unit runs the daemon in the foreground');

# The installed script, pointed at the tree under DESTDIR and at our own
# defaults file: nothing else is changed.
my $script = $t->dir . '/init.d-evalsched';
(my $ours = $text) =~ s{^DAEMON=.*$}{DAEMON=$daemon}m;
$ours =~ s{^DEFAULTS=.*$}{DEFAULTS=@{[$t->dir]}/default-evalsched}m;
$t->spew($script, $ours);
chmod 0755, $script;

$t->start_pg;
$t->start_api(mode => 'never');	# for the sentinel schedule below
my $pidfile = $t->dir . '/supervisor.pid';
my $conf = $t->write_config(pidfile => $pidfile, shutdown_grace => 2,
    max_concurrent => 3);
$t->spew($t->dir . '/default-evalsched', "DAEMON_ARGS=\"-c $conf\"\n");

sub init {
	my ($verb) = @_;
	my $out = `'$script' $verb 2>&1`;
	return ($? >> 8, $out);
}

sub pid_in_file {
	my $p = $t->slurp($pidfile);
	return $p =~ /^(\d+)\s*$/ ? $1 : undef;
}

# A zombie is gone too: whoever reaps orphans here may be slow to.
sub alive {
	my ($pid) = @_;
	return 0 unless $pid && kill(0, $pid);
	return $t->slurp("/proc/$pid/stat") !~ /^\d+ \(.*\) Z /s;
}

# start-stop-daemon matches a process by /proc/PID/exe, which goes with
# its memory, a moment before it is a zombie: a longer moment for a
# sanitizer build, whose exit unmaps much.  So wait for the end of it
# (a timeout for liveness only).
sub gone {
	my ($pid) = @_;
	return $t->wait_until(sub { !alive($pid) }, 10);
}

# The max_concurrent its process title shows ("3" of "0/3 running"):
# the daemon logs to syslog, so this is where a reload shows.
sub title_max {
	my ($pid) = @_;
	return $t->slurp("/proc/$pid/cmdline") =~ m{\d+/(\d+) running} ? $1 : undef;
}

# The configuration with another max_concurrent.
sub with_max {
	my ($text, $max) = @_;
	return $text =~ s/^max_concurrent = .*$/max_concurrent = "$max"/mr;
}

sub registered {
	my ($pid) = @_;
	return $t->wait_until(sub {
		$t->sql_value("SELECT count(*) FROM evalsched_supervisors "
		    . "WHERE pid = $pid AND stopped_at IS NULL") == 1 }, 30);
}

# --- start, status, a second start ----------------------------------------

my ($rc, $out) = init('status');
is($rc, 3, 'status before start: 3 (not running)');
($rc, $out) = init('start');
is($rc, 0, 'start: 0') or diag $out;
my $pid = pid_in_file();
ok(defined $pid, 'the pid file from the configuration is written');
ok(alive($pid), '... naming a live process');
is(readlink("/proc/$pid/exe"), $daemon, '... the supervisor');
isnt(getppid(), $pid, '... detached');
ok(registered($pid), 'the daemon registers in the database');
like($t->slurp("/proc/$pid/cmdline"), qr/^evalsched-supervisor/,
    'its process title names it');

($rc, $out) = init('status');
is($rc, 0, 'status: 0 (running)');
like($out, qr/running \(pid $pid\)/, '... with its pid');

($rc, $out) = init('start');
is($rc, 0, 'a second start is harmless: 0');
like($out, qr/already running/, '... and says so');
is(pid_in_file(), $pid, '... the same daemon');
is($t->sql_value("SELECT count(*) FROM evalsched_supervisors "
    . "WHERE stopped_at IS NULL"), 1, '... and only one');

{
	my $err = `'$daemon' -c '$conf' 2>&1`;
	isnt($? >> 8, 0, 'a second instance by hand is refused');
	ok(alive($pid), '... and the first goes on');
}

# --- reload ---------------------------------------------------------------

is(title_max($pid), 3, 'its process title shows max_concurrent');
my $good = with_max($t->slurp($conf), 4);
$t->spew($conf, $good);
($rc, $out) = init('reload');
is($rc, 0, 'reload: 0') or diag $out;
ok($t->wait_until(sub { (title_max($pid) // 0) == 4 }, 30),
    '... the new configuration is read: max_concurrent 4');
ok(alive($pid), '... the daemon lives on');
is(pid_in_file(), $pid, '... with the same pid');
$t->spew($conf, with_max($good, 5) . "bogus = 1\n");
($rc, $out) = init('force-reload');
is($rc, 0, 'force-reload with a bad config: 0');
# The SIGHUP is pending before the sentinel is inserted, and the loop
# takes signals before new work: once the sentinel has run, the reload
# has been dealt with.
ok($t->run_sentinel, '... and dealt with: a schedule made due after it has run');
ok(alive($pid), '... the daemon lives on');
is(title_max($pid), 4, '... and keeps its old configuration');
$t->spew($conf, $good);

# --- stop -----------------------------------------------------------------

($rc, $out) = init('stop');
is($rc, 0, 'stop: 0') or diag $out;
ok(gone($pid), 'the daemon is gone');
ok(!-e $pidfile, 'its pid file is removed');
is($t->sql_value("SELECT stopped_at IS NOT NULL FROM evalsched_supervisors "
    . "WHERE pid = $pid"), 't', 'it stopped cleanly');
($rc, $out) = init('status');
is($rc, 3, 'status after stop: 3');
($rc, $out) = init('stop');
is($rc, 0, 'stop when stopped: 0');
($rc, $out) = init('reload');
is($rc, 7, 'reload when stopped: 7 (not running)');

# --- restart, and a stale pid file -------------------------------------------

($rc, $out) = init('start');
is($rc, 0, 'start again');
my $first = pid_in_file();
($rc, $out) = init('restart');
is($rc, 0, 'restart: 0') or diag $out;
my $second = pid_in_file();
ok(alive($second) && $second != $first, '... a new daemon');
ok(gone($first), '... the old one is gone');
($rc, $out) = init('stop');
is($rc, 0, 'stop');

# A pid that was never ours: start-stop-daemon --status says 1.
my $dead = fork // die;
POSIX::_exit(0) if $dead == 0;
waitpid $dead, 0;
$t->spew($pidfile, "$dead\n");
($rc, $out) = init('status');
is($rc, 1, 'status with a stale pid file: 1');
($rc, $out) = init('start');
is($rc, 0, 'start over a stale pid file: 0') or diag $out;
ok(alive(pid_in_file()) && pid_in_file() != $dead, '... a live daemon');
($rc, $out) = init('stop');
is($rc, 0, 'stop');

($rc, $out) = init('bogus');
is($rc, 3, 'an unknown action: 3');
like($out, qr/usage: /, '... with a usage line');

done_testing;
