#!/usr/bin/perl
# Monitoring without the supervisor's password (evalschedctl(8),
# MONITORING): a login role granted evalsched_monitor, and nothing else,
# reads status and metrics through the schema's monitoring functions,
# the same as the supervisor's role does, and can read no table; a role
# without it gets an error that says what to grant.  A user who may not
# read the configuration file gets monitor.conf beside it, or
# EVALSCHED_MONITOR_DATABASE, and an error that says so when it has
# neither.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evalsched::Test;
use POSIX ();
use Test::More;

$ENV{TZ} = 'UTC';
my $t = Evalsched::Test->new;
$t->start_pg;
my $ctl = Evalsched::Test::bin('evalschedctl');
my $sock = $t->dir . '/pgsock';
sub conninfo { "host=$sock dbname=postgres user=$_[0]" }

# --- the role and the functions, as the schema additions leave them -----------

is($t->sql_value("SELECT rolcanlogin FROM pg_roles WHERE rolname = "
    . "'evalsched_monitor'"), 'f', 'the additions create evalsched_monitor, '
    . 'NOLOGIN');
my @fns = map { $_->[0] } $t->sql("SELECT p.oid::regprocedure FROM pg_proc p "
    . "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = "
    . "'public' AND p.proname LIKE 'evalsched\\_monitor\\_%' ORDER BY 1");
cmp_ok(scalar @fns, '>=', 7, 'the monitoring functions: ' . join(', ', @fns));
for my $fn (@fns) {
	is_deeply([$t->sql("SELECT prosecdef, provolatile, 'search_path=\"\"' "
	    . "= ANY (proconfig), has_function_privilege('evalsched_monitor', "
	    . "oid, 'EXECUTE'), has_function_privilege('anon', oid, 'EXECUTE') "
	    . "FROM pg_proc WHERE oid = '$fn'::regprocedure")],
	    [['t', 's', 't', 't', 'f']], "$fn: SECURITY DEFINER, STABLE, "
	    . "search_path '', executable by evalsched_monitor, not by anon");
}
is($t->sql_value("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON "
    . "n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.proname "
    . "LIKE 'evalsched\\_%' AND p.proname NOT LIKE 'evalsched\\_monitor\\_%' "
    . "AND has_function_privilege('evalsched_monitor', p.oid, 'EXECUTE')"), 0,
    '... and no other function of ours');

$t->sql("CREATE ROLE prometheus LOGIN; GRANT evalsched_monitor TO prometheus; "
    . "CREATE ROLE stranger LOGIN");

# Something for status to say: a live supervisor, an overdue schedule, a
# run in flight, one backed off, a run ended.
my $late = $t->add_schedule(name => 'late one',
    next_run_at => \"now() - interval '1 hour'");
my $busy = $t->add_schedule(name => 'busy one');
my $backed = $t->add_schedule(name => 'backed off');
my $sup = $t->sql_value("INSERT INTO evalsched_supervisors (node, pid, version, "
    . "lease_seconds, max_concurrent) VALUES ('node-m', 7, '0.1.0', 600, 3) "
    . "RETURNING id");
$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, "
    . "status, slot_at, supervisor_id) VALUES ('$busy', 'triggered', now(), "
    . "'$sup'), ('$busy', 'failed', now() - interval '1 day', '$sup')");
$t->sql("INSERT INTO evalsched_backoffs (scheduled_evaluation_id, failures, "
    . "not_before, reason) VALUES ('$backed', 2, now() + interval '1 hour', "
    . "'HTTP 503')");

my $admin = $t->write_config;
my $mon = $t->write_config(database => 'host=' . $t->dir . '/nosock',
    monitor_database => conninfo('prometheus'));

# Output without the times that move between two calls.
sub steady {
	my ($text) = @_;
	$text =~ s/\d+(?:\.\d+)? ?(?:s|seconds?|minutes?|hours?) ago/AGO/g;
	$text =~ s/^(evalsched_\w+_seconds(?:\{[^}]*\})?) \S+$/$1 N/mg;
	return $text;
}

{
	my @a = $t->ctl('-c', $admin, 'status');
	my @m = $t->ctl('-c', $mon, 'status');
	is($m[0], 1, 'monitor role: status exits with its level (degraded)')
	    or diag $m[2];
	is($m[2], '', '... nothing on stderr');
	like($m[1], qr/^status: degraded: 1 overdue schedule/m,
	    '... and says why');
	like($m[1], qr/late one/, '... naming the overdue schedule');
	like($m[1], qr/backed off alone: 1 schedule/, '... and the backed off');
	is_deeply([$m[0], steady($m[1])], [$a[0], steady($a[1])],
	    '... the same as the supervisor\'s role sees');
	@a = $t->ctl('-c', $admin, '--json', 'status');
	@m = $t->ctl('-c', $mon, '--json', 'status');
	is(steady($m[1]), steady($a[1]), '... in JSON too');
	@a = $t->ctl('-c', $admin, 'metrics');
	@m = $t->ctl('-c', $mon, 'metrics');
	is($m[0], 0, 'monitor role: metrics') or diag $m[2];
	like($m[1], qr/^evalsched_runs_total\{status="failed",blame=""\} 1$/m,
	    '... with the counters');
	is(steady($m[1]), steady($a[1]), '... the same as the supervisor\'s '
	    . 'role sees');
	@m = $t->ctl('-c', $mon, 'list');
	is($m[0], 69, 'other commands do not use monitor_database');
}

