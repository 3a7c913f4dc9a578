# The tests' database is the application's: the schema loaded for every
# test has what the application's migrations give its tables (types,
# defaults, nullability, foreign keys, triggers, row-level security) and
# what a Supabase project gives its public schema (the API's roles and
# their default privileges).  What a user of the application would see
# differ is checked here, by what the database does.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test qw(uuid);

my $t = Evalsched::Test->new;
$t->start_pg;

# A statement that must fail: its error message ('' if it did not fail).
sub refusal {
	my ($sql) = @_;
	my $r = $t->run_program([$t->psql_cmd, '-c', $sql]);
	return $r->{status} == 0 ? '' : $r->{err};
}

# --- columns ---------------------------------------------------------------

my %type = map { ("$_->[0].$_->[1]" => $_->[2]) } $t->sql(
    "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
    . "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    . "WHERE c.relname IN ('scheduled_evaluations', 'scheduled_evaluation_runs') "
    . "AND a.attnum > 0 AND NOT a.attisdropped");
is($type{'scheduled_evaluation_runs.avg_quality_score'}, 'numeric(5,2)',
    'avg_quality_score is NUMERIC(5,2)');
is($type{'scheduled_evaluation_runs.avg_latency_ms'}, 'numeric(10,2)',
    'avg_latency_ms is NUMERIC(10,2)');
is($type{'scheduled_evaluations.regression_threshold_percent'},
    'numeric(5,2)', 'regression_threshold_percent is NUMERIC(5,2)');

my $suite = uuid();
my $user = $t->add_user(uuid(), $suite);
my $s = uuid();
$t->sql("INSERT INTO scheduled_evaluations (id, user_id, name, "
    . "schedule_type, test_suite_id, model_id, next_run_at) VALUES ('$s', "
    . "'$user', 'defaults', 'every_5_minutes', '$suite', 'm', now())");
is_deeply([$t->sql("SELECT alert_on_regression, alert_on_failure, "
    . "batch_test_config::text, regression_threshold_percent, is_active, "
    . "timezone FROM scheduled_evaluations WHERE id = '$s'")],
    [['f', 't', '{}', '10.00', 't', 'UTC']],
    'a schedule\'s defaults: no regression alerts, threshold 10.00, every_5_minutes allowed');
$t->sql("UPDATE scheduled_evaluations SET batch_test_config = NULL "
    . "WHERE id = '$s'");
is($t->sql_value("SELECT count(*) FROM scheduled_evaluations WHERE "
    . "batch_test_config IS NULL"), 1, 'batch_test_config may be NULL');

like(refusal("INSERT INTO scheduled_evaluation_runs "
    . "(scheduled_evaluation_id) VALUES ('$s')"),
    qr/null value in column "status"/, 'a run has no default status');
my ($r1, $r2) = (uuid(), uuid());
$t->sql("INSERT INTO scheduled_evaluation_runs (id, scheduled_evaluation_id, "
    . "status, avg_quality_score, avg_latency_ms) VALUES ('$r1', '$s', "
    . "'completed', 0.8349, 1234.567)");
is_deeply([$t->sql("SELECT total_prompts, successful_prompts, "
    . "failed_prompts, regression_detected, avg_quality_score, "
    . "avg_latency_ms FROM scheduled_evaluation_runs WHERE id = '$r1'")],
    [[undef, undef, undef, 'f', '0.83', '1234.57']],
    'a run: counts NULL until written, regression_detected false, figures to two places');
like(refusal("UPDATE scheduled_evaluation_runs SET regression_detected = "
    . "NULL WHERE id = '$r1'"), qr/null value in column "regression_detected"/,
    'regression_detected is never NULL');

my @indexes = qw(idx_scheduled_evals_next_run idx_scheduled_evals_user
    idx_scheduled_evals_suite idx_scheduled_evals_created_at
    idx_schedules_active_next_run idx_schedules_user_active
    idx_schedule_runs_schedule_id idx_scheduled_eval_runs_schedule
    idx_scheduled_eval_runs_batch idx_scheduled_eval_runs_status
    idx_scheduled_eval_runs_created_at);
