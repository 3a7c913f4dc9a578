# Inside a Supabase database: every visitor holds the public (anon) key,
# and Supabase's default privileges grant anon and authenticated
# everything on new tables and functions in public.  What evalsched adds
# must be closed to them, and must resolve no name through a schema that
# another role can write.  The catalogue is walked, not a list, so that
# what a later version adds is checked too.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test qw(uuid);

my $t = Evalsched::Test->new;
$t->start_pg;

# Runs SQL as a role (SET ROLE, with a JWT subject as PostgREST sets it);
# returns (ok, output with errors).
sub as_role {
	my ($role, $sql, $sub) = @_;
	my $claims = defined $sub ? "SET request.jwt.claim.sub = '$sub'; " : '';
	my $r = $t->run_program([$t->psql_cmd, '-A', '-t', '-c',
	    "${claims}SET ROLE $role; $sql"]);
	return ($r->{status} == 0, $r->{out} . $r->{err});
}

is($t->sql_value("SELECT count(*) FROM pg_roles WHERE rolname IN "
    . "('anon', 'authenticated', 'service_role')"), 3,
    "the test database has Supabase's roles");
ok($t->sql_value("SELECT has_table_privilege('anon', "
    . "'public.scheduled_evaluation_audit', 'SELECT')") eq 't',
    "and its default privileges: anon holds grants on the application's tables");

# --- the catalogue ---------------------------------------------------------

my @tables = map { $_->[0] } $t->sql("SELECT c.oid::regclass FROM pg_class c "
    . "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
    . "AND c.relname LIKE 'evalsched\\_%' AND c.relkind IN ('r', 'p', 'v', 'm') "
    . "ORDER BY 1");
cmp_ok(scalar @tables, '>=', 4, 'evalsched adds tables: ' . join(', ', @tables));
for my $tb (@tables) {
	is($t->sql_value("SELECT relrowsecurity FROM pg_class WHERE oid = '$tb'::regclass"),
	    't', "$tb: row-level security enabled");
	is($t->sql_value("SELECT count(*) FROM pg_policy WHERE polrelid = '$tb'::regclass"),
	    0, "$tb: no policy lets any role in");
	for my $role (qw(anon authenticated)) {
		is($t->sql_value("SELECT has_any_column_privilege('$role', '$tb', "
		    . "'SELECT, INSERT, UPDATE, REFERENCES') OR has_table_privilege('$role', "
		    . "'$tb', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')"),
		    'f', "$tb: $role holds no privilege");
	}
	is($t->sql_value("SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a "
	    . "WHERE c.oid = '$tb'::regclass AND a.grantee = 0"), 0,
	    "$tb: PUBLIC holds no privilege");
}

my @functions = map { $_->[0] } $t->sql("SELECT p.oid::regprocedure FROM pg_proc p "
    . "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
    . "AND p.proname LIKE 'evalsched\\_%' ORDER BY 1");
cmp_ok(scalar @functions, '>=', 4, 'evalsched adds functions: ' . join(', ', @functions));
for my $fn (@functions) {
	is($t->sql_value("SELECT 'search_path=\"\"' = ANY (proconfig) FROM pg_proc "
	    . "WHERE oid = '$fn'::regprocedure"), 't', "$fn: runs with search_path ''");
	for my $role (qw(anon authenticated)) {
		is($t->sql_value("SELECT has_function_privilege('$role', '$fn', 'EXECUTE')"),
		    'f', "$fn: $role may not execute it");
	}
	is($t->sql_value("SELECT proacl IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
	    . "aclexplode(proacl) a WHERE a.grantee = 0) FROM pg_proc "
	    . "WHERE oid = '$fn'::regprocedure"), 't', "$fn: PUBLIC may not execute it");
}

# --- the public key, tried -------------------------------------------------

my $victim = uuid();
my $sched = $t->add_schedule(user_id => $victim, name => 'victim schedule',
    next_run_at => \"now() + interval '1 day'");
$t->sql("INSERT INTO evalsched_alerts (event, user_id, scheduled_evaluation_id, title, "
    . "message) VALUES ('scheduled_eval_failed', '$victim', '$sched', 'Scheduled "
    . "Evaluation Failed: victim schedule', 'secret text of the victim')");

