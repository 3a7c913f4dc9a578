-- The completion pass (evalsched_complete) on runs made by hand, and how
-- a run it closes reads (evalsched_closing).
BEGIN;

-- How a closed run reads, for each outcome.
SELECT tap.is(ROW(c.*)::text, ROW('completed', NULL::text,
        NULL::jsonb)::text, 'completed: no error')
FROM public.evalsched_closing('completed', true,
    'b1000000-0000-4000-8000-000000000001', 'completed', NULL, 4, 0, NULL,
    NULL, 86400, 600) c;
SELECT tap.is(ROW(c.*)::text, ROW('failed',
        'no result within 86400 s: the batch test is still running',
        '{"blame": "platform", "reason": "timeout",
          "batch_test_status": "running",
          "completion_timeout": 86400}'::jsonb)::text,
    'timeout: the platform''s, naming completion_timeout')
FROM public.evalsched_closing('timeout', true,
    'b1000000-0000-4000-8000-000000000001', 'running', NULL, 4, 0, NULL,
    NULL, 86400, 600) c;
SELECT tap.is(c.error_message,
    'no result within 86400 s: the batch test cannot be found',
    'timeout of a batch test that is gone')
FROM public.evalsched_closing('timeout', true, NULL, NULL, NULL, 0, 0, NULL,
    NULL, 86400, 600) c;
SELECT tap.is(ROW(c.*)::text, ROW('failed', 'every prompt failed (5 of 5)',
        '{"blame": "schedule", "reason": "all_failed",
          "batch_test_status": "completed"}'::jsonb)::text,
    'all prompts failed: the schedule''s fault')
FROM public.evalsched_closing('all_failed', true,
    'b1000000-0000-4000-8000-000000000001', 'completed', NULL, 5, 5, NULL,
    NULL, 86400, 600) c;
SELECT tap.is(ROW(c.*)::text, ROW('failed',
        'the batch test failed: out of credits',
        '{"blame": "platform", "reason": "batch_failed",
          "batch_test_status": "failed",
          "batch_test_error": "out of credits"}'::jsonb)::text,
    'the batch test failed: the platform''s fault, its error')
FROM public.evalsched_closing('batch_failed', true,
    'b1000000-0000-4000-8000-000000000001', 'failed', 'out of credits', 5, 1,
    NULL, NULL, 86400, 600) c;
SELECT tap.is(ROW(c.*)::text, ROW('cancelled', 'Cancelled by user',
        '{"reason": "cancelled", "batch_test_status": "completed",
          "batch_test_error": "Cancelled by user"}'::jsonb)::text,
    'cancelled by its user: nobody''s fault')
FROM public.evalsched_closing('cancelled', true,
    'b1000000-0000-4000-8000-000000000001', 'completed', 'Cancelled by user',
    5, 0, NULL, NULL, 86400, 600) c;
SELECT tap.is(ROW(c.*)::text, ROW('failed',
        'HTTP 502; no batch test turned up in the 600 s that followed',
        '{"blame": "platform", "reason": "no batch test",
          "http_status": 502, "resolve_window": 600}'::jsonb)::text,
    'unresolved, no batch test: what the dispatch said, the platform''s')
FROM public.evalsched_closing('no_batch', false, NULL, NULL, NULL, 0, 0,
    'HTTP 502', '{"unresolved": true, "blame": "schedule",
    "http_status": 502}', 86400, 600) c;
SELECT tap.is(ROW(c.*)::text, ROW('cancelled',
        'the answer was unclear; no batch test turned up in the 600 s that '
        || 'followed',
        '{"cancelled": true, "reason": "no batch test",
          "resolve_window": 600}'::jsonb)::text,
    'cut short by a shutdown, nothing started: cancelled, nobody''s fault')
FROM public.evalsched_closing('cancelled', false, NULL, NULL, NULL, 0, 0,
    NULL, '{"unresolved": true, "cancelled": true}', 86400, 600) c;

