-- What the end of a run does to its schedule (evalsched_schedule_after)
-- and the alerts it calls for (evalsched_end_alerts), on schedules made
-- by hand.
BEGIN;

SELECT FROM tap.owner('a0000000-0000-4000-8000-000000000001',
    'b0000000-0000-4000-8000-000000000001');
INSERT INTO scheduled_evaluations (id, user_id, name, schedule_type,
    test_suite_id, model_id, next_run_at, consecutive_failures,
    last_run_status, last_run_at, last_run_id)
VALUES ('c0000000-0000-4000-8000-000000000001',
    'a0000000-0000-4000-8000-000000000001', 'nightly', 'daily',
    'b0000000-0000-4000-8000-000000000001', 'gpt-x',
    now() + interval '1 day', 2, 'failed', now() - interval '1 hour',
    'd0000000-0000-4000-8000-000000000009');

-- A failure of the schedule's, the third in a row: disabled, saying why.
SELECT tap.is(ROW(a.consecutive_failures, a.is_active,
        a.evalsched_disabled_at, a.evalsched_disabled_reason,
        a.last_run_status, a.last_run_id, a.last_run_at)::text,
    ROW(3, false, now(), '3 consecutive failures', 'failed',
        'd0000000-0000-4000-8000-000000000009'::uuid, now())::text,
    'a counted failure that reaches max_failures disables, saying why')
FROM public.scheduled_evaluations s,
    public.evalsched_schedule_after(s, 'failed', true, false, true,
    NULL, now(), 3) a;

SELECT tap.is(ROW(a.consecutive_failures, a.is_active,
        a.evalsched_disabled_reason)::text,
    ROW(3, true, NULL::text)::text,
    'one short of max_failures: counted, still active')
FROM public.scheduled_evaluations s,
    public.evalsched_schedule_after(s, 'all_failed', true, false, true,
    NULL, now(), 4) a;

UPDATE public.scheduled_evaluations SET is_active = false;
SELECT tap.is(ROW(a.consecutive_failures, a.is_active,
        a.evalsched_disabled_at)::text,
    ROW(3, false, NULL::timestamptz)::text,
    'a paused schedule counts the failure, and nothing disables it')
FROM public.scheduled_evaluations s,
    public.evalsched_schedule_after(s, 'failed', true, false, true,
    NULL, now(), 3) a;
-- A resume starts the count again (evalsched_reset_on_enable).
UPDATE public.scheduled_evaluations SET is_active = true;
UPDATE public.scheduled_evaluations SET consecutive_failures = 2;

SELECT tap.is(ROW(a.consecutive_failures, a.is_active)::text,
    ROW(2, true)::text,
    'a failure of the platform''s, not counted, leaves the count')
FROM public.scheduled_evaluations s,
    public.evalsched_schedule_after(s, 'failed', false, false, true,
    NULL, now(), 3) a;

-- A completed run, the newest: the count starts again; its batch test
-- and its start are the schedule's last run.
SELECT tap.is(ROW(a.consecutive_failures, a.is_active, a.last_run_status,
        a.last_run_id, a.last_run_at)::text,
    ROW(0, true, 'success', 'd0000000-0000-4000-8000-000000000001'::uuid,
        now() - interval '10 minutes')::text,
    'a completed newest run resets the count and is the last run')
FROM public.scheduled_evaluations s,
    public.evalsched_schedule_after(s, 'completed', false, true, true,
    'd0000000-0000-4000-8000-000000000001', now() - interval '10 minutes',
    3) a;

SELECT tap.is(a.last_run_at, now() - interval '1 hour',
    'the last run''s time never goes back')
FROM public.scheduled_evaluations s,
    public.evalsched_schedule_after(s, 'completed', false, true, true,
    'd0000000-0000-4000-8000-000000000001', now() - interval '2 hours',
    3) a;

SELECT tap.is(ROW(a.consecutive_failures, a.last_run_status, a.last_run_id,
        a.last_run_at)::text,
    ROW(0, 'failed', 'd0000000-0000-4000-8000-000000000009'::uuid,
        now() - interval '1 hour')::text,
    'an older run resets the count but leaves the last run as it was')
FROM public.scheduled_evaluations s,
    public.evalsched_schedule_after(s, 'completed', false, true, false,
    'd0000000-0000-4000-8000-000000000001', now(), 3) a;

SELECT tap.is(ROW(a.consecutive_failures, a.last_run_status,
        a.last_run_id)::text,
    ROW(2, 'cancelled', 'd0000000-0000-4000-8000-000000000009'::uuid)::text,
    'a cancelled run without a batch test: status cancelled, count left')
FROM public.scheduled_evaluations s,
    public.evalsched_schedule_after(s, 'cancelled', false, false, true,
    NULL, now(), 3) a;

-- The alerts of a run's end.
UPDATE public.scheduled_evaluations SET consecutive_failures = 3;
CREATE TEMP TABLE al AS
SELECT a.event, a.user_id, a.scheduled_evaluation_id, a.run_id, a.title,
    a.message, a.metadata::jsonb AS metadata
FROM public.scheduled_evaluations s, public.evalsched_end_alerts(s,
    'e0000000-0000-4000-8000-000000000001', true, true, true, NULL,
    'HTTP 400 from the application', NULL, NULL, NULL) a;