is_deeply([map { $_->[0] } $t->sql("SELECT i FROM unnest(ARRAY['"
    . join("', '", @indexes) . "']) i WHERE to_regclass(i) IS NULL")], [],
    'the application\'s indexes, by its names');

# --- foreign keys ------------------------------------------------------------

my $nobody = uuid();
like(refusal("INSERT INTO scheduled_evaluations (user_id, name, "
    . "schedule_type, test_suite_id, model_id, next_run_at) VALUES "
    . "('$nobody', 'x', 'daily', '$suite', 'm', now())"),
    qr/violates foreign key constraint "scheduled_evaluations_user_id_fkey"/,
    'a schedule\'s user is one of auth.users');
like(refusal("INSERT INTO scheduled_evaluations (user_id, name, "
    . "schedule_type, test_suite_id, model_id, next_run_at) VALUES "
    . "('$user', 'x', 'daily', '$nobody', 'm', now())"),
    qr/violates foreign key constraint "scheduled_evaluations_test_suite_id_fkey"/,
    'a schedule\'s test suite is one of test_suites');
$t->sql("INSERT INTO scheduled_evaluation_runs (id, scheduled_evaluation_id, "
    . "status, baseline_run_id) VALUES ('$r2', '$s', 'completed', '$r1')");
$t->sql("DELETE FROM scheduled_evaluation_runs WHERE id = '$r1'");
is_deeply([$t->sql("SELECT count(*), count(baseline_run_id) FROM "
    . "scheduled_evaluation_runs WHERE id = '$r2'")], [[1, 0]],
    'deleting a baseline run sets baseline_run_id NULL (ON DELETE SET NULL)');
like(refusal("UPDATE scheduled_evaluation_runs SET baseline_run_id = "
    . "'$nobody' WHERE id = '$r2'"), qr/violates foreign key constraint/,
    'baseline_run_id is a run');
$t->sql("DELETE FROM test_suites WHERE id = '$suite'");
is($t->sql_value("SELECT count(*) FROM scheduled_evaluations WHERE id = "
    . "'$s'"), 0, 'deleting a test suite deletes its schedules (CASCADE)');

# --- triggers ----------------------------------------------------------------

$s = $t->add_schedule(user_id => $user, test_suite_id => $suite = uuid());
my $before = $t->sql_value("SELECT count(*) FROM scheduled_evaluation_audit");
$t->sql("UPDATE scheduled_evaluations SET name = 'renamed' WHERE id = '$s'");
$t->sql("UPDATE scheduled_evaluations SET model_id = 'n' WHERE id = '$s'");
is_deeply([$t->sql("SELECT action, user_id, old_values->>'name', "
    . "new_values->>'name', new_values->>'model_id' FROM "
    . "scheduled_evaluation_audit WHERE scheduled_evaluation_id = '$s' "
    . "ORDER BY created_at, action")],
    [['created', $user, undef, "schedule 1", 'gpt-test'],
     ['updated', $user, 'schedule 1', 'renamed', 'gpt-test'],
     ['updated', $user, 'renamed', 'renamed', 'n']],
    'the audit trigger: a row for the insert and one per UPDATE, old and new');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_audit") - $before,
    2, '... two updates, two rows');

my $busy = $t->add_user(uuid(), $suite);
my $insert = "INSERT INTO scheduled_evaluations (user_id, name, "
    . "schedule_type, test_suite_id, model_id, next_run_at, is_active) ";
$t->sql($insert . "SELECT '$busy', 'busy ' || i, 'daily', '$suite', 'm', "
    . "now() + interval '1 day', i <= 49 FROM generate_series(1, 50) i");
$t->sql($insert . "VALUES ('$busy', 'the 50th', 'daily', '$suite', 'm', "
    . "now() + interval '1 day', true)");
my $LIMIT = qr/Maximum 50 active schedules per user exceeded/;
like(refusal($insert . "VALUES ('$busy', 'the 51st', 'daily', '$suite', "
    . "'m', now(), true)"), $LIMIT, 'the 51st active schedule of a user is refused');
like(refusal($insert . "VALUES ('$busy', 'paused', 'daily', '$suite', "
    . "'m', now(), false)"), $LIMIT, '... and so is a paused one, at 50');
