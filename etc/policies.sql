-- evalsched: row-level security policies that show its database role
-- every row of the tables it reads and writes, for a role without
-- BYPASSRLS (before PostgreSQL 16 only a superuser may give that, and a
-- hosted Supabase project's postgres is none).  The grants (grants.sql)
-- say what the role may do, these only which rows: all of them; the
-- application's own policies, for its users, stay as they are.  Apply
-- it as the owner of the tables after grants.sql, and again after each
-- upgrade of evalsched and after a migration of the application that
-- enables row-level security on one of them; applying it twice is
-- harmless.  See evalsched-supervisor(8), "Database role".
--
--	psql -v ON_ERROR_STOP=1 -v role=evalsched -f policies.sql
--
-- or what `evalschedctl grants --policies ROLE` prints: this with the role
-- written in, for an SQL editor.

\if :{?role}
\else
\echo 'policies.sql: name the role: psql -v role=NAME -f policies.sql'
\set role ''
\endif

BEGIN;
SET LOCAL search_path = '';
SET LOCAL client_min_messages = warning;
SET LOCAL evalsched.grantee = :'role';

-- A policy named after the role on each table evalsched reads or
-- writes that has row-level security enabled: the application's and
-- evalsched's own.  A table whose owner is not the one applying this
-- gets none, with a warning.
DO $$
DECLARE
    grantee text := pg_catalog.current_setting('evalsched.grantee');
    policy text := 'evalsched ' || grantee;
    t record;
BEGIN
    FOR t IN SELECT c.oid::pg_catalog.regclass AS name
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relrowsecurity AND c.relkind IN ('r', 'p')
          AND ((n.nspname = 'public' AND c.relname LIKE 'evalsched\_%')
            OR c.oid IN (SELECT pg_catalog.to_regclass(x)
              FROM pg_catalog.unnest(ARRAY[
                'public.scheduled_evaluations',
                'public.scheduled_evaluation_runs',
                'public.scheduled_evaluation_audit',
                'public.batch_test_runs',
                'public.conversations',
                'public.messages',
                'public.judgments',
                'public.user_webhooks',
                'public.alert_history',
                'public.user_alert_preferences',
                'public.user_integrations',
                'auth.users',
                'public.llm_traces',
                'public.metric_alert_rules',
                'public.metric_alert_rule_evaluations',
                'public.anomaly_detections']) AS x))
    LOOP
        BEGIN
            EXECUTE pg_catalog.format('DROP POLICY IF EXISTS %I ON %s',
                policy, t.name);
            EXECUTE pg_catalog.format('CREATE POLICY %I ON %s AS PERMISSIVE '
                'FOR ALL TO %I USING (true) WITH CHECK (true)', policy, t.name,
                grantee);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING '%: only its owner may give it a policy', t.name
                USING HINT = pg_catalog.format('Have them apply this file, '
                    'or give %I BYPASSRLS.', grantee);
        END;
    END LOOP;
END;
$$;

COMMIT;