SELECT tap.is((SELECT pg_catalog.string_agg(event, ',' ORDER BY event)
        FROM al), 'scheduled_eval_disabled,scheduled_eval_failed',
    'a counted failure that disables: the failed and the disabled alert');
SELECT tap.is(ROW(title, message, metadata)::text, ROW(
    'Scheduled Evaluation Failed: nightly',
    'Your scheduled evaluation failed. HTTP 400 from the application',
    '{"scheduledEvaluationId": "c0000000-0000-4000-8000-000000000001",
      "userId": "a0000000-0000-4000-8000-000000000001",
      "scheduleName": "nightly", "modelId": "gpt-x", "status": "failed",
      "errorMessage": "HTTP 400 from the application",
      "consecutiveFailures": 3,
      "runId": "e0000000-0000-4000-8000-000000000001"}'::jsonb)::text,
    'the failed alert: the application''s words, the error as it is')
FROM al WHERE event = 'scheduled_eval_failed';
SELECT tap.is(ROW(title, message, metadata)::text, ROW(
    'Scheduled Evaluation Auto-Disabled: nightly',
    'Your scheduled evaluation has been auto-disabled after 3 consecutive '
        || 'failures. Please check the configuration and re-enable '
        || 'manually.',
    '{"scheduledEvaluationId": "c0000000-0000-4000-8000-000000000001",
      "userId": "a0000000-0000-4000-8000-000000000001",
      "scheduleName": "nightly", "modelId": "gpt-x",
      "status": "auto_disabled",
      "errorMessage": "Auto-disabled after 3 consecutive failures",
      "consecutiveFailures": 3,
      "runId": "e0000000-0000-4000-8000-000000000001",
      "lastError": "HTTP 400 from the application"}'::jsonb)::text,
    'the disabled alert: the worker''s words, the last error after')
FROM al WHERE event = 'scheduled_eval_disabled';
SELECT tap.is(pg_catalog.string_agg(ROW(a.event, a.user_id,
        a.scheduled_evaluation_id, a.run_id)::text, ','),
    ROW('scheduled_eval_failed', 'a0000000-0000-4000-8000-000000000001'::uuid,
        'c0000000-0000-4000-8000-000000000001'::uuid,
        'e0000000-0000-4000-8000-000000000001'::uuid)::text,
    'an uncounted failure: the failed alert alone, to the owner')
FROM public.scheduled_evaluations s, public.evalsched_end_alerts(s,
    'e0000000-0000-4000-8000-000000000001', true, false, false, NULL,
    'HTTP 502', NULL, NULL, NULL) a;
SELECT tap.is(message, 'Your scheduled evaluation failed. HTTP 502 (a fault '
        || 'of the platform, not of the schedule: it does not count toward '
        || 'auto-disable)',
    'an uncounted failure says so')
FROM public.scheduled_evaluations s, public.evalsched_end_alerts(s,
    'e0000000-0000-4000-8000-000000000001', true, false, false, NULL,
    'HTTP 502', NULL, NULL, NULL);
SELECT tap.is(ROW(event, metadata::jsonb)::text, ROW(
    'scheduled_eval_disabled',
    '{"scheduledEvaluationId": "c0000000-0000-4000-8000-000000000001",
      "userId": "a0000000-0000-4000-8000-000000000001",
      "scheduleName": "nightly", "modelId": "gpt-x",
      "status": "auto_disabled",
      "errorMessage": "bad schedule: no user_id",
      "consecutiveFailures": 3,
      "runId": "e0000000-0000-4000-8000-000000000001"}'::jsonb)::text,
    'a bad row: the disabled alert says why, without a last error')
FROM public.scheduled_evaluations s, public.evalsched_end_alerts(s,
    'e0000000-0000-4000-8000-000000000001', false, false, true,
    'bad schedule: no user_id', NULL, NULL, NULL, NULL);
SELECT tap.is(metadata::jsonb -> 'totalPrompts', '5'::jsonb,
    'the counts of the batch test that ran')
FROM public.scheduled_evaluations s, public.evalsched_end_alerts(s,
    'e0000000-0000-4000-8000-000000000001', false, false, true, NULL,
    'every prompt failed (5 of 5)', 5, 0, 5);

UPDATE public.scheduled_evaluations SET alert_on_failure = false;
SELECT tap.is((SELECT pg_catalog.count(*) FROM public.scheduled_evaluations s,
        public.evalsched_end_alerts(s, 'e0000000-0000-4000-8000-000000000001',
        true, true, true, NULL, 'x', NULL, NULL, NULL)), 0::bigint,
    'alert_on_failure off: no alert');
ALTER TABLE public.scheduled_evaluations ALTER COLUMN user_id DROP NOT NULL;
UPDATE public.scheduled_evaluations
SET alert_on_failure = true, user_id = NULL;
SELECT tap.is((SELECT pg_catalog.count(*) FROM public.scheduled_evaluations s,
        public.evalsched_end_alerts(s, 'e0000000-0000-4000-8000-000000000001',
        true, true, true, NULL, 'x', NULL, NULL, NULL)), 0::bigint,
    'a schedule without a user: no alert (nobody to tell)');

ROLLBACK;
