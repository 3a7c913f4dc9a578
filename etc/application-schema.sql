-- The evaluation application's tables, as its migrations create them
-- (supabase/migrations/ of the application; each part below names its
-- migration): the same columns, types, defaults, constraints, foreign
-- keys, indexes, triggers, row-level security and policies.  Before them,
-- the pieces a Supabase project provides and the migrations take for
-- granted, stubbed so that a plain PostgreSQL (15 or later) looks like
-- one: the roles anon, authenticated and service_role, the auth schema
-- with auth.users and auth.uid(), and Supabase's default privileges,
-- under which every new table and function in public is open to anon
-- and authenticated (their rows are then guarded by row-level security
-- alone).
--
-- This is for tests and for a standalone database.  In the application's
-- own Supabase database all of this already exists: there an operator
-- applies schema-additions.sql alone.
--
-- Apply it as the role postgres (Supabase's default privileges are
-- those of postgres).  Applying it twice is harmless.

BEGIN;

-- Serialize concurrent applications of this file.
SELECT pg_advisory_xact_lock(7310431601);

-- ---------------------------------------------------------------------
-- Supabase's platform, stubbed.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
    END IF;
END;
$$;

CREATE SCHEMA IF NOT EXISTS auth;

-- The accounts.  Supabase's table has many more columns (GoTrue's); these
-- are the ones the application reads.
CREATE TABLE IF NOT EXISTS auth.users (
    id uuid PRIMARY KEY,
    email character varying(255),
    raw_user_meta_data jsonb,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

-- The caller's user id and claims, from the settings PostgREST makes of
-- the request's JWT: one setting per claim (request.jwt.claim.sub), or,
-- in newer versions, all claims as JSON (request.jwt.claims).
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb
            ->> 'sub'))::uuid
$$;

CREATE OR REPLACE FUNCTION auth.role() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb
            ->> 'role'))::text
$$;

CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;

GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

-- What makes a Supabase project's public schema open: whatever postgres
-- creates there is granted to the API's roles.
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
    GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
    GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
    GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;

-- ---------------------------------------------------------------------
-- Test suites (CREATE_TEST_SUITES_TABLE.sql and
-- MIGRATION_ADD_EXPECTED_ANSWERS.sql, applied by hand in the SQL editor).

CREATE TABLE IF NOT EXISTS test_suites (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    name character varying(255) NOT NULL,
    description text,
    prompts jsonb NOT NULL DEFAULT '[]'::jsonb,
    prompt_count integer NOT NULL DEFAULT 0,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

ALTER TABLE test_suites
    ADD COLUMN IF NOT EXISTS expected_answers jsonb DEFAULT '[]'::jsonb;

CREATE INDEX IF NOT EXISTS idx_test_suites_user_id ON test_suites (user_id);

ALTER TABLE test_suites ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view own test suites" ON test_suites;
CREATE POLICY "Users can view own test suites" ON test_suites
    FOR SELECT TO authenticated USING (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can create own test suites" ON test_suites;
CREATE POLICY "Users can create own test suites" ON test_suites
    FOR INSERT TO authenticated WITH CHECK (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can update own test suites" ON test_suites;
CREATE POLICY "Users can update own test suites" ON test_suites
    FOR UPDATE TO authenticated USING (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can delete own test suites" ON test_suites;
CREATE POLICY "Users can delete own test suites" ON test_suites
    FOR DELETE TO authenticated USING (auth.uid() = user_id);

-- Also the scheduled evaluations' updated_at trigger function.
CREATE OR REPLACE FUNCTION update_test_suites_updated_at()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at = NOW();
  RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER test_suites_updated_at
    BEFORE UPDATE ON test_suites
    FOR EACH ROW EXECUTE FUNCTION update_test_suites_updated_at();

-- ---------------------------------------------------------------------
-- Where a batch test's results live.  No migration creates these tables
-- (they predate the migrations folder); these have the columns the
-- application's code writes and reads for a batch test (its
-- conversations have more, which evalsched never reads), with row-level
-- security enabled as the application has it.  The judgments policies
-- are those of its migrations 20251127_fix_judgments_rls and
-- 20251130_fix_judgments_rls, and trace_id that of 20251220000002; the
-- other three tables' policies are in no migration, so none are made
-- here (the application's server reaches them with its service role).
-- schema-additions.sql indexes them for the completion pass.

CREATE TABLE IF NOT EXISTS batch_test_runs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid,
    model_name text,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'completed', 'failed',
                          'cancelled')),
    total_prompts integer DEFAULT 0,
    completed_prompts integer DEFAULT 0,
    failed_prompts integer DEFAULT 0,
    config jsonb,
    error text,
    started_at timestamptz,
    completed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS conversations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid,
    title text,
    batch_test_run_id uuid,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL,
    user_id uuid,
    role text NOT NULL,
    content text,
    latency_ms integer,
    input_tokens integer,
    output_tokens integer,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS judgments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id uuid NOT NULL,
    judge_type text,
    judge_name text,
    criterion text,
    score numeric,
    passed boolean,
    created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE messages ADD COLUMN IF NOT EXISTS user_id uuid;
ALTER TABLE judgments ADD COLUMN IF NOT EXISTS trace_id text;
CREATE INDEX IF NOT EXISTS idx_judgments_trace_id ON judgments (trace_id);

ALTER TABLE batch_test_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE judgments ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can insert judgments for their own messages"
    ON judgments;
CREATE POLICY "Users can insert judgments for their own messages" ON judgments
    FOR INSERT TO authenticated
    WITH CHECK (EXISTS (SELECT 1 FROM messages
        WHERE messages.id = judgments.message_id
          AND messages.user_id = auth.uid()));
DROP POLICY IF EXISTS "Users can view judgments for their own messages"
    ON judgments;
CREATE POLICY "Users can view judgments for their own messages" ON judgments
    FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM messages
        WHERE messages.id = judgments.message_id
          AND messages.user_id = auth.uid()));