like(refusal("UPDATE scheduled_evaluations SET is_active = true WHERE "
    . "name = 'busy 50'"), $LIMIT, '... and re-activating a 51st');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluations WHERE user_id = "
    . "'$busy' AND is_active"), 50, '... 50 active');
ok(eval { $t->add_schedule(user_id => uuid(), test_suite_id => $suite) },
    '... another user\'s are not counted');

# --- row-level security and Supabase's privileges ----------------------------

my @app = qw(scheduled_evaluations scheduled_evaluation_runs
    scheduled_evaluation_audit test_suites batch_test_runs conversations
    messages judgments user_alert_preferences user_webhooks alert_history
    user_integrations);
my %rls = map { @$_ } $t->sql("SELECT c.relname, c.relrowsecurity FROM "
    . "pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
    . "n.nspname = 'public' AND c.relkind = 'r'");
is_deeply([grep { ($rls{$_} // '') ne 't' } @app], [],
    'row-level security is enabled on every application table');

# As the API's roles see them: anon nothing, a user their own rows.
my $claims = "SET LOCAL request.jwt.claims = '{\"sub\": \"$user\", \"role\": "
    . "\"authenticated\"}'";
is_deeply([$t->sql("BEGIN; SET LOCAL ROLE anon; SELECT count(*) FROM "
    . "scheduled_evaluations; COMMIT")], [[0]], 'anon sees no schedule');
is_deeply([$t->sql("BEGIN; SET LOCAL ROLE authenticated; $claims; "
    . "SELECT name FROM scheduled_evaluations; COMMIT")], [['renamed']],
    'a user sees their own schedules (auth.uid() from request.jwt.claims)');
is_deeply([$t->sql("BEGIN; SET LOCAL ROLE authenticated; SET LOCAL "
    . "request.jwt.claim.sub = '$busy'; SELECT count(*) FROM "
    . "scheduled_evaluations; COMMIT")], [[51]],
    '... and from request.jwt.claim.sub');
like(refusal("BEGIN; SET LOCAL ROLE authenticated; $claims; INSERT INTO "
    . "scheduled_evaluation_runs (scheduled_evaluation_id, status) VALUES "
    . "('$s', 'triggered')"), qr/row-level security/,
    'a user cannot write runs (only the service role does)');
is_deeply([$t->sql("SELECT rolbypassrls, rolcanlogin FROM pg_roles WHERE "
    . "rolname IN ('anon', 'authenticated', 'service_role') ORDER BY rolname")],
    [['f', 'f'], ['f', 'f'], ['t', 'f']],
    'the roles: service_role bypasses row-level security; none logs in');

$t->sql("CREATE TABLE appschema_later (id int); CREATE FUNCTION "
    . "appschema_later_f() RETURNS int LANGUAGE sql AS 'SELECT 1'");
is_deeply([$t->sql("SELECT has_table_privilege(r, 'appschema_later', "
    . "'SELECT, INSERT, UPDATE, DELETE, TRUNCATE'), has_function_privilege(r, "
    . "'appschema_later_f()', 'EXECUTE') FROM unnest(ARRAY['anon', "
    . "'authenticated', 'service_role']) r")], [['t', 't'], ['t', 't'],
    ['t', 't']], 'a table and a function created later are granted to anon, '
    . 'authenticated and service_role, as in a Supabase project');
is($t->sql_value("SELECT has_table_privilege('anon', 'scheduled_evaluations', "
    . "'SELECT, INSERT, UPDATE, DELETE')"), 't',
    'the application\'s tables are granted to anon as Supabase grants them');

# --- applied twice ------------------------------------------------------------

$t->psql_file(Evalsched::Test::schema_file());
is($t->sql_value("SELECT count(*) FROM scheduled_evaluations WHERE user_id = "
    . "'$busy'"), 51, 'the schema applied again: harmless');
is($t->sql_value("SELECT count(*) FROM pg_trigger WHERE tgrelid = "
    . "'scheduled_evaluations'::regclass AND tgname IN "
    . "('schedule_audit_insert', 'schedule_audit_update', "
    . "'schedule_audit_delete', 'enforce_schedule_limit_insert', "
    . "'enforce_schedule_limit_update', 'scheduled_evaluations_updated_at')"),
    6, '... the application\'s triggers once each');
done_testing;
