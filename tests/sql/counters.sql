-- What runs add to the counters (evalsched_run_counts), through the
-- triggers that call it, on runs made by hand.
BEGIN;

SELECT FROM tap.owner('a3000000-0000-4000-8000-000000000001',
    'a4000000-0000-4000-8000-000000000001');
INSERT INTO scheduled_evaluations (id, user_id, name, schedule_type,
    test_suite_id, model_id, next_run_at)
VALUES ('c6000000-0000-4000-8000-000000000001',
    'a3000000-0000-4000-8000-000000000001', 'counted', 'daily',
    'a4000000-0000-4000-8000-000000000001', 'gpt-x', now() + interval '1 day');
TRUNCATE public.evalsched_counters;

CREATE TEMP VIEW c AS
SELECT name, k1, k2, pg_catalog.sum(value) AS n
FROM public.evalsched_counters GROUP BY name, k1, k2;

-- Inserted: a dispatch 0.3 s late, one fired at once (a slot of
-- -infinity: no lag), a run that ended as it was written (a bad row's),
-- and the application's own run (no slot: not ours, not counted).
INSERT INTO scheduled_evaluation_runs (id, scheduled_evaluation_id, status,
    slot_at, triggered_at, error_details, evalsched_rev)
VALUES ('e6000000-0000-4000-8000-000000000001',
        'c6000000-0000-4000-8000-000000000001', 'triggered',
        now() - interval '3 hours', now() - interval '3 hours'
            + interval '0.3 seconds', NULL, 0),
    ('e6000000-0000-4000-8000-000000000002',
        'c6000000-0000-4000-8000-000000000001', 'triggered', '-infinity',
        now(), NULL, 0),
    ('e6000000-0000-4000-8000-000000000003',
        'c6000000-0000-4000-8000-000000000001', 'failed',
        now() - interval '1 hour', now() - interval '1 hour' + interval '70 s',
        '{"blame": "schedule"}', 0);
INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, status)
VALUES ('c6000000-0000-4000-8000-000000000001', 'completed');

SELECT tap.is((SELECT pg_catalog.string_agg(k1 || '=' || n, ' ' ORDER BY k1)
        FROM c WHERE name = 'lag_bucket'), '+Inf=1 0.5=1',
    'the dispatch lags, in their buckets; none for a slot of -infinity');
SELECT tap.is((SELECT n FROM c WHERE name = 'lag_sum'), 70.3,
    'and their sum');
SELECT tap.is((SELECT pg_catalog.string_agg(k1 || '/' || k2 || '=' || n, ' '
        ORDER BY k1, k2) FROM c WHERE name = 'runs'), 'failed/schedule=1',
    'a run inserted ended counts at once, with its blame; ours only');

-- Updated: ends, a run that ends again after it was brought back, a
-- regression, and writes that change nothing counted.
UPDATE scheduled_evaluation_runs SET status = 'completed',
    evalsched_rev = evalsched_rev + 1
WHERE id = 'e6000000-0000-4000-8000-000000000001';
UPDATE scheduled_evaluation_runs SET status = 'failed',
    error_details = '{"blame": "platform"}', evalsched_rev = evalsched_rev + 1
WHERE id = 'e6000000-0000-4000-8000-000000000002';
UPDATE scheduled_evaluation_runs SET regression_detected = true,
    evalsched_rev = evalsched_rev + 1
WHERE id = 'e6000000-0000-4000-8000-000000000001';
UPDATE scheduled_evaluation_runs SET evalsched_rev = evalsched_rev + 1
WHERE slot_at IS NOT NULL;
UPDATE scheduled_evaluation_runs SET status = 'running',
    evalsched_rev = evalsched_rev + 1
WHERE id = 'e6000000-0000-4000-8000-000000000003';
UPDATE scheduled_evaluation_runs SET status = 'cancelled',
    error_details = NULL, evalsched_rev = evalsched_rev + 1
WHERE id = 'e6000000-0000-4000-8000-000000000003';