DROP POLICY IF EXISTS "Users can update judgments for their own messages"
    ON judgments;
CREATE POLICY "Users can update judgments for their own messages" ON judgments
    FOR UPDATE TO authenticated
    USING (EXISTS (SELECT 1 FROM messages
        WHERE messages.id = judgments.message_id
          AND messages.user_id = auth.uid()))
    WITH CHECK (EXISTS (SELECT 1 FROM messages
        WHERE messages.id = judgments.message_id
          AND messages.user_id = auth.uid()));
DROP POLICY IF EXISTS "Users can delete judgments for their own messages"
    ON judgments;
CREATE POLICY "Users can delete judgments for their own messages" ON judgments
    FOR DELETE TO authenticated
    USING (EXISTS (SELECT 1 FROM messages
        WHERE messages.id = judgments.message_id
          AND messages.user_id = auth.uid()));
DROP POLICY IF EXISTS "Users can view their own judgments" ON judgments;
CREATE POLICY "Users can view their own judgments" ON judgments
    FOR SELECT
    USING (EXISTS (SELECT 1 FROM messages
        WHERE messages.id = judgments.message_id
          AND messages.user_id = auth.uid()));
DROP POLICY IF EXISTS "Users can insert judgments for their messages"
    ON judgments;
CREATE POLICY "Users can insert judgments for their messages" ON judgments
    FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM messages
        WHERE messages.id = judgments.message_id
          AND messages.user_id = auth.uid()));

COMMENT ON TABLE judgments IS 'Stores automated validator judgment results from batch testing. Access controlled via message ownership through RLS policies.';

-- ---------------------------------------------------------------------
-- Alerts (20251212000003_create_alert_system).

CREATE TABLE IF NOT EXISTS user_alert_preferences (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    email_enabled boolean DEFAULT true,
    email_address text,
    alert_job_started boolean DEFAULT false,
    alert_job_completed boolean DEFAULT true,
    alert_job_failed boolean DEFAULT true,
    alert_job_cancelled boolean DEFAULT false,
    alert_gpu_oom boolean DEFAULT true,
    alert_disk_warning boolean DEFAULT true,
    alert_timeout_warning boolean DEFAULT true,
    daily_summary_enabled boolean DEFAULT false,
    daily_summary_hour integer DEFAULT 9
        CHECK (daily_summary_hour >= 0 AND daily_summary_hour <= 23),
    weekly_digest_enabled boolean DEFAULT false,
    weekly_digest_day integer DEFAULT 1
        CHECK (weekly_digest_day >= 0 AND weekly_digest_day <= 6),
    quiet_hours_enabled boolean DEFAULT false,
    quiet_hours_start integer DEFAULT 22
        CHECK (quiet_hours_start >= 0 AND quiet_hours_start <= 23),
    quiet_hours_end integer DEFAULT 8
        CHECK (quiet_hours_end >= 0 AND quiet_hours_end <= 23),
    timezone text DEFAULT 'UTC',
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    UNIQUE (user_id)
);

