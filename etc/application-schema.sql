-- The evaluation application's own scheduling tables, as the application
-- creates them: same columns, types, defaults, CHECK values and indexes.
-- Standalone: no foreign keys to the application's users or test suites,
-- and no row-level security policies (those need the application's auth
-- schema).  Applying this twice is harmless.

CREATE TABLE IF NOT EXISTS scheduled_evaluations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    name text NOT NULL,
    description text,
    schedule_type text NOT NULL
        CHECK (schedule_type IN ('every_5_minutes', 'hourly', 'daily',
                                 'weekly', 'custom')),
    cron_expression text,
    timezone text NOT NULL DEFAULT 'UTC',
    test_suite_id uuid NOT NULL,
    model_id text NOT NULL,
    batch_test_config jsonb NOT NULL DEFAULT '{}'::jsonb,
    is_active boolean NOT NULL DEFAULT true,
    last_run_at timestamptz,
    next_run_at timestamptz NOT NULL,
    last_run_status text
        CHECK (last_run_status IN ('success', 'failed', 'cancelled')),
    last_run_id uuid,
    consecutive_failures integer NOT NULL DEFAULT 0,
    alert_on_failure boolean NOT NULL DEFAULT true,
    alert_on_regression boolean NOT NULL DEFAULT true,
    regression_threshold_percent numeric NOT NULL DEFAULT 10.0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Per-schedule API keys (the application's migration 20260104000001).
ALTER TABLE scheduled_evaluations
    ADD COLUMN IF NOT EXISTS api_key_encrypted text;

CREATE INDEX IF NOT EXISTS idx_scheduled_evaluations_user_id
    ON scheduled_evaluations (user_id);
CREATE INDEX IF NOT EXISTS idx_scheduled_evaluations_next_run
    ON scheduled_evaluations (next_run_at) WHERE is_active = true;
CREATE INDEX IF NOT EXISTS idx_scheduled_evaluations_test_suite
    ON scheduled_evaluations (test_suite_id);

CREATE TABLE IF NOT EXISTS scheduled_evaluation_runs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scheduled_evaluation_id uuid NOT NULL
        REFERENCES scheduled_evaluations (id) ON DELETE CASCADE,
    batch_test_run_id uuid,
    status text NOT NULL DEFAULT 'triggered'
        CHECK (status IN ('triggered', 'running', 'completed', 'failed',
                          'cancelled')),
    triggered_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    total_prompts integer DEFAULT 0,
    successful_prompts integer DEFAULT 0,
    failed_prompts integer DEFAULT 0,
    avg_latency_ms numeric,
    avg_quality_score numeric,
    regression_detected boolean DEFAULT false,
    regression_details jsonb,
    baseline_run_id uuid,
    error_message text,
    error_details jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_scheduled_evaluation_runs_schedule
    ON scheduled_evaluation_runs (scheduled_evaluation_id);
CREATE INDEX IF NOT EXISTS idx_scheduled_evaluation_runs_status
    ON scheduled_evaluation_runs (status);
CREATE INDEX IF NOT EXISTS idx_scheduled_evaluation_runs_triggered_at
    ON scheduled_evaluation_runs (triggered_at DESC);

CREATE OR REPLACE FUNCTION update_scheduled_evaluations_updated_at()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER update_scheduled_evaluations_updated_at
    BEFORE UPDATE ON scheduled_evaluations
    FOR EACH ROW EXECUTE FUNCTION update_scheduled_evaluations_updated_at();

-- Where a batch test's results live.  The application's migrations do not
-- create these (they predate them); these are minimal versions with the
-- columns the application's code uses, so that a standalone database runs
-- the whole loop.  In the application's database they already exist.
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


-- The application's alert tables (migrations 20251212000003 and
-- 20251217000000), without the foreign keys to its auth schema and
-- without its row-level security policies.
CREATE TABLE IF NOT EXISTS user_alert_preferences (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL UNIQUE,
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
    alert_scheduled_eval_completed boolean DEFAULT false,
    alert_scheduled_eval_failed boolean DEFAULT true,
    alert_scheduled_eval_disabled boolean DEFAULT true,
    alert_scheduled_eval_regression boolean DEFAULT true,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS user_webhooks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
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
    alert_scheduled_eval_completed boolean DEFAULT false,
    alert_scheduled_eval_failed boolean DEFAULT true,
    alert_scheduled_eval_disabled boolean DEFAULT true,
    alert_scheduled_eval_regression boolean DEFAULT true,
    enabled boolean DEFAULT true,
    last_success_at timestamptz,
    last_failure_at timestamptz,
    failure_count integer DEFAULT 0,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);

CREATE TABLE IF NOT EXISTS alert_history (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
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