SELECT tap.is((SELECT pg_catalog.string_agg(k1 || '/' || k2 || '=' || n, ' '
        ORDER BY k1, k2) FROM c WHERE name = 'runs'),
    'cancelled/=1 completed/=1 failed/platform=1 failed/schedule=1',
    'each end counted once, by status and blame; an end after a return '
    || 'counts again');
SELECT tap.is((SELECT n FROM c WHERE name = 'regressions'), 1::numeric,
    'a regression counted when it is found, once');
SELECT tap.is((SELECT pg_catalog.sum(n) FROM c WHERE name = 'lag_bucket'),
    2::numeric, 'an update adds no lag');

-- The function itself: the runs as they are and were.
SELECT tap.is((SELECT pg_catalog.string_agg(x.name || ':' || x.k1 || ':'
        || x.n, ' ' ORDER BY x.name, x.k1)
    FROM public.evalsched_run_counts(
        ARRAY[ROW(r.*)::public.scheduled_evaluation_runs],
        ARRAY[ROW(r.*)::public.scheduled_evaluation_runs]) x), NULL,
    'a run as it was adds nothing')
FROM public.scheduled_evaluation_runs r
WHERE r.id = 'e6000000-0000-4000-8000-000000000001';
SELECT tap.is((SELECT pg_catalog.string_agg(x.name || ':' || x.k1 || ':'
        || x.n, ' ' ORDER BY x.name, x.k1)
    FROM public.evalsched_run_counts(
        ARRAY[ROW(r.*)::public.scheduled_evaluation_runs], NULL) x),
    'lag_bucket:0.5:1 lag_sum::0.300000 regressions::1 runs:completed:1',
    'a run as if inserted: its lag, its end, its regression')
FROM public.scheduled_evaluation_runs r
WHERE r.id = 'e6000000-0000-4000-8000-000000000001';

-- The other counting rules, called as the triggers and the seeding call
-- them: alert events that end (once), deliveries of scheduled_eval_*
-- alerts, the rule evaluations evalsched made; into the shard given.
TRUNCATE public.evalsched_counters;
DO $$ BEGIN PERFORM public.evalsched_count_alert_rows(
    ARRAY['scheduled_eval_failed', 'scheduled_eval_failed',
        'scheduled_eval_failed', 'scheduled_eval_disabled'],
    ARRAY['delivered', 'delivered', 'pending', 'failed'],
    ARRAY[NULL, 'delivered', NULL, 'pending'], 5); END $$;
SELECT tap.is((SELECT pg_catalog.string_agg(k1 || '/' || k2 || '=' || n, ' '
        ORDER BY k1, k2) FROM c WHERE name = 'alerts'),
    'scheduled_eval_disabled/failed=1 scheduled_eval_failed/delivered=1',
    'alerts: an event counts when it ends, not again, not while pending');
DO $$ BEGIN PERFORM public.evalsched_count_delivery_rows(
    ARRAY['scheduled_eval_failed', 'scheduled_eval_failed',
        'scheduled_evalXfailed', 'training_failed'],
    ARRAY[true, NULL, true, true], 5); END $$;
SELECT tap.is((SELECT pg_catalog.string_agg(k1 || '=' || n, ' '
        ORDER BY k1) FROM c WHERE name = 'deliveries'), 'failed=1 sent=1',
    'deliveries: scheduled_eval_* only, unsent as failed');
DO $$ BEGIN PERFORM public.evalsched_count_rule_evaluation_rows(
    ARRAY[true, false, false, true], ARRAY['evalsched', 'evalsched',
        'evalsched', 'worker'], 5); END $$;
SELECT tap.is((SELECT pg_catalog.string_agg(k1 || '=' || n, ' '
        ORDER BY k1) FROM c WHERE name = 'rule_evaluations'),
    'false=2 true=1', 'rule evaluations: evalsched''s, by triggered');
SELECT tap.is((SELECT pg_catalog.array_agg(DISTINCT shard)
        FROM public.evalsched_counters), ARRAY[5], 'into the shard given');
DO $$ BEGIN PERFORM public.evalsched_count_alert_rows(NULL, NULL, NULL); END $$;
SELECT tap.is((SELECT pg_catalog.count(*) FROM public.evalsched_counters),
    6::bigint, 'no rows, nothing added');

ROLLBACK;