CREATE TABLE IF NOT EXISTS user_webhooks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    name text NOT NULL,
    url text NOT NULL,
    webhook_type text DEFAULT 'generic'
        CHECK (webhook_type IN ('slack', 'discord', 'generic')),
    secret text,
    alert_job_started boolean DEFAULT false,
    alert_job_completed boolean DEFAULT true,
    alert_job_failed boolean DEFAULT true,
    alert_job_cancelled boolean DEFAULT false,
    alert_gpu_oom boolean DEFAULT true,
    alert_disk_warning boolean DEFAULT true,
    alert_timeout_warning boolean DEFAULT true,
    enabled boolean DEFAULT true,
    last_success_at timestamptz,
    last_failure_at timestamptz,
    failure_count integer DEFAULT 0,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS alert_history (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    alert_type text NOT NULL,
    title text NOT NULL,
    message text NOT NULL,
    metadata jsonb DEFAULT '{}',
    job_id uuid,
    email_sent boolean DEFAULT false,
    email_sent_at timestamptz,
    email_message_id text,
    email_error text,
    webhook_sent boolean DEFAULT false,
    webhook_sent_at timestamptz,
    webhook_id uuid REFERENCES user_webhooks (id) ON DELETE SET NULL,
    webhook_status_code integer,
    webhook_error text,
    created_at timestamptz DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_user_alert_prefs_user
    ON user_alert_preferences (user_id);
CREATE INDEX IF NOT EXISTS idx_user_webhooks_user ON user_webhooks (user_id);
CREATE INDEX IF NOT EXISTS idx_user_webhooks_enabled
    ON user_webhooks (user_id, enabled) WHERE enabled = true;
CREATE INDEX IF NOT EXISTS idx_alert_history_user_created
    ON alert_history (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_alert_history_job
    ON alert_history (job_id) WHERE job_id IS NOT NULL;

ALTER TABLE user_alert_preferences ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_history ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view own alert preferences"
    ON user_alert_preferences;
CREATE POLICY "Users can view own alert preferences" ON user_alert_preferences
    FOR SELECT USING (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can insert own alert preferences"
    ON user_alert_preferences;
CREATE POLICY "Users can insert own alert preferences"
    ON user_alert_preferences
    FOR INSERT WITH CHECK (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can update own alert preferences"
    ON user_alert_preferences;
CREATE POLICY "Users can update own alert preferences"
    ON user_alert_preferences
    FOR UPDATE USING (auth.uid() = user_id);

DROP POLICY IF EXISTS "Users can view own webhooks" ON user_webhooks;
CREATE POLICY "Users can view own webhooks" ON user_webhooks
    FOR SELECT USING (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can insert own webhooks" ON user_webhooks;
CREATE POLICY "Users can insert own webhooks" ON user_webhooks
    FOR INSERT WITH CHECK (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can update own webhooks" ON user_webhooks;
CREATE POLICY "Users can update own webhooks" ON user_webhooks
    FOR UPDATE USING (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can delete own webhooks" ON user_webhooks;
CREATE POLICY "Users can delete own webhooks" ON user_webhooks
    FOR DELETE USING (auth.uid() = user_id);

DROP POLICY IF EXISTS "Users can view own alert history" ON alert_history;
CREATE POLICY "Users can view own alert history" ON alert_history
    FOR SELECT USING (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can insert own alert history" ON alert_history;
CREATE POLICY "Users can insert own alert history" ON alert_history
    FOR INSERT WITH CHECK (auth.uid() = user_id);
DROP POLICY IF EXISTS "Service role can insert alert history" ON alert_history;
CREATE POLICY "Service role can insert alert history" ON alert_history
    FOR INSERT TO service_role WITH CHECK (true);

CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at = NOW();
  RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER update_user_alert_preferences_updated_at
    BEFORE UPDATE ON user_alert_preferences
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE OR REPLACE TRIGGER update_user_webhooks_updated_at
    BEFORE UPDATE ON user_webhooks
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE OR REPLACE FUNCTION increment_webhook_failure(webhook_id uuid)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  UPDATE user_webhooks
  SET
    failure_count = failure_count + 1,
    last_failure_at = NOW()
  WHERE id = webhook_id;
END;
$$;

COMMENT ON TABLE user_alert_preferences IS 'User preferences for email alerts and notifications';
COMMENT ON TABLE user_webhooks IS 'User-configured webhook endpoints for alerts';
COMMENT ON TABLE alert_history IS 'Log of all sent alerts with delivery status';

-- ---------------------------------------------------------------------
-- Integrations (20251212000004_create_user_integrations).

CREATE TABLE IF NOT EXISTS user_integrations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    integration_type text NOT NULL,
    name text NOT NULL DEFAULT '',
    credentials jsonb NOT NULL DEFAULT '{}',
    config jsonb NOT NULL DEFAULT '{}',
    enabled boolean DEFAULT true,
    last_sync_at timestamptz,
    last_error text,
    error_count integer DEFAULT 0,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    UNIQUE (user_id, integration_type)
);

CREATE INDEX IF NOT EXISTS idx_user_integrations_user
    ON user_integrations (user_id);
CREATE INDEX IF NOT EXISTS idx_user_integrations_type
    ON user_integrations (integration_type);

ALTER TABLE user_integrations ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view own integrations" ON user_integrations;
CREATE POLICY "Users can view own integrations" ON user_integrations
    FOR SELECT USING (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can insert own integrations" ON user_integrations;
CREATE POLICY "Users can insert own integrations" ON user_integrations
    FOR INSERT WITH CHECK (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can update own integrations" ON user_integrations;
CREATE POLICY "Users can update own integrations" ON user_integrations
    FOR UPDATE USING (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can delete own integrations" ON user_integrations;
CREATE POLICY "Users can delete own integrations" ON user_integrations
    FOR DELETE USING (auth.uid() = user_id);
DROP POLICY IF EXISTS "Service role full access" ON user_integrations;
CREATE POLICY "Service role full access" ON user_integrations
    FOR ALL USING (auth.jwt() ->> 'role' = 'service_role');

CREATE OR REPLACE FUNCTION update_user_integrations_updated_at()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at = NOW();
  RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER trigger_user_integrations_updated_at
    BEFORE UPDATE ON user_integrations
    FOR EACH ROW EXECUTE FUNCTION update_user_integrations_updated_at();

CREATE OR REPLACE FUNCTION increment_integration_error(p_integration_id uuid)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  UPDATE user_integrations
  SET
    error_count = error_count + 1,
    updated_at = NOW()
  WHERE id = p_integration_id;
END;
$$;

GRANT ALL ON user_integrations TO authenticated;
GRANT EXECUTE ON FUNCTION increment_integration_error TO authenticated;

-- Batch-test alert toggles (20251212000005_add_batch_test_alerts).
ALTER TABLE user_alert_preferences
    ADD COLUMN IF NOT EXISTS alert_batch_test_completed boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS alert_batch_test_failed boolean DEFAULT true;
ALTER TABLE user_webhooks
    ADD COLUMN IF NOT EXISTS alert_batch_test_completed boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS alert_batch_test_failed boolean DEFAULT true;

-- ---------------------------------------------------------------------
-- Scheduled evaluations (20251216000000_create_scheduled_evaluations;
-- the schedule types as 20260104000000 left them).

CREATE TABLE IF NOT EXISTS scheduled_evaluations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text,
    schedule_type text NOT NULL
        CONSTRAINT scheduled_evaluations_schedule_type_check
        CHECK (schedule_type IN ('every_5_minutes', 'hourly', 'daily',
                                 'weekly', 'custom')),
    cron_expression text,
    timezone text NOT NULL DEFAULT 'UTC',
    test_suite_id uuid NOT NULL
        REFERENCES test_suites (id) ON DELETE CASCADE,
    model_id text NOT NULL,
    batch_test_config jsonb DEFAULT '{}'::jsonb,
    is_active boolean NOT NULL DEFAULT true,
    last_run_at timestamptz,
    next_run_at timestamptz NOT NULL,
    last_run_status text
        CHECK (last_run_status IN ('success', 'failed', 'cancelled')
               OR last_run_status IS NULL),
    last_run_id uuid,
    consecutive_failures integer NOT NULL DEFAULT 0,
    alert_on_failure boolean NOT NULL DEFAULT true,
    alert_on_regression boolean NOT NULL DEFAULT false,
    regression_threshold_percent numeric(5,2) NOT NULL DEFAULT 10.0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_scheduled_evals_next_run
    ON scheduled_evaluations (next_run_at, is_active) WHERE is_active = true;
CREATE INDEX IF NOT EXISTS idx_scheduled_evals_user
    ON scheduled_evaluations (user_id, is_active);
CREATE INDEX IF NOT EXISTS idx_scheduled_evals_suite
    ON scheduled_evaluations (test_suite_id);
CREATE INDEX IF NOT EXISTS idx_scheduled_evals_created_at
    ON scheduled_evaluations (created_at DESC);

ALTER TABLE scheduled_evaluations ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view own scheduled evaluations"
    ON scheduled_evaluations;
CREATE POLICY "Users can view own scheduled evaluations"
    ON scheduled_evaluations
    FOR SELECT TO authenticated USING (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can create own scheduled evaluations"
    ON scheduled_evaluations;
CREATE POLICY "Users can create own scheduled evaluations"
    ON scheduled_evaluations
    FOR INSERT TO authenticated WITH CHECK (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can update own scheduled evaluations"
    ON scheduled_evaluations;
CREATE POLICY "Users can update own scheduled evaluations"
    ON scheduled_evaluations
    FOR UPDATE TO authenticated
    USING (auth.uid() = user_id) WITH CHECK (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can delete own scheduled evaluations"
    ON scheduled_evaluations;
CREATE POLICY "Users can delete own scheduled evaluations"
    ON scheduled_evaluations
    FOR DELETE TO authenticated USING (auth.uid() = user_id);

CREATE OR REPLACE TRIGGER scheduled_evaluations_updated_at
    BEFORE UPDATE ON scheduled_evaluations
    FOR EACH ROW EXECUTE FUNCTION update_test_suites_updated_at();

CREATE TABLE IF NOT EXISTS scheduled_evaluation_runs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scheduled_evaluation_id uuid NOT NULL
        REFERENCES scheduled_evaluations (id) ON DELETE CASCADE,
    batch_test_run_id uuid,
    status text NOT NULL
        CHECK (status IN ('triggered', 'running', 'completed', 'failed',
                          'cancelled')),
    triggered_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    total_prompts integer,
    successful_prompts integer,
    failed_prompts integer,
    avg_latency_ms numeric(10,2),
    avg_quality_score numeric(5,2),
    regression_detected boolean NOT NULL DEFAULT false,
    regression_details jsonb,
    baseline_run_id uuid
        REFERENCES scheduled_evaluation_runs (id) ON DELETE SET NULL,
    error_message text,
    error_details jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_scheduled_eval_runs_schedule
    ON scheduled_evaluation_runs (scheduled_evaluation_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_scheduled_eval_runs_batch
    ON scheduled_evaluation_runs (batch_test_run_id);
CREATE INDEX IF NOT EXISTS idx_scheduled_eval_runs_status
    ON scheduled_evaluation_runs (status, triggered_at DESC);
CREATE INDEX IF NOT EXISTS idx_scheduled_eval_runs_created_at
    ON scheduled_evaluation_runs (created_at DESC);

ALTER TABLE scheduled_evaluation_runs ENABLE ROW LEVEL SECURITY;

-- No INSERT, UPDATE or DELETE policies: only the service role writes runs.
DROP POLICY IF EXISTS "Users can view runs for own scheduled evaluations"
    ON scheduled_evaluation_runs;
CREATE POLICY "Users can view runs for own scheduled evaluations"
    ON scheduled_evaluation_runs
    FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM scheduled_evaluations
        WHERE scheduled_evaluations.id
              = scheduled_evaluation_runs.scheduled_evaluation_id
          AND scheduled_evaluations.user_id = auth.uid()));

-- Scheduled-evaluation alert toggles
-- (20251217000000_add_scheduled_eval_alert_prefs).
ALTER TABLE user_alert_preferences
    ADD COLUMN IF NOT EXISTS alert_scheduled_eval_completed boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS alert_scheduled_eval_failed boolean DEFAULT true,
    ADD COLUMN IF NOT EXISTS alert_scheduled_eval_disabled boolean DEFAULT true,
    ADD COLUMN IF NOT EXISTS alert_scheduled_eval_regression boolean DEFAULT true;
ALTER TABLE user_webhooks
    ADD COLUMN IF NOT EXISTS alert_scheduled_eval_completed boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS alert_scheduled_eval_failed boolean DEFAULT true,
    ADD COLUMN IF NOT EXISTS alert_scheduled_eval_disabled boolean DEFAULT true,
    ADD COLUMN IF NOT EXISTS alert_scheduled_eval_regression boolean DEFAULT true;

-- ---------------------------------------------------------------------
-- The 50-active-schedules limit and the audit log
-- (20251217000001_add_security_constraints).

CREATE OR REPLACE FUNCTION check_schedule_limit()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT COUNT(*) FROM scheduled_evaluations WHERE user_id = NEW.user_id AND is_active = true) >= 50 THEN
    RAISE EXCEPTION 'Maximum 50 active schedules per user exceeded';
  END IF;
  RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER enforce_schedule_limit_insert
    BEFORE INSERT ON scheduled_evaluations
    FOR EACH ROW EXECUTE FUNCTION check_schedule_limit();

CREATE OR REPLACE TRIGGER enforce_schedule_limit_update
    BEFORE UPDATE ON scheduled_evaluations
    FOR EACH ROW
    WHEN (OLD.is_active = false AND NEW.is_active = true)
    EXECUTE FUNCTION check_schedule_limit();

CREATE INDEX IF NOT EXISTS idx_schedules_active_next_run
    ON scheduled_evaluations (next_run_at) WHERE is_active = true;
CREATE INDEX IF NOT EXISTS idx_schedules_user_active
    ON scheduled_evaluations (user_id, is_active);
CREATE INDEX IF NOT EXISTS idx_schedule_runs_schedule_id
    ON scheduled_evaluation_runs (scheduled_evaluation_id, triggered_at DESC);

CREATE TABLE IF NOT EXISTS scheduled_evaluation_audit (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scheduled_evaluation_id uuid,
    user_id uuid REFERENCES auth.users (id),
    action text NOT NULL
        CHECK (action IN ('created', 'updated', 'deleted', 'toggled',
                          'executed')),
    old_values jsonb,
    new_values jsonb,
    ip_address inet,
    user_agent text,
    created_at timestamptz DEFAULT now()
);

ALTER TABLE scheduled_evaluation_audit ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view their own audit logs"
    ON scheduled_evaluation_audit;
CREATE POLICY "Users can view their own audit logs"
    ON scheduled_evaluation_audit
    FOR SELECT USING (auth.uid() = user_id);

-- Runs as the role that changed the schedule (not SECURITY DEFINER).
CREATE OR REPLACE FUNCTION log_schedule_audit()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (TG_OP = 'DELETE') THEN
    INSERT INTO scheduled_evaluation_audit (scheduled_evaluation_id, user_id, action, old_values)
    VALUES (OLD.id, OLD.user_id, 'deleted', to_jsonb(OLD));
    RETURN OLD;
  ELSIF (TG_OP = 'UPDATE') THEN
    INSERT INTO scheduled_evaluation_audit (scheduled_evaluation_id, user_id, action, old_values, new_values)
    VALUES (NEW.id, NEW.user_id, 'updated', to_jsonb(OLD), to_jsonb(NEW));
    RETURN NEW;
  ELSIF (TG_OP = 'INSERT') THEN
    INSERT INTO scheduled_evaluation_audit (scheduled_evaluation_id, user_id, action, new_values)
    VALUES (NEW.id, NEW.user_id, 'created', to_jsonb(NEW));
    RETURN NEW;
  END IF;
  RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER schedule_audit_insert
    AFTER INSERT ON scheduled_evaluations
    FOR EACH ROW EXECUTE FUNCTION log_schedule_audit();
CREATE OR REPLACE TRIGGER schedule_audit_update
    AFTER UPDATE ON scheduled_evaluations
    FOR EACH ROW EXECUTE FUNCTION log_schedule_audit();
CREATE OR REPLACE TRIGGER schedule_audit_delete
    AFTER DELETE ON scheduled_evaluations
    FOR EACH ROW EXECUTE FUNCTION log_schedule_audit();

COMMENT ON TABLE scheduled_evaluation_audit IS 'Audit log for all scheduled evaluation changes';
COMMENT ON FUNCTION check_schedule_limit() IS 'Enforces maximum of 50 active schedules per user';

-- Per-schedule API keys (20260104000001).
ALTER TABLE scheduled_evaluations
    ADD COLUMN IF NOT EXISTS api_key_encrypted text;

COMMENT ON COLUMN scheduled_evaluations.api_key_encrypted IS
  'Encrypted API key (wak_*) for scheduler authentication. Uses same encryption as provider_secrets.';

-- ---------------------------------------------------------------------
-- Traces (20251128_create_llm_traces, 20251220000000_add_trace_performance_fields).

CREATE TABLE IF NOT EXISTS llm_traces (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    conversation_id uuid REFERENCES conversations (id) ON DELETE CASCADE,
    message_id uuid REFERENCES messages (id) ON DELETE CASCADE,
    trace_id text NOT NULL,
    parent_trace_id text,
    span_id text NOT NULL,
    span_name text NOT NULL,
    start_time timestamptz NOT NULL,
    end_time timestamptz,
    duration_ms numeric,
    operation_type text NOT NULL,
    model_name text,
    model_provider text,
    model_version text,
    input_data jsonb,
    output_data jsonb,
    metadata jsonb DEFAULT '{}'::jsonb,
    input_tokens integer,
    output_tokens integer,
    total_tokens integer,
    cost_usd numeric(10, 6),
    status text DEFAULT 'pending',
    error_message text,
    error_type text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE llm_traces
    ADD COLUMN IF NOT EXISTS ttft_ms numeric,
    ADD COLUMN IF NOT EXISTS tokens_per_second numeric;

CREATE INDEX IF NOT EXISTS idx_llm_traces_user_id ON llm_traces (user_id);
CREATE INDEX IF NOT EXISTS idx_llm_traces_trace_id ON llm_traces (trace_id);
CREATE INDEX IF NOT EXISTS idx_llm_traces_conversation_id
    ON llm_traces (conversation_id);
CREATE INDEX IF NOT EXISTS idx_llm_traces_message_id
    ON llm_traces (message_id);
CREATE INDEX IF NOT EXISTS idx_llm_traces_parent_trace_id
    ON llm_traces (parent_trace_id);
CREATE INDEX IF NOT EXISTS idx_llm_traces_created_at
    ON llm_traces (created_at DESC);
CREATE INDEX IF NOT EXISTS idx_llm_traces_operation_type
    ON llm_traces (operation_type);
CREATE INDEX IF NOT EXISTS idx_llm_traces_status ON llm_traces (status);
CREATE INDEX IF NOT EXISTS idx_llm_traces_hierarchy
    ON llm_traces (trace_id, parent_trace_id);
CREATE INDEX IF NOT EXISTS idx_llm_traces_ttft_ms
    ON llm_traces (ttft_ms) WHERE ttft_ms IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_llm_traces_tokens_per_second
    ON llm_traces (tokens_per_second) WHERE tokens_per_second IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_llm_traces_input_data_gin
    ON llm_traces USING gin (input_data);
CREATE INDEX IF NOT EXISTS idx_llm_traces_output_data_gin
    ON llm_traces USING gin (output_data);
CREATE INDEX IF NOT EXISTS idx_llm_traces_metadata_gin
    ON llm_traces USING gin (metadata);

ALTER TABLE llm_traces ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view their own traces" ON llm_traces;
CREATE POLICY "Users can view their own traces" ON llm_traces
    FOR SELECT USING (user_id = auth.uid());
DROP POLICY IF EXISTS "Users can insert their own traces" ON llm_traces;
CREATE POLICY "Users can insert their own traces" ON llm_traces
    FOR INSERT WITH CHECK (user_id = auth.uid());
DROP POLICY IF EXISTS "Users can update their own traces" ON llm_traces;
CREATE POLICY "Users can update their own traces" ON llm_traces
    FOR UPDATE USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
DROP POLICY IF EXISTS "Users can delete their own traces" ON llm_traces;
CREATE POLICY "Users can delete their own traces" ON llm_traces
    FOR DELETE USING (user_id = auth.uid());

CREATE OR REPLACE FUNCTION update_llm_traces_updated_at()
RETURNS trigger AS $$
BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER llm_traces_updated_at_trigger
    BEFORE UPDATE ON llm_traces
    FOR EACH ROW EXECUTE FUNCTION update_llm_traces_updated_at();

-- ---------------------------------------------------------------------
-- Metric alert rules and their evaluations
-- (20251225000000_create_metric_alert_rules).

CREATE TABLE IF NOT EXISTS metric_alert_rules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    rule_name text NOT NULL,
    description text,
    metric_type text NOT NULL CHECK (metric_type IN ('latency', 'error_rate',
        'cost', 'throughput', 'ttft', 'token_usage', 'anomaly_severity')),
    threshold_value numeric NOT NULL,
    comparison_operator text NOT NULL
        CHECK (comparison_operator IN ('>', '<', '>=', '<=', '==', '!=')),
    time_window_minutes integer NOT NULL DEFAULT 5
        CHECK (time_window_minutes > 0),
    aggregation_method text NOT NULL CHECK (aggregation_method IN ('p50',
        'p95', 'p99', 'avg', 'max', 'min', 'count', 'sum')),
    model_filter text,
    operation_filter text,
    status_filter text,
    notify_email boolean NOT NULL DEFAULT true,
    notify_webhooks boolean NOT NULL DEFAULT false,
    notify_integrations boolean NOT NULL DEFAULT false,
    cooldown_minutes integer NOT NULL DEFAULT 30 CHECK (cooldown_minutes >= 0),
    enabled boolean NOT NULL DEFAULT true,
    last_triggered_at timestamptz,
    trigger_count integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_metric_alert_rules_user_id
    ON metric_alert_rules (user_id);
CREATE INDEX IF NOT EXISTS idx_metric_alert_rules_enabled
    ON metric_alert_rules (enabled) WHERE enabled = true;
CREATE INDEX IF NOT EXISTS idx_metric_alert_rules_metric_type
    ON metric_alert_rules (metric_type);

ALTER TABLE metric_alert_rules ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view their own alert rules"
    ON metric_alert_rules;
CREATE POLICY "Users can view their own alert rules" ON metric_alert_rules
    FOR SELECT USING (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can create their own alert rules"
    ON metric_alert_rules;
CREATE POLICY "Users can create their own alert rules" ON metric_alert_rules
    FOR INSERT WITH CHECK (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can update their own alert rules"
    ON metric_alert_rules;
CREATE POLICY "Users can update their own alert rules" ON metric_alert_rules
    FOR UPDATE USING (auth.uid() = user_id);
DROP POLICY IF EXISTS "Users can delete their own alert rules"
    ON metric_alert_rules;
CREATE POLICY "Users can delete their own alert rules" ON metric_alert_rules
    FOR DELETE USING (auth.uid() = user_id);

CREATE TABLE IF NOT EXISTS metric_alert_rule_evaluations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    rule_id uuid NOT NULL REFERENCES metric_alert_rules (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    metric_value numeric NOT NULL,
    threshold_value numeric NOT NULL,
    triggered boolean NOT NULL,
    time_window_start timestamptz NOT NULL,
    time_window_end timestamptz NOT NULL,
    sample_count integer NOT NULL DEFAULT 0,
    metadata jsonb,
    evaluated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_metric_alert_rule_evaluations_rule_id
    ON metric_alert_rule_evaluations (rule_id);
CREATE INDEX IF NOT EXISTS idx_metric_alert_rule_evaluations_user_id
    ON metric_alert_rule_evaluations (user_id);
CREATE INDEX IF NOT EXISTS idx_metric_alert_rule_evaluations_triggered
    ON metric_alert_rule_evaluations (triggered) WHERE triggered = true;
CREATE INDEX IF NOT EXISTS idx_metric_alert_rule_evaluations_evaluated_at
    ON metric_alert_rule_evaluations (evaluated_at DESC);

ALTER TABLE metric_alert_rule_evaluations ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view their own rule evaluations"
    ON metric_alert_rule_evaluations;
CREATE POLICY "Users can view their own rule evaluations"
    ON metric_alert_rule_evaluations
    FOR SELECT USING (auth.uid() = user_id);

CREATE OR REPLACE FUNCTION update_metric_alert_rule_updated_at()
RETURNS trigger AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER update_metric_alert_rule_updated_at_trigger
    BEFORE UPDATE ON metric_alert_rules
    FOR EACH ROW EXECUTE FUNCTION update_metric_alert_rule_updated_at();

-- ---------------------------------------------------------------------
-- Detected anomalies.  No migration creates this table (the application
-- created it by hand); these are the columns its code writes and reads
-- (lib/services/anomaly-detection.service.ts saveAnomaly,
-- app/api/analytics/anomalies/detect/route.ts,
-- app/api/analytics/anomalies/route.ts), of the types those values
-- have, with row-level security enabled and no policy in any migration.

CREATE TABLE IF NOT EXISTS anomaly_detections (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    anomaly_type text NOT NULL,
    severity text NOT NULL,
    confidence_score numeric,
    metric_name text,
    model_id text,
    conversation_id uuid,
    tool_name text,
    detected_value numeric,
    expected_value numeric,
    threshold_value numeric,
    deviation_percentage numeric,
    statistics jsonb,
    description text,
    contributing_factors jsonb,
    recommended_actions jsonb,
    resolution_status text DEFAULT 'pending',
    resolution_notes text,
    acknowledged boolean DEFAULT false,
    acknowledged_by uuid,
    acknowledged_at timestamptz,
    detected_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE anomaly_detections ENABLE ROW LEVEL SECURITY;

-- ---------------------------------------------------------------------
-- Supabase's grants on the tables above, for a database where they were
-- created before the default privileges were set.
GRANT ALL ON TABLE test_suites, batch_test_runs, conversations, messages,
    judgments, user_alert_preferences, user_webhooks, alert_history,
    user_integrations, scheduled_evaluations, scheduled_evaluation_runs,
    scheduled_evaluation_audit, llm_traces, metric_alert_rules,
    metric_alert_rule_evaluations, anomaly_detections
    TO anon, authenticated, service_role;

COMMIT;