my ($ok, $out) = as_role('anon', 'SELECT title, message FROM public.evalsched_alerts');
ok(!$ok && $out =~ /permission denied/, "anon cannot read another user's pending alerts")
    or diag $out;
($ok, $out) = as_role('anon', "INSERT INTO public.evalsched_alerts (event, user_id, "
    . "title, message) VALUES ('scheduled_eval_failed', '$victim', 'forged', 'forged')");
ok(!$ok, 'anon cannot queue an alert for another user');
($ok, $out) = as_role('anon', 'DELETE FROM public.evalsched_alerts');
ok(!$ok, 'anon cannot delete alerts');
($ok, $out) = as_role('anon', "UPDATE public.evalsched_meta SET value = '0'");
ok(!$ok, 'anon cannot change the schema version');
($ok, $out) = as_role('authenticated', "INSERT INTO public.evalsched_baselines "
    . "(scheduled_evaluation_id, run_id) VALUES ('$sched', gen_random_uuid())", $victim);
ok(!$ok, "a signed-in user cannot pin a baseline, even for their own schedule");
# A schedule backed off alone stays so, and a turn stays taken, whatever
# its owner does: they can neither clear nor move either.
$t->sql("INSERT INTO evalsched_backoffs (scheduled_evaluation_id, failures, not_before) "
    . "VALUES ('$sched', 3, now() + interval '1 hour')");
$t->sql("INSERT INTO evalsched_turns (user_id, dispatched_at) VALUES ('$victim', now())");
($ok, $out) = as_role('authenticated', "DELETE FROM public.evalsched_backoffs "
    . "WHERE scheduled_evaluation_id = '$sched'", $victim);
ok(!$ok, 'a signed-in user cannot clear the backoff of their own schedule');
($ok, $out) = as_role('authenticated', "UPDATE public.evalsched_turns SET "
    . "dispatched_at = NULL WHERE user_id = '$victim'", $victim);
ok(!$ok, 'nor take their turn again');
is($t->sql_value("SELECT count(*) FROM evalsched_backoffs b, evalsched_turns t "
    . "WHERE b.scheduled_evaluation_id = '$sched' AND t.user_id = '$victim' "
    . "AND t.dispatched_at IS NOT NULL"), 1, 'both are as they were');
($ok, $out) = as_role('anon', "INSERT INTO public.evalsched_supervisors (node, pid, "
    . "version, lease_seconds, max_concurrent) VALUES ('forged', 1, 'x', 30, 3)");
ok(!$ok, 'anon cannot forge a supervisor heartbeat');
is($t->sql_value("SELECT count(*) FROM evalsched_alerts"), 1, 'the outbox is as it was');
is($t->sql_value("SELECT value FROM evalsched_meta WHERE key = 'schema_version'"), 6,
    'the schema version is as it was');