-- A pass.  Five schedules of one owner:
--   c1: its run's batch test completed and is marked: completed;
--   c2: two failures in a row, and its run's batch test failed every
--       prompt: disabled at the third (max 3);
--   c3: its run unresolved for 20 minutes, no batch test (window 600 s);
--   c4: its run's batch test is still running: left alone;
--   c5: two runs whose batch tests ended: the one that fired first.
SELECT FROM tap.owner('a1000000-0000-4000-8000-000000000001',
    'a2000000-0000-4000-8000-000000000001');
INSERT INTO scheduled_evaluations (id, user_id, name, schedule_type,
    test_suite_id, model_id, next_run_at, consecutive_failures,
    last_run_status, last_run_at)
SELECT ('c' || i || '000000-0000-4000-8000-000000000001')::uuid,
    'a1000000-0000-4000-8000-000000000001', 'schedule ' || i, 'daily',
    'a2000000-0000-4000-8000-000000000001', 'gpt-x', now() + interval '1 day',
    CASE i WHEN 1 THEN 1 WHEN 2 THEN 2 ELSE 0 END, 'failed',
    now() - interval '1 day'
FROM pg_catalog.generate_series(1, 5) i;
INSERT INTO batch_test_runs (id, status, total_prompts, completed_prompts,
    failed_prompts, completed_at)
VALUES ('b1000000-0000-4000-8000-000000000001', 'completed', 2, 2, 0,
        now() - interval '1 minute'),
    ('b2000000-0000-4000-8000-000000000001', 'completed', 3, 0, 3,
        now() - interval '1 minute'),
    ('b4000000-0000-4000-8000-000000000001', 'running', 3, 0, 0, NULL),
    ('b5000000-0000-4000-8000-000000000001', 'completed', 1, 1, 0,
        now() - interval '2 minutes'),
    ('b5000000-0000-4000-8000-000000000002', 'completed', 1, 1, 0,
        now() - interval '1 minute');
INSERT INTO conversations (id, batch_test_run_id)
VALUES ('f1000000-0000-4000-8000-000000000001',
    'b1000000-0000-4000-8000-000000000001');
INSERT INTO messages (id, conversation_id, role, latency_ms)
VALUES ('f2000000-0000-4000-8000-000000000001',
        'f1000000-0000-4000-8000-000000000001', 'assistant', 100),
    ('f2000000-0000-4000-8000-000000000002',
        'f1000000-0000-4000-8000-000000000001', 'assistant', 300),
    ('f2000000-0000-4000-8000-000000000003',
        'f1000000-0000-4000-8000-000000000001', 'user', 9000);
INSERT INTO judgments (message_id, judge_type, score)
VALUES ('f2000000-0000-4000-8000-000000000001', 'llm', 0.9),
    ('f2000000-0000-4000-8000-000000000002', 'llm', 0.7),
    ('f2000000-0000-4000-8000-000000000002', 'rule', 0.1);
INSERT INTO scheduled_evaluation_runs (id, scheduled_evaluation_id,
    batch_test_run_id, status, slot_at, triggered_at, started_at,
    batch_ended_at, error_message, error_details, evalsched_rev)
