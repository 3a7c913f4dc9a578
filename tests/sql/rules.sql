-- Rules the supervisor and evalschedctl share: whether a channel has an
-- event's type on (evalsched_type_on), which run can be a baseline
-- (evalsched_can_be_baseline) and which is (evalsched_baseline).
BEGIN;

SELECT tap.is(public.evalsched_type_on('scheduled_eval_failed', true, false,
        false), true, 'a type switched on');
SELECT tap.is(public.evalsched_type_on('scheduled_eval_disabled', true,
        false, true), false, 'a type switched off');
SELECT tap.is(public.evalsched_type_on('scheduled_eval_regression', true,
        true, NULL), false, 'a NULL switch is off, as !value has it');
SELECT tap.is(public.evalsched_type_on('trace_latency_high', false, false,
        false), true, 'a metric rule''s event has no switch: on');

SELECT FROM tap.owner('a5000000-0000-4000-8000-000000000001',
    'a6000000-0000-4000-8000-000000000001');
INSERT INTO scheduled_evaluations (id, user_id, name, schedule_type,
    test_suite_id, model_id, next_run_at)
VALUES ('c7000000-0000-4000-8000-000000000001',
    'a5000000-0000-4000-8000-000000000001', 'baselined', 'daily',
    'a6000000-0000-4000-8000-000000000001', 'gpt-x', now() + interval '1 day');
-- Oldest first: an llm run, a rule run, a regression, a run without
-- results, a failure, and the newest, llm, still settling.
INSERT INTO scheduled_evaluation_runs (id, scheduled_evaluation_id, status,
    slot_at, triggered_at, total_prompts, regression_detected,
    regression_details, evalsched_settle_at, evalsched_rev)
VALUES
    ('e7000000-0000-4000-8000-000000000001',
        'c7000000-0000-4000-8000-000000000001', 'completed',
        now() - interval '6 days', now() - interval '6 days', 5, false,
        '{"quality_source": "llm"}', NULL, 0),
    ('e7000000-0000-4000-8000-000000000002',
        'c7000000-0000-4000-8000-000000000001', 'completed',
        now() - interval '5 days', now() - interval '5 days', 5, false,
        '{"quality_source": "rule"}', NULL, 0),
    ('e7000000-0000-4000-8000-000000000003',
        'c7000000-0000-4000-8000-000000000001', 'completed',
        now() - interval '4 days', now() - interval '4 days', 5, true,
        '{"quality_source": "llm"}', NULL, 0),
    ('e7000000-0000-4000-8000-000000000004',
        'c7000000-0000-4000-8000-000000000001', 'completed',
        now() - interval '3 days', now() - interval '3 days', 0, false,
        NULL, NULL, 0),
    ('e7000000-0000-4000-8000-000000000005',
        'c7000000-0000-4000-8000-000000000001', 'failed',
        now() - interval '2 days', now() - interval '2 days', 5, false,
        NULL, NULL, 0),
    ('e7000000-0000-4000-8000-000000000006',
        'c7000000-0000-4000-8000-000000000001', 'completed',
        now() - interval '1 day', now() - interval '1 day', 5, false,
        '{"quality_source": "llm", "settled": false}',
        now() + interval '1 minute', 0);

SELECT tap.is((SELECT pg_catalog.string_agg(pg_catalog.right(r.id::text, 1),
        '' ORDER BY r.id) FROM public.scheduled_evaluation_runs r
        WHERE public.evalsched_can_be_baseline(r)), '12',
    'a baseline is completed, has results, is settled and no regression');
SELECT tap.is(public.evalsched_baseline(
        'c7000000-0000-4000-8000-000000000001', 'infinity', NULL),
    'e7000000-0000-4000-8000-000000000002'::uuid,
    'the next run''s baseline: the newest that can be one, of any source');
SELECT tap.is(public.evalsched_baseline(
        'c7000000-0000-4000-8000-000000000001', now() - interval '1 day',
        'llm'), 'e7000000-0000-4000-8000-000000000001'::uuid,
    'a settling run''s: the newest of its own source before it');
SELECT tap.is(public.evalsched_baseline(
        'c7000000-0000-4000-8000-000000000001', now() - interval '5 days',
        'rule'), NULL::uuid, 'none of that source before it: none');
INSERT INTO public.evalsched_baselines (scheduled_evaluation_id, run_id)
VALUES ('c7000000-0000-4000-8000-000000000001',
    'e7000000-0000-4000-8000-000000000004');
SELECT tap.is(public.evalsched_baseline(
        'c7000000-0000-4000-8000-000000000001', now(), 'llm'),
    'e7000000-0000-4000-8000-000000000004'::uuid,
    'a pinned run is the baseline, whatever it is');

ROLLBACK;
