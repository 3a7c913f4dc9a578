# Started as root with a user: privileges are dropped in one checked
# sequence and the jobrunners run unprivileged too.  And fork failing
# (RLIMIT_NPROC for that user) leaves the schedule due, retried on the
# next tick.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test;

plan skip_all => 'needs root to drop privileges' if $> != 0;
my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
plan skip_all => 'no user nobody' unless defined $uid;
plan skip_all => 'needs prlimit' if system('prlimit --version >/dev/null 2>&1') != 0;

my ($hard) = `prlimit --nproc --noheadings --output HARD` =~ /(\S+)/;
my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api(mode => 'never');	# batch tests stay under way
my $spool = $t->dir . '/spool';
my $wrapper = $t->dir . '/jobrunner-wrapper';
$t->spew($wrapper, "#!/bin/sh\nid -u > $spool/jobrunner-uid\nexec "
    . Evalsched::Test::bin('evalsched-jobrunner') . "\n");
chmod 0755, $wrapper;

my $id = $t->add_schedule(name => 'under a limit');
# nobody may own one process: the supervisor itself.  No fork succeeds.
my $conf = $t->write_config(jobrunner => $wrapper);
# Only a spool the supervisor creates is handed to its user.
rmdir $spool or die "rmdir $spool: $!";
my $pid = $t->start_supervisor(config => $conf, args => ['-u', 'nobody'],
    child => sub { exec 'prlimit', '--nproc=1:', '--', @_ });

my %st = map { /^(\w+):\s*(.*)$/ ? ($1, $2) : () } split /\n/, $t->slurp("/proc/$pid/status");
is($st{Uid}, join("\t", ($uid) x 4), 'real, effective, saved and file-system uid are nobody');
is($st{Gid}, join("\t", ($gid) x 4), 'and so are the gids');
is($st{Groups} =~ s/\s+$//r, $gid, 'supplementary groups dropped');
like($t->supervisor_log, qr/running as nobody/, 'the drop is logged');
my $home = (getpwnam('nobody'))[7];
like($t->supervisor_log, qr/running as nobody, HOME \Q$home\E$/m,
    "... with nobody's HOME: libpq reads $home/.pgpass");

my $forkfail = qr/"under a limit": cannot fork a jobrunner; it stays due: Resource temporarily unavailable/;
ok($t->wait_log($forkfail, 10), 'fork failure is logged');
# A second attempt comes only once the first is over: whatever the
# first left behind is in the database by then.
ok($t->wait_log_count($forkfail, 2, 30), 'and it is tried again');
my $st = $t->supervisor_status;
ok($st, 'the supervisor keeps going: it answers SIGUSR1');
is_deeply([@{ $st // {} }{qw(running dispatched)}], [0, 0],
    '... with nothing running and nothing dispatched');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs"), 0,
    'no run is left behind for the dispatch that did not happen');
is($t->sql_value("SELECT next_run_at <= now() FROM scheduled_evaluations WHERE id = '$id'"), 't',
    'the schedule stays due');

# Raised by the same user: root may lack CAP_SYS_RESOURCE in a container.
system('setpriv', "--reuid=$uid", "--regid=$gid", '--clear-groups', 'prlimit',
    "--pid=$pid", "--nproc=$hard:") == 0 or die 'prlimit';
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
    . "WHERE status = 'running'") == 1 }, 15), 'once fork works again it is dispatched, once');
is(scalar($t->api_requests), 1, 'one request');
is($t->slurp("$spool/jobrunner-uid"), "$uid\n", 'the jobrunner ran as nobody too');
is($t->stop_supervisor >> 8, 0, 'clean exit');

# -n and -t as root become the user and check what it will read: the
# supervisor reads these files again as that user on SIGHUP.
{
	my $dir = $t->dir;
	my $key = "$dir/root-only.key";
	$t->spew($key, $t->key . "\n");
	chmod 0600, $key;
	my $c = $t->write_config(user => 'nobody', service_role_key_file => $key);
	for my $opt ('-n', '-t') {
		my $r = $t->run_program([Evalsched::Test::bin('evalsched-supervisor'),
		    $opt, '-c', $c]);
		is($r->{status}, 78, "$opt: a key file nobody cannot read: exit 78");
		like($r->{err}, qr/^\Q$c\E:\d+: service_role_key_file: \Q$key\E is not readable by user nobody, as whom the supervisor reads it again on SIGHUP \(Permission denied\); fix: chown nobody \Q$key\E && chmod 0600 \Q$key\E$/m,
		    "$opt: ... naming it and the fix") or diag $r->{err};
	}
	chown $uid, -1, $key;
	my $pgpass = "$dir/pgpass";
	$t->spew($pgpass, "*:*:*:*:secret\n");
	chown $uid, -1, $pgpass;
	chmod 0644, $pgpass;
	my $r = $t->run_program([Evalsched::Test::bin('evalsched-supervisor'), '-n',
	    '-c', $c], env => { PGPASSFILE => $pgpass });
	is($r->{status}, 0, '-n: once nobody can read its key: exit 0') or diag $r->{err};
	like($r->{err}, qr/^\Q$pgpass\E: warning: libpq ignores it: its group or others have access \(mode 0644\); fix: chmod 0600 \Q$pgpass\E$/m,
	    '-n: a password file libpq would skip is warned of');
	chmod 0600, $pgpass;
	chown 0, -1, $pgpass;
	$r = $t->run_program([Evalsched::Test::bin('evalsched-supervisor'), '-t',
	    '-c', $c], env => { PGPASSFILE => $pgpass });
	like($r->{err}, qr/^\Q$pgpass\E: warning: not readable by user nobody \(Permission denied\)/m,
	    '-t: and so is one the user cannot read');
}
done_testing;