# The role reads the functions and nothing else.
sub as_role {
	my ($role, $sql) = @_;
	my $r = $t->run_program(['psql', '-X', '-q', '-A', '-t', '-h', $sock,
	    '-U', $role, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', $sql]);
	return ($r->{status}, $r->{out} . $r->{err});
}
for my $tb (qw(scheduled_evaluations scheduled_evaluation_runs
    evalsched_supervisors evalsched_counters evalsched_alerts)) {
	my ($rc, $out) = as_role('prometheus', "SELECT count(*) FROM $tb");
	ok($rc != 0 && $out =~ /permission denied/,
	    "prometheus may not read $tb") or diag $out;
}
{
	my ($rc, $out) = as_role('prometheus', 'SELECT count(*) FROM '
	    . 'evalsched_monitor_overdue(60, 50)');
	is_deeply([$rc, $out], [0, "1\n"], '... but reads status through the '
	    . 'functions');
	($rc, $out) = as_role('prometheus', "UPDATE scheduled_evaluations SET "
	    . "is_active = false");
	ok($rc != 0 && $out =~ /permission denied/, '... and changes nothing');
}

# A role without evalsched_monitor: what to do.
{
	my $stranger = $t->write_config(monitor_database => conninfo('stranger'));
	for my $cmd (qw(status metrics)) {
		my @r = $t->ctl('-c', $stranger, $cmd);
		is($r[0], 77, "no evalsched_monitor: $cmd exits 77");
		is($r[1], '', '... prints nothing on stdout');
		like($r[2], qr/^evalschedctl: database: ERROR:  permission denied for function evalsched_monitor_\w+$/m,
		    '... gives the database\'s refusal');
		like($r[2], qr/^evalschedctl: the role stranger may not read evalsched's status: grant it evalsched_monitor \(GRANT evalsched_monitor TO stranger\), or set monitor_database to a role that has it; see MONITORING in evalschedctl\(8\)$/m,
		    '... and what to do');
	}
}

# --- a user who may not read the configuration ----------------------------------

# Runs evalschedctl as nobody with %env; returns (status, out, err).
sub ctl_as_nobody {
	my ($env, @args) = @_;
	my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
	my ($out, $err) = map { $t->dir . "/nobody.$_" } qw(out err);
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open STDOUT, '>', $out or POSIX::_exit(126);
		open STDERR, '>', $err or POSIX::_exit(126);
		$( = $) = "$gid $gid";
		$< = $> = $uid;
		POSIX::_exit(126) unless $> == $uid;
		delete $ENV{EVALSCHED_MONITOR_DATABASE};
		$ENV{$_} = $env->{$_} for keys %$env;
		$ENV{HOME} = '/nonexistent';
		exec $ctl, @args or POSIX::_exit(127);
	}
	waitpid $pid, 0;
	return ($? >> 8, $t->slurp($out) // '', $t->slurp($err) // '');
}

SKIP: {
	skip 'needs root to run as another user', 15 unless $> == 0;
	skip 'no user nobody', 15 unless defined getpwnam('nobody');
	my $etc = $t->dir . '/etc';
	mkdir $etc;
	chmod 0755, $etc;
	my $conf = "$etc/evalsched.conf";
	$t->spew($conf, "database = \"" . $t->conninfo . "\"\n"
	    . "service_role_key = \"sk-secret\"\npoll_interval = 60\n");
	chmod 0640, $conf;
	my $monconf = "$etc/monitor.conf";
	my ($rc, $out, $err) = ctl_as_nobody({}, '-c', $conf, 'list');
	is_deeply([$rc, $err], [78, "$conf: Permission denied\n"],
	    'nobody: list says the configuration cannot be read');
	($rc, $out, $err) = ctl_as_nobody({}, '-c', $conf, 'status');
	is($rc, 78, 'nobody, no monitor.conf: status exits 78');
	is($err, "$conf: Permission denied\nevalschedctl: status and metrics "
	    . "need only monitor_database, a role granted evalsched_monitor: "
	    . "set it in $monconf, readable by this user, or in "
	    . "EVALSCHED_MONITOR_DATABASE; see MONITORING in evalschedctl(8)\n",
	    '... and says what to do');
	($rc, $out, $err) = ctl_as_nobody({}, '-c', $conf, 'metrics');
	is_deeply([$rc, $out], [78, ''], '... metrics too');

	$t->spew($monconf, 'monitor_database = "' . conninfo('prometheus')
	    . "\"\npoll_interval = 60\n");
	chmod 0644, $monconf;
	($rc, $out, $err) = ctl_as_nobody({}, '-c', $conf, 'status');
	is($rc, 1, 'nobody with monitor.conf: status works (degraded)')
	    or diag $err;
	like($out, qr/^status: degraded: 1 overdue schedule/m, '... and says why');
	is($err, '', '... nothing on stderr');
	($rc, $out, $err) = ctl_as_nobody({}, '-c', $conf, 'metrics');
	is($rc, 0, '... metrics too') or diag $err;
	like($out, qr/^evalsched_supervisors_live 1$/m, '... with the figures');
	($rc, $out, $err) = ctl_as_nobody({}, '-c', $conf, 'list');
	is($rc, 78, '... and nothing else');

	chmod 0600, $monconf;
	($rc, $out, $err) = ctl_as_nobody({}, '-c', $conf, 'status');
	is($rc, 78, 'nobody, monitor.conf unreadable: 78');
	like($err, qr/^\Q$monconf\E: Permission denied$/m, '... naming it');

	unlink $monconf;
	($rc, $out, $err) = ctl_as_nobody({ EVALSCHED_MONITOR_DATABASE =>
	    conninfo('prometheus') }, '-c', $conf, 'status');
	is($rc, 1, 'nobody with EVALSCHED_MONITOR_DATABASE alone: status works')
	    or diag $err;
	($rc, $out, $err) = ctl_as_nobody({ EVALSCHED_MONITOR_DATABASE =>
	    conninfo('stranger') }, '-c', $conf, 'status');
	is($rc, 77, '... and with a role without evalsched_monitor: 77');
}

done_testing;
