-- evalsched: the privileges of its database role in the application's
-- database, and no more.  Apply it as the owner of the tables (in a
-- Supabase project, postgres), after schema-additions.sql and again
-- after each upgrade of evalsched; applying it twice is harmless.  The
-- role must also see every row of these tables: it bypasses row-level
-- security (BYPASSRLS), or it has evalsched's policies (policies.sql).
-- See evalsched-supervisor(8), "Database role"; evalsched-supervisor -n
-- names whatever the role lacks.
--
--	psql -v ON_ERROR_STOP=1 -v role=evalsched -f grants.sql
--
-- or what `evalschedctl grants ROLE` prints: this with the role
-- written in, for an SQL editor.

\if :{?role}
\else
\echo 'grants.sql: name the role: psql -v role=NAME -f grants.sql'
\set role ''
\endif

BEGIN;
SET LOCAL search_path = '';
SET LOCAL client_min_messages = warning;
SET LOCAL evalsched.grantee = :'role';

GRANT USAGE ON SCHEMA public, auth TO :"role";

-- The schedules: claimed and advanced, the ends of their runs recorded,
-- disabled after failures; evalschedctl add, pause, resume and trigger.
GRANT SELECT, INSERT, UPDATE ON public.scheduled_evaluations TO :"role";

-- A run for each slot fired, written as it goes; deleted when it was
-- never dispatched, and by run_retention.
GRANT SELECT, INSERT, UPDATE, DELETE ON public.scheduled_evaluation_runs
    TO :"role";

-- How each run's batch test ended.
GRANT SELECT ON public.batch_test_runs TO :"role";

-- A batch test's results: its latency and quality.
GRANT SELECT ON public.conversations, public.messages, public.judgments
    TO :"role";

-- The webhooks an alert goes to.
GRANT SELECT ON public.user_webhooks TO :"role";

-- Each delivery's end, as the application keeps it.
GRANT UPDATE (last_success_at, last_failure_at, failure_count)
    ON public.user_webhooks TO :"role";

-- A row for each delivery; evalschedctl metrics counts them.
GRANT SELECT, INSERT ON public.alert_history TO :"role";

-- A delivery's row, written when it first ends, updated when a retry
-- gets through.
GRANT UPDATE (email_sent, email_sent_at, email_message_id, email_error, webhook_sent, webhook_sent_at, webhook_status_code, webhook_error)
    ON public.alert_history TO :"role";

-- Whether and where an owner is told by e-mail.
GRANT SELECT ON public.user_alert_preferences TO :"role";

-- The integrations an alert goes to.
GRANT SELECT ON public.user_integrations TO :"role";

-- Each delivery's end, as the application keeps it.
GRANT UPDATE (last_sync_at, last_error, error_count)
    ON public.user_integrations TO :"role";

-- An owner's address, where their alert preferences give none.
GRANT SELECT (id, email) ON auth.users TO :"role";

-- Tables an application database may not have: each is granted where it
-- is, and evalsched does without what it serves where it is not.
DO $$
DECLARE
    grantee text := pg_catalog.current_setting('evalsched.grantee');
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        -- The application's audit trigger, log_schedule_audit, writes a
        -- row here as whoever changes a schedule: without it every
        -- claim fails.  evalsched reads none.
        ('public.scheduled_evaluation_audit', 'INSERT', NULL),
        -- The samples of the metric alert rules.
        ('public.llm_traces', 'SELECT', NULL),
        -- The metric alert rules, evaluated each minute.
        ('public.metric_alert_rules', 'SELECT', NULL),
        -- A rule's last alert, as the application's worker kept it.
        ('public.metric_alert_rules', 'UPDATE', 'last_triggered_at, trigger_count'),
        -- A row for each rule and minute; pruned by run_retention.
        ('public.metric_alert_rule_evaluations', 'SELECT, INSERT, DELETE', NULL),
        -- The anomalies anomaly_severity rules count.
        ('public.anomaly_detections', 'SELECT', NULL))
        AS v (name, privileges, columns)
        WHERE pg_catalog.to_regclass(v.name) IS NOT NULL
    LOOP
        EXECUTE pg_catalog.format('GRANT %s%s ON %s TO %I', t.privileges,
            coalesce(' (' || t.columns || ')', ''), t.name, grantee);
    END LOOP;
END;
$$;

-- evalsched's own tables and functions, whatever this version of
-- schema-additions.sql made: SELECT, INSERT, UPDATE, DELETE on its
-- tables, USAGE, SELECT, UPDATE on its sequences (it has none yet), and
-- EXECUTE on its functions but the triggers.
DO $$
DECLARE
    grantee text := pg_catalog.current_setting('evalsched.grantee');
    obj record;
BEGIN
    FOR obj IN SELECT c.oid::pg_catalog.regclass AS name, c.relkind
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname LIKE 'evalsched\_%'
          AND c.relkind IN ('r', 'p', 'S')
    LOOP
        EXECUTE pg_catalog.format('GRANT %s ON %s %s TO %I',
            CASE obj.relkind WHEN 'S' THEN 'USAGE, SELECT, UPDATE'
                ELSE 'SELECT, INSERT, UPDATE, DELETE' END,
            CASE obj.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
            obj.name, grantee);
    END LOOP;
    FOR obj IN SELECT p.oid::pg_catalog.regprocedure AS name
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proname LIKE 'evalsched\_%'
          AND p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I',
            obj.name, grantee);
    END LOOP;
END;
$$;

COMMIT;