VALUES ('e1000000-0000-4000-8000-000000000001',
        'c1000000-0000-4000-8000-000000000001',
        'b1000000-0000-4000-8000-000000000001', 'running',
        now() - interval '1 hour', now() - interval '1 hour',
        now() - interval '50 minutes', now(), NULL, NULL, 1),
    ('e2000000-0000-4000-8000-000000000001',
        'c2000000-0000-4000-8000-000000000001',
        'b2000000-0000-4000-8000-000000000001', 'running',
        now() - interval '1 hour', now() - interval '1 hour',
        now() - interval '50 minutes', now(), NULL, NULL, 1),
    ('e3000000-0000-4000-8000-000000000001',
        'c3000000-0000-4000-8000-000000000001', NULL, 'running',
        now() - interval '1 hour', now() - interval '1 hour',
        now() - interval '20 minutes', NULL, 'HTTP 502',
        '{"unresolved": true, "blame": "platform", "http_status": 502}', 1),
    ('e4000000-0000-4000-8000-000000000001',
        'c4000000-0000-4000-8000-000000000001',
        'b4000000-0000-4000-8000-000000000001', 'running',
        now() - interval '1 hour', now() - interval '1 hour',
        now() - interval '5 minutes', NULL, NULL, NULL, 1),
    ('e5000000-0000-4000-8000-000000000001',
        'c5000000-0000-4000-8000-000000000001',
        'b5000000-0000-4000-8000-000000000001', 'running',
        now() - interval '2 hours', now() - interval '2 hours',
        now() - interval '110 minutes', now(), NULL, NULL, 1),
    ('e5000000-0000-4000-8000-000000000002',
        'c5000000-0000-4000-8000-000000000001',
        'b5000000-0000-4000-8000-000000000002', 'running',
        now() - interval '1 hour', now() - interval '1 hour',
        now() - interval '50 minutes', now(), NULL, NULL, 1);

CREATE TEMP TABLE pass AS
SELECT * FROM public.evalsched_complete(86400, 3, 1000, 30, 600, 60);

SELECT tap.is((SELECT pg_catalog.string_agg(id::text || ' ' || how, ', '
        ORDER BY id) FROM pass),
    'e1000000-0000-4000-8000-000000000001 completed, '
    || 'e2000000-0000-4000-8000-000000000001 all_failed, '
    || 'e3000000-0000-4000-8000-000000000001 no_batch, '
    || 'e5000000-0000-4000-8000-000000000001 completed',
    'the pass closes the ended and the expired, one run a schedule');
SELECT tap.is(ROW(p.name, p.total, p.ok, p.latency_ms, p.quality_pct,
        p.error_message, p.disabled, p.alerts)::text,
    ROW('schedule 1', 2, 2, 200::numeric, 80.0, NULL::text, NULL::text,
        2::bigint)::text,
    'completed: counts, the assistant''s mean latency, the LLM judge''s '
    || 'quality, the alerts of the pass on every row')
FROM pass p WHERE p.id = 'e1000000-0000-4000-8000-000000000001';
SELECT tap.is(ROW(r.status, r.completed_at, r.total_prompts,
        r.successful_prompts, r.failed_prompts, r.avg_latency_ms,
        r.avg_quality_score, r.regression_details, r.evalsched_settle_at,
        r.error_message, r.evalsched_rev)::text,
    ROW('completed', now() - interval '1 minute', 2, 2, 0, 200.00, 0.80,
        '{"quality_source": "llm", "settled": false}'::jsonb,
        now() + interval '60 seconds', NULL::text, 2)::text,
    'the completed run: its batch test''s end and results, to settle')
FROM public.scheduled_evaluation_runs r
WHERE r.id = 'e1000000-0000-4000-8000-000000000001';
SELECT tap.is(ROW(s.consecutive_failures, s.is_active, s.last_run_status,
        s.last_run_id, s.last_run_at)::text,
    ROW(0, true, 'success', 'b1000000-0000-4000-8000-000000000001'::uuid,
        now() - interval '50 minutes')::text,
    'its schedule: the count starts again, the run is its last')
FROM public.scheduled_evaluations s
WHERE s.id = 'c1000000-0000-4000-8000-000000000001';

SELECT tap.is(ROW(p.error_message, p.disabled)::text,
    ROW('every prompt failed (3 of 3)', '3 consecutive failures')::text,
    'all failed, the third in a row: the pass says it disabled it, and why')
FROM pass p WHERE p.id = 'e2000000-0000-4000-8000-000000000001';
SELECT tap.is(ROW(s.consecutive_failures, s.is_active,
        s.evalsched_disabled_at, s.evalsched_disabled_reason,
        s.last_run_status)::text,
    ROW(3, false, now(), '3 consecutive failures', 'failed')::text,
    'its schedule: disabled by evalsched, saying why')
