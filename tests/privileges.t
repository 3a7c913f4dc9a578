# The database role: a dedicated role is given what evalsched needs by
# grants.sql (and, without BYPASSRLS, policies.sql), and runs a schedule
# from dispatch to completion with it; -n names each privilege a role
# lacks, by table and privilege, those only a trigger needs too (a trial
# write, rolled back), and a role that row-level security shows no row;
# a statement the database refuses at run time makes evalschedctl status
# degraded in the database's words, is logged once per cause, not at
# every retry, and is the real cause, not the outcome's text.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test qw(uuid);

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;

my $share = Evalsched::Test::schema_file() =~ s{/schema\.sql$}{}r;
my $supervisor = Evalsched::Test::bin('evalsched-supervisor');

# Roles log in over the socket with trust, as postgres does here.
sub conf_for {
	my ($role, %over) = @_;
	return $t->write_config(database => $t->conninfo =~ s/user=postgres/user=$role/r,
	    %over);
}

# psql -v role=ROLE -f FILE, as the manual says; true when it worked.
sub apply {
	my ($file, $role) = @_;
	my $r = $t->run_program([$t->psql_cmd, '-v', "role=$role", '-f', $file]);
	diag $r->{err} if $r->{status} != 0;
	return $r->{status} == 0;
}

sub check {
	my ($role) = @_;
	return $t->run_program([$supervisor, '-n', '-c', conf_for($role)]);
}

# A role with evalsched's grants, and BYPASSRLS unless told otherwise.
sub granted_role {
	my ($role, %opt) = @_;
	$t->sql("CREATE ROLE $role LOGIN " . ($opt{rls} ? 'NOBYPASSRLS' : 'BYPASSRLS'));
	ok(apply("$share/grants.sql", $role), "$role: grants.sql applies");
}

# A schedule to try writes on, paused and far from due.
$t->add_schedule(name => 'trial ground', is_active => 'false',
    next_run_at => \"now() + interval '1 year'");

# --- the shipped files ------------------------------------------------------

{
	my ($status, $out) = $t->ctl('grants');
	is($status, 0, 'evalschedctl grants');
	is($out, $t->slurp("$share/grants.sql"), '... prints the shipped grants.sql');
	($status, $out) = $t->ctl('grants', '--policies');
	is($out, $t->slurp("$share/policies.sql"), '... and --policies policies.sql');
	my ($s2, $o2, $e2) = $t->ctl('grants', '');
	is($s2, 64, '... an empty role name is a usage error');
}

# --- -n, against each kind of lack -------------------------------------------

