#!/usr/bin/perl
# The LSB init script, run for real against an installed tree: start,
# status, a second start, reload, stop, status after stop, restart, and a
# stale pid file.  The supervisor daemonizes and its pid file comes from
# the configuration's pidfile key.  The daemon gets a clean environment
# (only what the defaults file sets), and restart, reload and
# force-reload test the configuration first, refusing a bad one and
# leaving the running daemon alone.
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
my $logfile = $t->dir . '/daemon.log';
my $conf = $t->write_config(pidfile => $pidfile, shutdown_grace => 2,
    max_concurrent => 3, log => $logfile);
# What the defaults file sets is all the daemon's environment: the
# sanitizers' options too.
$t->spew($t->dir . '/default-evalsched', "DAEMON_ARGS=\"-c $conf\"\n"
    . "no_proxy=from-defaults\n"
    . join('', map { "$_='$ENV{$_}'\n" } grep { defined $ENV{$_} }
    qw(ASAN_OPTIONS UBSAN_OPTIONS)));

# The script as an operator runs it by hand, from a shell that exports
# what it likes (%env).
sub init {
	my ($verb, %env) = @_;
	local @ENV{keys %env} = values %env;
	my $out = `'$script' $verb 2>&1`;
	return ($? >> 8, $out);
}

# The environment of the daemon's spare jobrunner, as /proc shows it:
# the daemon's own is its process title now.  A jobrunner keeps PATH,
# TZ, the locale and the proxy variables of the daemon's.
sub jobrunner_environ {
	my ($pid) = @_;
	my %kids;
	$t->wait_until(sub { %kids = $t->jobrunners_of($pid); %kids }, 10);
	my ($environ) = map { $_->[1] } values %kids;
	return { map { /^([^=]+)=(.*)$/s ? ($1, $2) : () }
	    split /\0/, $environ // '' };
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
# A shell with the application's variables exported: none reaches the
# daemon, whose app_url is the stand-in's.
($rc, $out) = init('start', NEXT_PUBLIC_APP_URL => 'http://127.0.0.1:9',
    EVALSCHED_DATABASE => 'host=/nonexistent', https_proxy => 'http://shell.invalid');
is($rc, 0, 'start: 0') or diag $out;
my $pid = pid_in_file();
ok(defined $pid, 'the pid file from the configuration is written');
ok(alive($pid), '... naming a live process');
is(readlink("/proc/$pid/exe"), $daemon, '... the supervisor');
isnt(getppid(), $pid, '... detached');
ok(registered($pid), 'the daemon registers in the database of the '
    . 'configuration, not the exported EVALSCHED_DATABASE');
like($t->slurp("/proc/$pid/cmdline"), qr/^evalsched-supervisor/,
    'its process title names it');
ok($t->run_sentinel, 'a run goes to the configuration\'s app_url, not to '
    . 'the exported NEXT_PUBLIC_APP_URL');
{
	my $env = jobrunner_environ($pid);
	is($env->{no_proxy}, 'from-defaults',
	    'what the defaults file sets reaches the daemon (and its jobrunners)');
	ok(!exists $env->{https_proxy}, '... what the shell exported does not');
}

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

# A bad configuration: each verb refuses, and the daemon is left alone,
# not even sent a SIGHUP (which it would log: "reload: ...").
my $reloads = () = $t->slurp($logfile) =~ /reload: /g;
$t->spew($conf, with_max($good, 5) . "bogus = 1\n");
for my $verb (qw(reload force-reload restart try-restart)) {
	($rc, $out) = init($verb);
	is($rc, 6, "$verb with a bad configuration: refused, 6 (not configured)");
	like($out, qr/^\Q$conf\E:\d+: unknown key 'bogus'$/m,
	    "... with the check's message, file:line") or diag $out;
	like($out, qr/the running daemon is left alone/, '... saying so');
	is(pid_in_file(), $pid, '... the same daemon');
	ok(alive($pid), '... alive');
}
($rc, $out) = init('configtest');
is($rc, 78, 'configtest: the check\'s status, 78');
like($out, qr/^\Q$conf\E:\d+: unknown key 'bogus'$/m, '... and its message');
# Signals are taken before new work: once a schedule made due now has
# run, a SIGHUP sent before would have been dealt with.
ok($t->run_sentinel, 'the daemon goes on dispatching');
is(title_max($pid), 4, '... with its old configuration');
is(scalar(() = $t->slurp($logfile) =~ /reload: /g), $reloads,
    '... and was sent no SIGHUP');
$t->spew($conf, $good);
($rc, $out) = init('configtest');
is($rc, 0, 'configtest, fixed: 0');
like($out, qr/configuration OK/, '... configuration OK');

# logrotate's: the log file moved away, a new one.
rename $logfile, "$logfile.1" or die;
($rc, $out) = init('rotate');
is($rc, 0, 'rotate: 0') or diag $out;
ok($t->wait_until(sub { $t->slurp($logfile) =~ /reload: configuration reread/ }, 30),
    '... the daemon writes a new log file');

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
($rc, $out) = init('try-restart');
is($rc, 0, 'try-restart when stopped: 0');
is(pid_in_file(), undef, '... and nothing is started');

# --- restart, and a stale pid file -------------------------------------------

($rc, $out) = init('start');
is($rc, 0, 'start again');
my $first = pid_in_file();
# The check before a restart needs no database.
$t->pg_ctl('stop', '-m', 'fast') == 0 or die 'pg_ctl stop';
($rc, $out) = init('restart');
is($rc, 0, 'restart while the database is down: 0') or diag $out;
my $second = pid_in_file();
ok(alive($second) && $second != $first, '... a new daemon');
ok(gone($first), '... the old one is gone');
$t->pg_ctl('start') == 0 or die 'pg_ctl start';
ok(registered($second), '... which registers once the database is back');
($rc, $out) = init('try-restart');
is($rc, 0, 'try-restart: 0') or diag $out;
my $third = pid_in_file();
ok(alive($third) && $third != $second, '... a new daemon');
ok(gone($second), '... the old one is gone');
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