FROM public.scheduled_evaluations s
WHERE s.id = 'c2000000-0000-4000-8000-000000000001';
SELECT tap.is(ROW(a.event, a.run_id, a.metadata::jsonb ->> 'lastError',
        a.metadata::jsonb -> 'totalPrompts')::text,
    ROW('scheduled_eval_disabled',
        'e2000000-0000-4000-8000-000000000001'::uuid,
        'every prompt failed (3 of 3)', '3'::jsonb)::text,
    'its owner hears of it: the disabled alert, with the batch''s counts')
FROM public.evalsched_alerts a
WHERE a.scheduled_evaluation_id = 'c2000000-0000-4000-8000-000000000001';

SELECT tap.is(ROW(r.status, r.error_message, r.error_details)::text,
    ROW('failed', 'HTTP 502; no batch test turned up in the 600 s that '
        || 'followed', '{"blame": "platform", "reason": "no batch test",
        "http_status": 502, "resolve_window": 600}'::jsonb)::text,
    'the unresolved run: failed, the platform''s fault')
FROM public.scheduled_evaluation_runs r
WHERE r.id = 'e3000000-0000-4000-8000-000000000001';
SELECT tap.is(ROW(s.consecutive_failures, s.is_active,
        s.last_run_status)::text, ROW(0, true, 'failed')::text,
    'its schedule: not counted')
FROM public.scheduled_evaluations s
WHERE s.id = 'c3000000-0000-4000-8000-000000000001';
SELECT tap.is(ROW(a.event, a.message)::text,
    ROW('scheduled_eval_failed', 'Your scheduled evaluation failed. HTTP 502; '
        || 'no batch test turned up in the 600 s that followed (a fault of '
        || 'the platform, not of the schedule: it does not count toward '
        || 'auto-disable)')::text,
    'its owner hears of the failure, the platform''s')
FROM public.evalsched_alerts a
WHERE a.scheduled_evaluation_id = 'c3000000-0000-4000-8000-000000000001';

SELECT tap.is(ROW(r.status, r.evalsched_rev)::text, ROW('running', 1)::text,
    'a batch test still under way: its run is left alone')
FROM public.scheduled_evaluation_runs r
WHERE r.id = 'e4000000-0000-4000-8000-000000000001';

SELECT tap.is((SELECT pg_catalog.string_agg(r.status, ',' ORDER BY r.id)
        FROM public.scheduled_evaluation_runs r
        WHERE r.scheduled_evaluation_id
            = 'c5000000-0000-4000-8000-000000000001'), 'completed,running',
    'two ended runs of a schedule: the one that fired first');
SELECT tap.is(ROW(s.last_run_status, s.last_run_id)::text,
    ROW('failed', NULL::uuid)::text,
    'an older run leaves the schedule''s last run alone')
FROM public.scheduled_evaluations s
WHERE s.id = 'c5000000-0000-4000-8000-000000000001';

-- The next pass: the other.
CREATE TEMP TABLE pass2 AS
SELECT * FROM public.evalsched_complete(86400, 3, 1000, 30, 600, 60);
SELECT tap.is((SELECT pg_catalog.string_agg(id::text, ',') FROM pass2),
    'e5000000-0000-4000-8000-000000000002', 'the next pass closes the other');
SELECT tap.is(ROW(s.last_run_status, s.last_run_id)::text,
    ROW('success', 'b5000000-0000-4000-8000-000000000002'::uuid)::text,
    'the newest run is the schedule''s last')
FROM public.scheduled_evaluations s
WHERE s.id = 'c5000000-0000-4000-8000-000000000001';
SELECT tap.is((SELECT pg_catalog.count(*) FROM
        public.evalsched_complete(86400, 3, 1000, 30, 600, 60)), 0::bigint,
    'then nothing is left to close');

ROLLBACK;