# A careless deployment grants the public roles everything again (as
# Supabase's dashboard does with one click): row-level security still
# shows them no row and lets them write none.
$t->sql("GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated");
($ok, $out) = as_role('anon', 'SELECT count(*) FROM public.evalsched_alerts');
is($out =~ s/\s+//gr, '0', 'granted everything, anon still reads no alert');
($ok, $out) = as_role('anon', "INSERT INTO public.evalsched_alerts (event, user_id, "
    . "title, message) VALUES ('scheduled_eval_failed', '$victim', 'forged', 'forged')");
ok(!$ok && $out =~ /row-level security/, 'and still queues none') or diag $out;
($ok, $out) = as_role('anon', "WITH u AS (UPDATE public.evalsched_meta SET value = '0' "
    . "RETURNING 1) SELECT count(*) FROM u");
is($out =~ s/\s+//gr, '0', 'and changes no schema version') or diag $out;

# Whoever writes the application's tables fires our triggers without
# EXECUTE on our functions: a role with the application's grants and
# none on ours, as its server writes.
my $user = $t->add_user;
$t->sql("CREATE ROLE app_server NOLOGIN BYPASSRLS; GRANT USAGE ON SCHEMA auth TO app_server; "
    . "GRANT ALL ON ALL TABLES IN SCHEMA public TO app_server; "
    . "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM app_server; "
    . "GRANT ALL ON public.scheduled_evaluations, public.scheduled_evaluation_runs, "
    . "public.scheduled_evaluation_audit, public.test_suites, public.batch_test_runs "
    . "TO app_server");
is($t->sql_value("SELECT count(*) FROM pg_proc WHERE proname LIKE 'evalsched\\_%' "
    . "AND has_function_privilege('app_server', oid, 'EXECUTE')"), 0,
    'a writer without EXECUTE on any evalsched function');
my $suite = $t->sql_value("INSERT INTO test_suites (user_id, name) VALUES ('$user', 'mine') "
    . "RETURNING id");
my $batch = $t->sql_value("INSERT INTO batch_test_runs (user_id, status) VALUES "
    . "('$user', 'running') RETURNING id");
($ok, $out) = as_role('app_server', "INSERT INTO public.scheduled_evaluations (user_id, "
    . "name, schedule_type, test_suite_id, model_id, next_run_at, is_active) VALUES "
    . "('$user', 'mine', 'daily', '$suite', 'm', now() + interval '1 day', false); "
    . "UPDATE public.scheduled_evaluations SET is_active = true, next_run_at = now() "
    . "WHERE user_id = '$user'; INSERT INTO public.scheduled_evaluation_runs "
    . "(scheduled_evaluation_id, status) SELECT id, 'triggered' FROM "
    . "public.scheduled_evaluations WHERE user_id = '$user'; UPDATE public.batch_test_runs "
    . "SET status = 'completed' WHERE id = '$batch'");
ok($ok, 'creates, enables and runs a schedule and ends a batch test: our triggers fire')
    or diag $out;

# --- the application's functions that fire on our writes -------------------

for my $fn (qw(log_schedule_audit check_schedule_limit)) {
	is($t->sql_value("SELECT array_to_string(proconfig, ',') FROM pg_proc "
	    . "WHERE proname = '$fn'"), 'search_path=public, pg_temp',
	    "$fn: pinned to the application's search_path");
}
# An update under an empty search_path, as the supervisor makes it,
# fires the audit trigger and the cap without an error.
($ok, $out) = as_role('postgres', "SET search_path = ''; UPDATE "
    . "public.scheduled_evaluations SET is_active = false WHERE id = '$sched'; "
    . "UPDATE public.scheduled_evaluations SET is_active = true WHERE id = '$sched'");
ok($ok, 'updates of a schedule under an empty search_path pass the application\'s '
    . 'triggers') or diag $out;
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_audit "
    . "WHERE scheduled_evaluation_id = '$sched'"), 3, 'and its audit log has them');

# -n names the roles that may plant functions where the application's
# trigger functions look them up.
{
	my @n = (Evalsched::Test::bin('evalsched-supervisor'), '-n', '-c', $t->write_config);
	my $r = $t->run_program(\@n);
	is($r->{status}, 0, '-n: configuration OK') or diag $r->{err};
	unlike($r->{err}, qr/schema public/, '-n: no warning while only the owner may create in public');
	$t->sql("GRANT CREATE ON SCHEMA public TO anon");
	$r = $t->run_program(\@n);
	like($r->{err}, qr/warning: anon may create objects in schema public.*REVOKE CREATE ON SCHEMA public FROM anon/,
	    '-n: warns when anon may create objects in public, and says what to do');
	is($r->{status}, 0, '-n: a warning, not an error');
	$t->sql("REVOKE CREATE ON SCHEMA public FROM anon");
}

# --- applied again ---------------------------------------------------------

my $additions = Evalsched::Test::schema_file() =~ s/schema\.sql$/schema-additions.sql/r;
$t->psql_file($additions);
is($t->sql_value("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON "
    . "n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname LIKE "
    . "'evalsched\\_%' AND c.relkind = 'r' AND (NOT c.relrowsecurity OR "
    . "has_table_privilege('anon', c.oid, 'SELECT'))"), 0,
    'applied again, the additions close again what a careless grant opened');
is($t->sql_value("SELECT count(*) FROM evalsched_alerts"), 1, 'and lose nothing');

done_testing;
