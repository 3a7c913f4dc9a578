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