$t->sql('CREATE ROLE bare LOGIN');
my $r = check('bare');
is($r->{status}, 78, 'no grants at all: -n exits 78');
unlike($r->{out}, qr/configuration OK/, '... and does not say OK');
for my $lack ('USAGE on schema auth',
    'SELECT, INSERT, UPDATE on public.scheduled_evaluations',
    'INSERT on public.scheduled_evaluation_audit',
    'SELECT on public.judgments',
    'UPDATE (last_success_at, last_failure_at, failure_count) on public.user_webhooks',
    'SELECT (id, email) on auth.users',
    'SELECT, INSERT, UPDATE, DELETE on public.evalsched_supervisors') {
	like($r->{err}, qr/: database: role bare lacks \Q$lack\E(?: \(|$)/m, "... names $lack");
}
like($r->{err}, qr/role bare lacks EXECUTE on \d+ of evalsched's functions: .*public\.evalsched_quality\(uuid\)/,
    '... and the functions');
like($r->{err}, qr/role bare neither bypasses row-level security nor has a policy .*public\.scheduled_evaluations/,
    '... and row-level security');
like($r->{err}, qr/give role bare what it lacks, .*-v role=bare -f \S+\/grants\.sql, then the same with policies\.sql \(or, as a superuser, ALTER ROLE bare BYPASSRLS\)/,
    '... and what to do');
unlike($r->{err}, qr/schema version|ERROR:/, '... not the schema version it could not read');

granted_role('full');
$r = check('full');
is($r->{status}, 0, 'grants.sql and BYPASSRLS: -n exits 0') or diag $r->{err};
is(Evalsched::Test::no_settings($r->{out}), "configuration OK\n", '... configuration OK');
unlike($r->{err}, qr/database:/, '... nothing lacking');

granted_role('noselect');
$t->sql('REVOKE SELECT ON public.judgments FROM noselect');
$r = check('noselect');
is($r->{status}, 78, 'no SELECT on one table: -n exits 78');
is_deeply([$r->{err} =~ /^.*: database: role noselect (.*)$/mg],
    ['lacks SELECT on public.judgments (a batch test\'s results: its latency and quality)'],
    '... naming that table and privilege, and nothing else');

granted_role('noaudit');
$t->sql('REVOKE INSERT ON public.scheduled_evaluation_audit FROM noaudit');
$r = check('noaudit');
is($r->{status}, 78, 'no INSERT on the audit table: -n exits 78');
like($r->{err}, qr/role noaudit lacks INSERT on public\.scheduled_evaluation_audit \(the application's audit trigger/,
    '... naming it');
like($r->{err}, qr/role noaudit: an update of public\.scheduled_evaluations, as evalsched makes one, fails: permission denied for table scheduled_evaluation_audit \[42501, in trigger function log_schedule_audit\(\)\]/,
    '... and the trial update of a schedule finds the trigger that needs it');
is($t->sql_value('SELECT count(*) FROM scheduled_evaluation_audit'), 1,
    '... rolled back: the audit log has only the schedule\'s creation');

# A trigger grants.sql knows nothing of: only a trial write finds it.
$t->sql('CREATE TABLE public.app_log (n integer); '
    . 'CREATE FUNCTION public.app_note() RETURNS trigger LANGUAGE plpgsql AS '
    . '$$BEGIN INSERT INTO public.app_log VALUES (1); RETURN NEW; END$$; '
    . 'CREATE TRIGGER app_note AFTER UPDATE ON public.user_webhooks '
    . 'FOR EACH ROW EXECUTE FUNCTION public.app_note()');
my $owner = $t->add_user;
$t->sql("INSERT INTO user_webhooks (user_id, name, url) VALUES ('$owner', 'w', 'http://127.0.0.1:9/')");
$r = check('full');
is($r->{status}, 78, 'a trigger of the application\'s that needs more: -n exits 78');
like($r->{err}, qr/role full: an update of public\.user_webhooks, as evalsched makes one, fails: permission denied for table app_log \[42501, in trigger function public\.app_note\(\)\].*\n.*grant what the failed trial names/,
    '... the trial finds it, and says what to do');
$t->sql('DROP TRIGGER app_note ON public.user_webhooks; DROP FUNCTION public.app_note(); '
    . 'DROP TABLE public.app_log');

granted_role('rls', rls => 1);
$r = check('rls');
is($r->{status}, 78, 'row-level security on, neither BYPASSRLS nor policies: -n exits 78');
like($r->{err}, qr/role rls neither bypasses row-level security nor has a policy that shows it every row of .*public\.evalsched_supervisors.*public\.scheduled_evaluations.*: it would see no row there and write none/,
    '... naming the tables');
like($r->{err}, qr/-v role=rls -f \S+\/policies\.sql \(or, as a superuser, ALTER ROLE rls BYPASSRLS\)/,
    '... and what to do');
ok(apply("$share/policies.sql", 'rls'), 'policies.sql applies');
$r = check('rls');
is($r->{status}, 0, 'with the policies: -n exits 0') or diag $r->{err};

# A role whose name needs quoting, from evalschedctl grants ROLE.
{
	my $odd = q{we"i'rd\\role};
	(my $ident = $odd) =~ s/"/""/g;
	$t->sql(qq{CREATE ROLE "$ident" LOGIN});
	my ($status, $sql) = $t->ctl('grants', $odd);
	my $file = $t->dir . '/odd.sql';
	$t->spew($file, $sql);
	my $p = $t->run_program([$t->psql_cmd, '-f', $file]);
	is($p->{status}, 0, 'evalschedctl grants ROLE: a role name with quotes and a backslash')
	    or diag $p->{err};
	(my $lit = $odd) =~ s/'/''/g;
	is($t->sql_value("SELECT has_table_privilege('$lit', 'public.scheduled_evaluation_audit', "
	    . "'INSERT')"), 't', '... is granted what the others are');
}

# --- a dedicated role runs a schedule -----------------------------------------

for my $case (['full', 'BYPASSRLS'], ['rls', 'the policies']) {
	my ($role, $how) = @$case;
	my $conf = conf_for($role, poll_interval => 5);
	$t->start_supervisor(config => $conf, name => $role);
	my $id = $t->add_schedule(name => "run as $role");
	ok($t->wait_until(sub { ($t->sql_value("SELECT status FROM scheduled_evaluation_runs "
	    . "WHERE scheduled_evaluation_id = '$id' AND slot_at IS NOT NULL") // '') eq 'completed' }, 30),
	    "role $role ($how): a schedule dispatched and completed")
	    or diag $t->supervisor_log($role);
	is($t->sql_value("SELECT total_prompts > 0 AND avg_quality_score IS NOT NULL FROM "
	    . "scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$id' AND slot_at IS NOT NULL"),
	    't', '... with its results, read through the grants');
	unlike($t->supervisor_log($role), qr/database refuses|permission denied/, '... nothing refused');
	$t->stop_supervisor($role);
}

# --- refused at run time -------------------------------------------------------

my $ctl_conf = $t->write_config(poll_interval => 5);
sub status { my @r = $t->ctl('-c', $ctl_conf, @_, 'status'); return @r }
my $AUDIT = qr/permission denied for table scheduled_evaluation_audit/;

$t->start_supervisor(config => conf_for('noaudit', poll_interval => 5), name => 'noaudit');
my $claimed = $t->add_schedule(name => 'refused claim');
ok($t->wait_log($AUDIT, 20, 'noaudit'), 'a refused claim is logged') or diag $t->supervisor_log('noaudit');
my ($st, $out);
ok($t->wait_until(sub { ($st, $out) = status(); $st == 1 }, 5),
    'evalschedctl status is degraded within a poll interval') or diag $out;
like($out, qr/^status: degraded: supervisor \S+ \(node test-node\): the database refuses its statements since \S+: $AUDIT \[42501, in log_schedule_audit\(\)\]/,
    '... in the database\'s words');
# Claims are tried again every second: three more, at least.
sleep 3.5;
is($t->count_log($AUDIT, 'noaudit'), 1, 'logged once for all the claims refused')
    or diag $t->supervisor_log('noaudit');
like($t->supervisor_log('noaudit'), qr/database refuses a statement: $AUDIT \[42501, in log_schedule_audit\(\)\]; the role lacks a privilege \(grants\.sql gives them\): evalsched-supervisor -n names each/,
    '... naming the cause and what to do');
unlike($t->supervisor_log('noaudit'), qr/error text/, '... not the error text of a run');
is($t->count_runs($claimed), 0, 'no run was claimed');

$t->sql('GRANT INSERT ON public.scheduled_evaluation_audit TO noaudit');
ok($t->wait_until(sub { $t->runs_done($claimed) > 0 }, 15), 'granted: the schedule runs')
    or diag $t->supervisor_log('noaudit');
ok($t->wait_log(qr/database takes evalsched's statements again \(\d+ refusals; the last: $AUDIT/, 10, 'noaudit'),
    '... the log says the refusals ended');
ok($t->wait_until(sub { ($st, $out) = status(); $st == 0 }, 10), '... and status is ok again')
    or diag $out;
$t->stop_supervisor('noaudit');

# An outcome refused for a privilege is kept whole, not stripped of its error.
granted_role('noalerts');
$t->sql('REVOKE INSERT ON public.evalsched_alerts FROM noalerts');
$t->start_supervisor(config => conf_for('noalerts', poll_interval => 5), name => 'noalerts');
my $refused = $t->add_schedule(name => 'refused outcome', model_id => 'standin:status=400');
my $ALERTS = qr/permission denied for table evalsched_alerts/;
ok($t->wait_log($ALERTS, 20, 'noalerts'), 'a refused outcome is logged')
    or diag $t->supervisor_log('noalerts');
# Written in a batch, then alone, again and again: past the three tries
# after which an error text the database cannot store is dropped.
sleep 4.5;
is($t->count_log($ALERTS, 'noalerts'), 1, '... once')
    or diag $t->supervisor_log('noalerts');
unlike($t->supervisor_log('noalerts'), qr/error text/, '... and not blamed on the error text');
is($t->count_runs($refused, "status = 'triggered'"), 1, '... the run waits, unwritten');
$t->sql('GRANT INSERT ON public.evalsched_alerts TO noalerts');
ok($t->wait_until(sub { $t->count_runs($refused, "status = 'failed'") == 1 }, 15),
    'granted: the outcome is written')
    or diag $t->supervisor_log('noalerts');
like($t->sql_value("SELECT error_message FROM scheduled_evaluation_runs WHERE "
    . "scheduled_evaluation_id = '$refused' AND slot_at IS NOT NULL"), qr/^HTTP 400/,
    '... with its error whole');
$t->stop_supervisor('noalerts');

done_testing;
