-- evalsched's additions to the application's scheduling tables.  Only
-- additive: new nullable columns, new indexes, new tables, functions and
-- triggers.  The application's tables, triggers and row-level security
-- stay as they are.
-- Applying this twice is harmless, and it upgrades a database of an
-- earlier version.  Schema version 7.
--
-- It is applied to the application's own database: a Supabase project
-- where every visitor holds the public (anon) key and Supabase grants
-- anon and authenticated everything on new tables and functions in
-- public.  Every table added here therefore enables row-level security
-- with no policy for those roles and has their privileges revoked, no
-- function added here is executable by them (the end of this file walks
-- the catalogue, so whatever is added later is closed too), and every
-- name is resolved through no schema another role can write: this file
-- and every function in it run with an empty search_path and name
-- everything by its schema (a planted public.format() or
-- public.json_build_object() would otherwise win over pg_catalog's
-- VARIADIC "any" one and run with our rights).

BEGIN;

SET LOCAL search_path = '';

-- Serialize concurrent applications of this file.
SELECT pg_advisory_xact_lock(7310431602);

-- Supervisors register here and renew their heartbeat by the database
-- clock.  One without a heartbeat for lease_seconds is presumed dead and
-- its in-flight runs are closed by a live one.
CREATE TABLE IF NOT EXISTS public.evalsched_supervisors (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    node text NOT NULL,
    pid integer NOT NULL,
    version text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    lease_seconds integer NOT NULL,
    running integer NOT NULL DEFAULT 0,
    max_concurrent integer NOT NULL,
    stopped_at timestamptz,
    lost_at timestamptz,
    lost_by uuid
);
ALTER TABLE public.evalsched_supervisors ENABLE ROW LEVEL SECURITY;

CREATE INDEX IF NOT EXISTS evalsched_supervisors_live
    ON public.evalsched_supervisors (heartbeat_at)
    WHERE stopped_at IS NULL AND lost_at IS NULL;

-- The slot a run fires (the next_run_at it was claimed for), and the
-- supervisor that owns it while it is in flight.
ALTER TABLE public.scheduled_evaluation_runs
    ADD COLUMN IF NOT EXISTS slot_at timestamptz,
    ADD COLUMN IF NOT EXISTS supervisor_id uuid;

-- A slot fires once, whatever the number of supervisors.
CREATE UNIQUE INDEX IF NOT EXISTS evalsched_runs_slot_key
    ON public.scheduled_evaluation_runs (scheduled_evaluation_id, slot_at)
    WHERE slot_at IS NOT NULL;

-- Runs in flight: small, and what claiming and lease recovery look at.
CREATE INDEX IF NOT EXISTS evalsched_runs_in_flight
    ON public.scheduled_evaluation_runs (scheduled_evaluation_id, supervisor_id)
    WHERE status = 'triggered';

-- Due schedules, oldest first, with their owners: the claim reads only
-- what is due, from the index alone.  Version 3 made it without the
-- owner: made again.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_index i
               WHERE i.indexrelid = pg_catalog.to_regclass(
                   'public.evalsched_schedules_due')
                 AND i.indnatts = 2) THEN
        DROP INDEX public.evalsched_schedules_due;
    END IF;
END;
$$;
CREATE INDEX IF NOT EXISTS evalsched_schedules_due
    ON public.scheduled_evaluations (next_run_at, id) INCLUDE (user_id)
    WHERE is_active;

-- Wake the supervisors when a schedule becomes due sooner than they
-- think: inserted, re-timed earlier, enabled or triggered.  A constant
-- payload lets PostgreSQL fold the notifications of one transaction.
CREATE OR REPLACE FUNCTION public.evalsched_notify_wakeup()
RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    IF NEW.is_active AND (TG_OP = 'INSERT'
        OR NOT OLD.is_active
        OR NEW.next_run_at < OLD.next_run_at) THEN
        PERFORM pg_notify('evalsched_wakeup', '');
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER evalsched_notify_wakeup
    AFTER INSERT OR UPDATE OF next_run_at, is_active
    ON public.scheduled_evaluations
    FOR EACH ROW EXECUTE FUNCTION public.evalsched_notify_wakeup();

-- A supervisor's circuit: while the platform (the application, the
-- network, the jobrunner) fails, dispatch pauses; evalschedctl status
-- reads it here.
ALTER TABLE public.evalsched_supervisors
    ADD COLUMN IF NOT EXISTS circuit_open_since timestamptz,
    ADD COLUMN IF NOT EXISTS circuit_reason text;

-- One row per run.  A run evalsched created (slot_at is set) is its own:
-- evalsched_rev goes up with every write evalsched makes to it, and an
-- UPDATE that leaves it unchanged is dropped.  That is the application's
-- route completing "the newest triggered row of the schedule" by
-- position: it would otherwise land on whichever of our runs is newest.
-- The route's own insert of a 'triggered' row for a schedule evalsched
-- runs is dropped as well: our row is already there.  Neither raises an
-- error, so the route goes on (its completion alerts included).  To edit
-- one of our runs by hand: SET evalsched.manual_edit = on.
ALTER TABLE public.scheduled_evaluation_runs
    ADD COLUMN IF NOT EXISTS evalsched_rev integer;

--
-- A 'triggered' row without a slot is the route's (or the old worker's)
-- from before evalsched ran the schedule.  Once evalsched runs it, the
-- route's completion by position is never this row's either: it is the
-- end of one of our runs' batch tests.
CREATE OR REPLACE FUNCTION public.evalsched_guard_runs()
RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF coalesce(current_setting('evalsched.manual_edit', true), '') = 'on'
    THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.slot_at IS NULL AND NEW.status = 'triggered' AND EXISTS (
            SELECT 1 FROM public.scheduled_evaluation_runs r
            WHERE r.scheduled_evaluation_id = NEW.scheduled_evaluation_id
              AND r.slot_at IS NOT NULL) THEN
            RETURN NULL;
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.slot_at IS NOT NULL
        AND NEW.evalsched_rev IS NOT DISTINCT FROM OLD.evalsched_rev THEN
        -- The application's ON DELETE SET NULL of a deleted baseline run
        -- changes nothing else: it goes through.
        IF OLD.baseline_run_id IS NOT NULL AND NEW.baseline_run_id IS NULL
            AND pg_catalog.to_jsonb(NEW) - 'baseline_run_id'
                = pg_catalog.to_jsonb(OLD) - 'baseline_run_id' THEN
            RETURN NEW;
        END IF;
        RETURN NULL;
    END IF;
    IF OLD.slot_at IS NULL AND OLD.status = 'triggered'
        AND NEW.status IS DISTINCT FROM 'triggered' AND EXISTS (
            SELECT 1 FROM public.scheduled_evaluation_runs r
            WHERE r.scheduled_evaluation_id = OLD.scheduled_evaluation_id
              AND r.slot_at IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER evalsched_guard_runs
    BEFORE INSERT OR UPDATE ON public.scheduled_evaluation_runs
    FOR EACH ROW EXECUTE FUNCTION public.evalsched_guard_runs();

-- The 'triggered' rows left from before evalsched (the old worker's era)
-- never end: the route's completion by position would land on them, with
-- the results of a batch test that is not theirs.  They are closed here,
-- saying why.  Apply this with the old worker stopped: a run it has in
-- flight would be closed too.
SELECT pg_catalog.set_config('evalsched.manual_edit', 'on', true);
UPDATE public.scheduled_evaluation_runs
    SET status = 'failed', completed_at = now(),
        error_message = 'closed by evalsched: left ''triggered'' from '
            || 'before evalsched ran this schedule; its outcome is unknown',
        error_details = pg_catalog.jsonb_build_object(
            'reason', 'before evalsched', 'blame', 'platform')
    WHERE slot_at IS NULL AND status = 'triggered';
SELECT pg_catalog.set_config('evalsched.manual_edit', '', true);

-- Why a schedule is inactive: evalsched_disabled_at and _reason are set
-- when evalsched disables it (failures in a row, a bad row); a schedule
-- inactive without them was paused by a person.
ALTER TABLE public.scheduled_evaluations
    ADD COLUMN IF NOT EXISTS evalsched_disabled_at timestamptz,
    ADD COLUMN IF NOT EXISTS evalsched_disabled_reason text;

-- Re-enabling a schedule from any client (the application's toggle, SQL,
-- evalschedctl resume) gives it a fresh start: the application itself
-- leaves consecutive_failures as it was, so one more failure would
-- disable it again.  It is no longer disabled by evalsched, either.
CREATE OR REPLACE FUNCTION public.evalsched_reset_on_enable()
RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    IF NEW.is_active AND NOT OLD.is_active THEN
        NEW.consecutive_failures := 0;
        NEW.evalsched_disabled_at := NULL;
        NEW.evalsched_disabled_reason := NULL;
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER evalsched_reset_on_enable
    BEFORE UPDATE OF is_active ON public.scheduled_evaluations
    FOR EACH ROW EXECUTE FUNCTION public.evalsched_reset_on_enable();

-- The completion pass reads only runs whose batch test has ended (marked
-- by evalsched_batch_ended below, or by the supervisor when it records a
-- dispatch whose batch test ended first) and runs past
-- completion_timeout: its cost does not grow with the runs still under
-- way.
ALTER TABLE public.scheduled_evaluation_runs
    ADD COLUMN IF NOT EXISTS batch_ended_at timestamptz;

CREATE INDEX IF NOT EXISTS evalsched_runs_awaiting
    ON public.scheduled_evaluation_runs (started_at)
    WHERE status = 'running' AND slot_at IS NOT NULL;

CREATE INDEX IF NOT EXISTS evalsched_runs_ended
    ON public.scheduled_evaluation_runs (batch_ended_at)
    WHERE status = 'running' AND batch_ended_at IS NOT NULL;

CREATE INDEX IF NOT EXISTS evalsched_runs_batch
    ON public.scheduled_evaluation_runs (batch_test_run_id)
    WHERE status = 'running' AND slot_at IS NOT NULL;

-- A schedule's history, newest first: for baselines and pruning.
CREATE INDEX IF NOT EXISTS evalsched_runs_history
    ON public.scheduled_evaluation_runs (scheduled_evaluation_id, triggered_at);

-- Runs kept as a baseline are never pruned by run_retention.
CREATE INDEX IF NOT EXISTS evalsched_runs_baseline
    ON public.scheduled_evaluation_runs (baseline_run_id)
    WHERE baseline_run_id IS NOT NULL;

-- When a batch test ends, mark its run and wake the supervisors, so that
-- the run is completed within moments.  The wake-up goes out even when no
-- run was marked: the run may be one whose acceptance is being recorded
-- at this very moment, which the supervisor then finds among the runs it
-- accepted last.  It runs as its owner, so that whoever ends a batch test
-- (row-level security or not) marks our run.  The application's results
-- tables predate its migrations: they are looked up rather than assumed.
CREATE OR REPLACE FUNCTION public.evalsched_batch_ended()
RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    -- Also a final status that changes again: the application's loop
    -- ignores a user's cancel ('failed') and writes 'completed' later.
    IF NEW.status IS DISTINCT FROM OLD.status
        AND NEW.status NOT IN ('pending', 'running') THEN
        UPDATE public.scheduled_evaluation_runs
            SET batch_ended_at = now(),
                evalsched_rev = coalesce(evalsched_rev, 0) + 1
            WHERE batch_test_run_id = NEW.id AND status = 'running'
              AND slot_at IS NOT NULL AND batch_ended_at IS NULL;
        PERFORM pg_notify('evalsched_batch_end', '');
    END IF;
    RETURN NULL;
END;
$$;

DO $$
BEGIN
    IF to_regclass('public.batch_test_runs') IS NOT NULL THEN
        CREATE OR REPLACE TRIGGER evalsched_batch_ended
            AFTER UPDATE OF status ON public.batch_test_runs
            FOR EACH ROW EXECUTE FUNCTION public.evalsched_batch_ended();
    END IF;
    IF to_regclass('public.conversations') IS NOT NULL THEN
        CREATE INDEX IF NOT EXISTS evalsched_conversations_batch
            ON public.conversations (batch_test_run_id);
    END IF;
    IF to_regclass('public.messages') IS NOT NULL THEN
        CREATE INDEX IF NOT EXISTS evalsched_messages_conversation
            ON public.messages (conversation_id);
    END IF;
    IF to_regclass('public.judgments') IS NOT NULL THEN
        CREATE INDEX IF NOT EXISTS evalsched_judgments_message
            ON public.judgments (message_id);
    END IF;
END;
$$;

-- One batch test per slot.  The route is not idempotent, so a request
-- whose answer was lost (a gateway's 502 or 504, a dropped connection, a
-- timeout) is never sent again: whether it started a batch test is
-- found here.  The supervisor names each run's batch test (batch_name:
-- the schedule and its slot, sent as config.test_run_name unless the
-- schedule's config names it) and the route stores that name as the
-- batch's config.custom_name before it answers.  When the application
-- inserts a batch test of a user, with a model, under the name of a run
-- of that user's schedule with that model that has none yet (in flight,
-- or 'running' while unresolved), the run gets it, and an unresolved
-- run's unclear answer is no longer its error.  Our names are each
-- run's own; a name the schedule's config gives is the same for all its
-- slots, and its newest run is the likeliest to have sent the request:
-- an older one still unresolved most often reached nothing.  A hash
-- index: a user's test_run_name may be longer than a btree entry can be.
ALTER TABLE public.scheduled_evaluation_runs
    ADD COLUMN IF NOT EXISTS batch_name text;

CREATE INDEX IF NOT EXISTS evalsched_runs_unbound
    ON public.scheduled_evaluation_runs USING hash (batch_name)
    WHERE batch_test_run_id IS NULL AND slot_at IS NOT NULL
      AND status IN ('triggered', 'running');

CREATE OR REPLACE FUNCTION public.evalsched_batch_created()
RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    wanted text;
BEGIN
    -- Read here, not in DECLARE: an initializer there is outside the
    -- EXCEPTION clause below, and a migration of the application may
    -- yet change or rename the column.
    wanted := NEW.config ->> 'custom_name';
    IF wanted IS NULL OR NEW.user_id IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE public.scheduled_evaluation_runs r
        SET batch_test_run_id = NEW.id,
            error_message = NULL, error_details = NULL,
            evalsched_rev = coalesce(r.evalsched_rev, 0) + 1
        WHERE r.id = (SELECT u.id FROM public.scheduled_evaluation_runs u
                JOIN public.scheduled_evaluations s
                  ON s.id = u.scheduled_evaluation_id
                WHERE u.batch_name = wanted
                  AND u.batch_test_run_id IS NULL AND u.slot_at IS NOT NULL
                  AND u.status IN ('triggered', 'running')
                  AND s.user_id = NEW.user_id
                  AND s.model_id IS NOT DISTINCT FROM NEW.model_name
                ORDER BY u.triggered_at DESC LIMIT 1)
          AND r.batch_test_run_id IS NULL
          AND r.status IN ('triggered', 'running');
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    -- Never the application's insert's failure: the run stays
    -- unresolved, and the server's log says why.
    RAISE WARNING 'evalsched_batch_created: batch test %: %', NEW.id, SQLERRM;
    RETURN NULL;
END;
$$;

-- Only on a batch_test_runs with the columns it reads, of the types it
-- reads them as: it must never fail the application's insert.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
               WHERE a.attrelid = pg_catalog.to_regclass(
                   'public.batch_test_runs')
                 AND a.attname = 'config' AND NOT a.attisdropped
                 AND a.atttypid IN ('pg_catalog.json'::pg_catalog.regtype,
                     'pg_catalog.jsonb'::pg_catalog.regtype))
        AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
               WHERE a.attrelid = pg_catalog.to_regclass(
                   'public.batch_test_runs')
                 AND a.attname = 'user_id' AND NOT a.attisdropped
                 AND a.atttypid = 'pg_catalog.uuid'::pg_catalog.regtype)
        AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
               WHERE a.attrelid = pg_catalog.to_regclass(
                   'public.batch_test_runs')
                 AND a.attname = 'model_name' AND NOT a.attisdropped
                 AND a.atttypid = 'pg_catalog.text'::pg_catalog.regtype) THEN
        CREATE OR REPLACE TRIGGER evalsched_batch_created
            AFTER INSERT ON public.batch_test_runs
            FOR EACH ROW EXECUTE FUNCTION public.evalsched_batch_created();
    END IF;
END;
$$;

-- The application's per-schedule API key column, for a database older
-- than its migration 20260104000001.
ALTER TABLE public.scheduled_evaluations
    ADD COLUMN IF NOT EXISTS api_key_encrypted text;

-- Baselines pinned by an operator (evalschedctl baseline): a schedule's
-- runs are compared with this run instead of the latest good one.
CREATE TABLE IF NOT EXISTS public.evalsched_baselines (
    scheduled_evaluation_id uuid PRIMARY KEY
        REFERENCES public.scheduled_evaluations (id) ON DELETE CASCADE,
    run_id uuid NOT NULL,
    pinned_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.evalsched_baselines ENABLE ROW LEVEL SECURITY;

-- The alert outbox.  An event is inserted in the same transaction as the
-- fact that caused it (a failed dispatch, an auto-disable, a regression),
-- so a crash neither loses nor invents one; supervisors claim due events
-- with FOR UPDATE SKIP LOCKED and deliver them in child processes.
-- pending_webhooks NULL means every subscribed webhook is still to be
-- tried; command_pending NULL means alert_command has not run yet.
-- metadata is json, not jsonb: its keys keep the order of the
-- application's alert format.
CREATE TABLE IF NOT EXISTS public.evalsched_alerts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event text NOT NULL CHECK (event IN ('scheduled_eval_failed',
        'scheduled_eval_disabled', 'scheduled_eval_regression')),
    user_id uuid NOT NULL,
    scheduled_evaluation_id uuid,
    run_id uuid,
    title text NOT NULL,
    message text NOT NULL,
    metadata json NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by uuid,
    claimed_until timestamptz,
    pending_webhooks uuid[],
    command_pending boolean,
    last_error text,
    done_at timestamptz
);
ALTER TABLE public.evalsched_alerts ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.evalsched_alerts ALTER COLUMN metadata TYPE json;

-- What a user wrote, as an alert carries it.  A schedule's name, a
-- model id and an error text (the application's answer, a batch test's
-- error) have no limit of their own: a name of 400 KB would make every
-- alert of its schedule too large for evalsched-notifier(8), and no one
-- would hear of it.  Each is cut to a number of characters a person
-- reads whole, the last an ellipsis, wherever an alert's title, message
-- or metadata holds it: these two functions are the caps.  At most 200
-- characters of a name (a schedule's, a model's), 1000 of an error.
CREATE OR REPLACE FUNCTION public.evalsched_clip(t text, n integer)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = ''
AS $$
    SELECT CASE WHEN pg_catalog.char_length(t) > n
        THEN pg_catalog.left(t, n - 1) || pg_catalog.chr(8230) ELSE t END
$$;

CREATE OR REPLACE FUNCTION public.evalsched_alert_name(t text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = ''
AS $$ SELECT public.evalsched_clip(t, 200) $$;

CREATE OR REPLACE FUNCTION public.evalsched_alert_error(t text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = ''
AS $$ SELECT public.evalsched_clip(t, 1000) $$;

-- One event of a kind per run: a repeated write cannot send it twice.
CREATE UNIQUE INDEX IF NOT EXISTS evalsched_alerts_once
    ON public.evalsched_alerts (event, run_id) WHERE run_id IS NOT NULL;

CREATE INDEX IF NOT EXISTS evalsched_alerts_due
    ON public.evalsched_alerts (next_attempt_at) WHERE state = 'pending';

-- The live view of runs (evalschedctl watch): each change of one of our
-- runs, and each schedule that stops being active, is announced on the
-- channel evalsched_events when its transaction commits.  Any role may
-- LISTEN to any channel, so the announcement names the row and nothing
-- else: no schedule name, no error text, no results.  A watcher reads
-- the row with its own rights, and since any role may also NOTIFY, it
-- takes an announcement only as a hint to look.  Runs: dispatched
-- (inserted 'triggered'), accepted (-> running), completed, failed,
-- cancelled, and regression (regression_detected became true, after
-- completed in the same write).  Schedules: disabled, with "auto" true
-- when evalsched disabled it (evalsched_disabled_at is set: failures in
-- a row, a bad row), false for a pause.  No one need listen: a
-- notification without listeners costs next to nothing.
CREATE OR REPLACE FUNCTION public.evalsched_notify_run()
RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
    ev text;
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        ev := CASE NEW.status WHEN 'triggered' THEN 'dispatched'
            WHEN 'running' THEN 'accepted' ELSE NEW.status END;
        PERFORM pg_catalog.pg_notify('evalsched_events',
            pg_catalog.json_build_object('event', ev, 'run_id', NEW.id,
                'schedule_id', NEW.scheduled_evaluation_id)::text);
    END IF;
    IF coalesce(NEW.regression_detected, false)
        AND (TG_OP = 'INSERT'
            OR NOT coalesce(OLD.regression_detected, false)) THEN
        PERFORM pg_catalog.pg_notify('evalsched_events',
            pg_catalog.json_build_object('event', 'regression',
                'run_id', NEW.id,
                'schedule_id', NEW.scheduled_evaluation_id)::text);
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER evalsched_notify_run
    AFTER INSERT OR UPDATE OF status, regression_detected
    ON public.scheduled_evaluation_runs
    FOR EACH ROW WHEN (NEW.slot_at IS NOT NULL)
    EXECUTE FUNCTION public.evalsched_notify_run();

CREATE OR REPLACE FUNCTION public.evalsched_notify_disabled()
RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('evalsched_events',
        pg_catalog.json_build_object('event', 'disabled',
            'schedule_id', NEW.id,
            'auto', NEW.evalsched_disabled_at IS NOT NULL)::text);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER evalsched_notify_disabled
    AFTER UPDATE OF is_active ON public.scheduled_evaluations
    FOR EACH ROW WHEN (OLD.is_active AND NOT NEW.is_active)
    EXECUTE FUNCTION public.evalsched_notify_disabled();

-- Whose turn it is.  The claims share the free slots between users:
-- the user served least recently goes first, for schedules
-- (dispatched_at: a claim took one of theirs) and for alerts
-- (alerted_at: a notifier took one of theirs).  A table of ours, so
-- that no user can move their own turn.
CREATE TABLE IF NOT EXISTS public.evalsched_turns (
    user_id uuid PRIMARY KEY,
    dispatched_at timestamptz,
    alerted_at timestamptz
);
ALTER TABLE public.evalsched_turns ENABLE ROW LEVEL SECURITY;

-- A schedule the platform fails alone (the application answers 5xx for
-- it while it answers others) waits out a backoff of its own, kept here
-- where its owner cannot reach it: no claim takes it before not_before,
-- whatever its next_run_at says.  failures counts such failures in a
-- row; a dispatch the application answers for itself (accepted, or
-- refused as the schedule's fault) deletes the row.
CREATE TABLE IF NOT EXISTS public.evalsched_backoffs (
    scheduled_evaluation_id uuid PRIMARY KEY
        REFERENCES public.scheduled_evaluations (id) ON DELETE CASCADE,
    failures integer NOT NULL,
    since timestamptz NOT NULL DEFAULT now(),
    not_before timestamptz NOT NULL,
    reason text
);
ALTER TABLE public.evalsched_backoffs ENABLE ROW LEVEL SECURITY;

-- Whose alert is being delivered now: one notifier per user at a time.
CREATE INDEX IF NOT EXISTS evalsched_alerts_claimed
    ON public.evalsched_alerts (user_id)
    WHERE state = 'pending' AND claimed_until IS NOT NULL;

-- Numbers users can trust.  The application writes a batch test's
-- judgments without waiting for them, many after the batch test ends: a
-- run's quality is provisional when its batch test ends and final
-- quality_settle seconds later, at evalsched_settle_at (NULL once
-- settled, or when there is nothing to settle).  A regression is decided
-- on settled numbers only, and only a settled run can be a baseline.
ALTER TABLE public.scheduled_evaluation_runs
    ADD COLUMN IF NOT EXISTS evalsched_settle_at timestamptz;

CREATE INDEX IF NOT EXISTS evalsched_runs_settling
    ON public.scheduled_evaluation_runs (evalsched_settle_at)
    WHERE evalsched_settle_at IS NOT NULL;

-- The rules, each written once, for the supervisor and evalschedctl
-- alike.  The application's results tables may be created after this
-- file: the bodies are checked when they run.
SET LOCAL check_function_bodies = off;

-- A batch test's quality, in [0, 1]: the mean LLM-judge score
-- (judge_type 'llm', the judge's 0-10 divided by ten) of its assistant
-- messages when it has any, else the mean heuristic score ('rule');
-- source says which, NULL when nothing was judged.  Validators and other
-- judges do not count.
CREATE OR REPLACE FUNCTION public.evalsched_quality(batch uuid,
    OUT quality numeric, OUT source text)
LANGUAGE sql STABLE SET search_path = '' AS $$
    SELECT coalesce(avg(j.score) FILTER (WHERE j.judge_type = 'llm'),
               avg(j.score) FILTER (WHERE j.judge_type = 'rule')),
           CASE WHEN count(*) FILTER (WHERE j.judge_type = 'llm') > 0
                    THEN 'llm'
                WHEN count(*) FILTER (WHERE j.judge_type = 'rule') > 0
                    THEN 'rule' END
    FROM public.conversations c
    JOIN public.messages m ON m.conversation_id = c.id
    JOIN public.judgments j ON j.message_id = m.id
    WHERE c.batch_test_run_id = batch AND m.role = 'assistant'
      AND j.score BETWEEN 0 AND 1
$$;

-- A run that can be a baseline: completed with results, settled, and
-- not itself a regression (so that a regression never becomes the new
-- normal).  The baseline's rule, and run_retention's, which keeps the
-- run each schedule's next baseline would be.
CREATE OR REPLACE FUNCTION public.evalsched_can_be_baseline(
    r public.scheduled_evaluation_runs)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = ''
AS $$
    SELECT r.status = 'completed' AND coalesce(r.total_prompts, 0) > 0
        AND NOT coalesce(r.regression_detected, false)
        AND r.evalsched_settle_at IS NULL
$$;

-- The baseline of a run of schedule sid fired at `before` whose quality
-- came from `source` (NULL: the next run, whose source is not known
-- yet): the run an operator pinned, while it exists; else the most
-- recent earlier run that can be a baseline whose quality came from the
-- same source.  NULL: none.
CREATE OR REPLACE FUNCTION public.evalsched_baseline(sid uuid,
    before timestamptz, source text)
RETURNS uuid LANGUAGE sql STABLE SET search_path = '' AS $$
    SELECT coalesce(
        (SELECT p.run_id FROM public.evalsched_baselines p
         JOIN public.scheduled_evaluation_runs r ON r.id = p.run_id
         WHERE p.scheduled_evaluation_id = sid),
        (SELECT o.id FROM public.scheduled_evaluation_runs o
         WHERE o.scheduled_evaluation_id = sid AND o.triggered_at < before
           AND (source IS NULL
                OR o.regression_details ->> 'quality_source' = source)
           AND public.evalsched_can_be_baseline(o)
         ORDER BY o.triggered_at DESC, o.id DESC LIMIT 1))
$$;

-- What a 'running' run came to, from its batch test (named: the run has
-- one; bstatus NULL: it cannot be found): NULL while it goes on.
-- waited_out: completion_timeout has passed; unresolved_out: an
-- unresolved run's window (run_timeout) has, and cut_short says a
-- shutdown cut its dispatch short (nothing started: cancelled, not
-- failed).  A user's cancel is final when the application's loop, which
-- ignores it, has finished too.
CREATE OR REPLACE FUNCTION public.evalsched_outcome(named boolean,
    bstatus text, berror text, total integer, bad integer,
    waited_out boolean, unresolved_out boolean, cut_short boolean)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
    SELECT CASE
        WHEN NOT named THEN CASE WHEN unresolved_out THEN
            CASE WHEN cut_short THEN 'cancelled' ELSE 'no_batch' END END
        WHEN bstatus IS NULL OR bstatus IN ('pending', 'running')
            THEN CASE WHEN waited_out THEN 'timeout' END
        WHEN berror = 'Cancelled by user' AND bstatus <> 'completed'
            THEN CASE WHEN waited_out THEN 'cancelled' END
        WHEN bstatus = 'cancelled' OR berror = 'Cancelled by user'
            THEN 'cancelled'
        WHEN bstatus = 'completed' AND total > 0 AND bad >= total
            THEN 'all_failed'
        WHEN bstatus = 'failed' THEN 'batch_failed'
        ELSE 'completed' END
$$;

-- The words of the alerts: the application's, as its
-- sendScheduledEvaluationAlert(type, data) writes them from the data it
-- is given (lib/alerts/alert.service.ts), with a user's texts cut.
-- Every writer of a schedule's alert builds it with
-- evalsched_schedule_alert below, so that the title, the message and
-- the metadata say the same thing wherever the event comes from.  The
-- versions before 6 had texts of their own, by other signatures.
DROP FUNCTION IF EXISTS public.evalsched_failed_message(text, text, text,
    boolean);
DROP FUNCTION IF EXISTS public.evalsched_disabled_message(text, text,
    integer, text);

-- The title: titleMap of the application, with the name cut.
CREATE OR REPLACE FUNCTION public.evalsched_alert_title(event text,
    name text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
    SELECT CASE event
        WHEN 'scheduled_eval_failed' THEN 'Scheduled Evaluation Failed: '
        WHEN 'scheduled_eval_disabled'
            THEN 'Scheduled Evaluation Auto-Disabled: '
        WHEN 'scheduled_eval_regression' THEN 'Regression Detected: '
        END || public.evalsched_alert_name(name)
$$;

-- JavaScript's String.prototype.trim(): white space and line
-- terminators as ECMAScript counts them, at both ends.
CREATE OR REPLACE FUNCTION public.evalsched_js_trim(t text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
    SELECT pg_catalog.regexp_replace(t,
        '^[\u0009-\u000d\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029'
        || '\u202f\u205f\u3000\ufeff]+|[\u0009-\u000d\u0020\u00a0'
        || '\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000'
        || '\ufeff]+$', '', 'g')
$$;

-- The message: messageMap of the application, from the values of the
-- metadata (error: errorMessage; failures: consecutiveFailures;
-- percent: regressionPercent, which evalsched gives to one decimal, so
-- that toFixed(1) prints it as it is).  Its quirks are kept: a count of
-- 0 or none reads 3, a percent of 0 or none leaves the colon part out.
CREATE OR REPLACE FUNCTION public.evalsched_alert_message(event text,
    error text, failures integer, percent numeric)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
    SELECT CASE event
        WHEN 'scheduled_eval_failed' THEN public.evalsched_js_trim(
            'Your scheduled evaluation failed. ' || coalesce(error, ''))
        WHEN 'scheduled_eval_disabled' THEN
            'Your scheduled evaluation has been auto-disabled after '
            || coalesce(nullif(failures, 0), 3)
            || ' consecutive failures. Please check the configuration and '
            || 're-enable manually.'
        WHEN 'scheduled_eval_regression' THEN
            'Performance regression detected'
            || CASE WHEN coalesce(percent, 0) <> 0
                THEN ': Quality score dropped '
                    || pg_catalog.round(percent, 1) || '%' ELSE '' END
            || '.'
        END
$$;

-- The metadata: the data object the application sends, its keys in the
-- order of its interface (ScheduledEvaluationAlertData), a key without a
-- value left out as JSON.stringify leaves out an undefined one; then
-- evalsched's own keys (extra, in their order).  Names cut.
CREATE OR REPLACE FUNCTION public.evalsched_alert_metadata(sid uuid,
    uid uuid, name text, model text, status text, total integer,
    ok integer, bad integer, latency numeric, quality numeric,
    regression boolean, percent numeric, error text, failures integer,
    extra json)
RETURNS json LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
    SELECT pg_catalog.json_object_agg(k.key, k.value ORDER BY k.n)
    FROM (SELECT v.n, v.key, v.value FROM (VALUES
            (1, 'scheduledEvaluationId', pg_catalog.to_json(sid)),
            (2, 'userId', pg_catalog.to_json(uid)),
            (3, 'scheduleName',
                pg_catalog.to_json(public.evalsched_alert_name(name))),
            (4, 'modelId',
                pg_catalog.to_json(public.evalsched_alert_name(model))),
            (5, 'status', pg_catalog.to_json(status)),
            (6, 'totalPrompts', pg_catalog.to_json(total)),
            (7, 'successfulPrompts', pg_catalog.to_json(ok)),
            (8, 'failedPrompts', pg_catalog.to_json(bad)),
            (9, 'avgLatency', pg_catalog.to_json(pg_catalog.trim_scale(latency))),
            (10, 'avgQualityScore',
                pg_catalog.to_json(pg_catalog.trim_scale(quality))),
            (11, 'regressionDetected', pg_catalog.to_json(regression)),
            (12, 'regressionPercent', pg_catalog.to_json(percent)),
            (13, 'errorMessage', pg_catalog.to_json(error)),
            (14, 'consecutiveFailures', pg_catalog.to_json(failures)))
            AS v(n, key, value)
        UNION ALL
        SELECT 100 + e.n, e.key, e.value
        FROM pg_catalog.json_each(extra) WITH ORDINALITY AS e(key, value, n)
    ) k
    WHERE k.value IS NOT NULL AND pg_catalog.json_typeof(k.value) <> 'null'
$$;

-- A schedule's alert, whole: its title, message and metadata from the
-- data of the event, as the application builds them from its data
-- object.  error is errorMessage as sent (cut by the caller, who knows
-- what it holds); percent is regressionPercent.
CREATE OR REPLACE FUNCTION public.evalsched_schedule_alert(event text,
    sid uuid, uid uuid, name text, model text, status text,
    total integer, ok integer, bad integer, latency numeric,
    quality numeric, regression boolean, percent numeric, error text,
    failures integer, extra json,
    OUT title text, OUT message text, OUT metadata json)
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
    SELECT public.evalsched_alert_title(event, name),
        public.evalsched_alert_message(event, error, failures, percent),
        public.evalsched_alert_metadata(sid, uid, name, model, status,
            total, ok, bad, latency, quality, regression, percent, error,
            failures, extra)
$$;

-- errorMessage of a failed dispatch: what went wrong, cut, and, when it
-- was the platform's fault, that it does not count against the
-- schedule (the owner reads it in the message).
CREATE OR REPLACE FUNCTION public.evalsched_failure_text(error text,
    counts boolean)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
    SELECT public.evalsched_alert_error(error)
        || CASE WHEN NOT counts THEN ' (a fault of the platform, not of '
            || 'the schedule: it does not count toward auto-disable)'
            ELSE '' END
$$;

-- errorMessage of an auto-disable, as the application's worker writes
-- it; failures NULL: disabled as a bad row, and error says why.
CREATE OR REPLACE FUNCTION public.evalsched_disabled_text(failures integer,
    error text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
    SELECT CASE WHEN failures IS NULL THEN public.evalsched_alert_error(error)
        ELSE 'Auto-disabled after ' || failures || ' consecutive failures'
        END
$$;

-- What the end of a run does to its schedule, the one rule for the
-- dispatch's end (record.c) and the batch test's (evalsched_complete):
-- s is the schedule as it stands.  A completed run starts its failures
-- in a row again (reset), a failure of the schedule's adds one
-- (counted; a run does one or the other, or neither), and an active
-- schedule whose failures in a row reach max_failures with it is
-- disabled, by evalsched, saying why.  The last status, run and time
-- are those of the schedule's newest run (newest: this one is): how it
-- ended (how: 'completed' reads 'success', 'cancelled' itself, anything
-- else 'failed'), its batch test (bid) when it has one, and when it
-- started (at).  The columns of scheduled_evaluations it sets, in this
-- order.
CREATE OR REPLACE FUNCTION public.evalsched_schedule_after(
    s public.scheduled_evaluations, how text, counted boolean,
    reset boolean, newest boolean, bid uuid, at timestamptz,
    max_failures integer,
    OUT consecutive_failures integer, OUT is_active boolean,
    OUT evalsched_disabled_at timestamptz,
    OUT evalsched_disabled_reason text, OUT last_run_status text,
    OUT last_run_id uuid, OUT last_run_at timestamptz)
LANGUAGE sql STABLE SET search_path = '' AS $$
    SELECT f.n, s.is_active AND NOT f.disables,
        CASE WHEN f.disables THEN now() ELSE s.evalsched_disabled_at END,
        CASE WHEN f.disables
            THEN pg_catalog.format('%s consecutive failures', f.n)
            ELSE s.evalsched_disabled_reason END,
        CASE WHEN NOT newest THEN s.last_run_status
            WHEN how = 'completed' THEN 'success'
            WHEN how = 'cancelled' THEN 'cancelled' ELSE 'failed' END,
        CASE WHEN newest AND bid IS NOT NULL THEN bid
            ELSE s.last_run_id END,
        CASE WHEN newest THEN greatest(s.last_run_at, at)
            ELSE s.last_run_at END
    FROM (SELECT n.n, s.is_active AND counted AND n.n >= max_failures
            AS disables
        FROM (SELECT CASE WHEN reset THEN 0
            WHEN counted THEN s.consecutive_failures + 1
            ELSE s.consecutive_failures END AS n) n) f
$$;

-- The alerts the end of a run calls for, as rows of evalsched_alerts,
-- for the owner of schedule s (as it now stands) when alert_on_failure
-- is on; the one rule for the dispatch's end (record.c), the batch
-- test's (evalsched_complete) and a bad row's (claim.c).  failed: a
-- failed dispatch, error its error, counts whether it counted toward
-- auto-disable; disabled: the schedule was auto-disabled, after its
-- failures in a row, or as a bad row when why says why; total, ok and
-- bad: the counts of the run's batch test, when it ran.  Their words
-- are evalsched_schedule_alert's.
CREATE OR REPLACE FUNCTION public.evalsched_end_alerts(
    s public.scheduled_evaluations, run uuid, failed boolean,
    counts boolean, disabled boolean, why text, error text,
    total integer, ok integer, bad integer)
RETURNS TABLE (event text, user_id uuid, scheduled_evaluation_id uuid,
    run_id uuid, title text, message text, metadata json)
LANGUAGE sql STABLE SET search_path = '' AS $$
    SELECT e.event, s.user_id, s.id, run, m.title, m.message, m.metadata
    FROM (VALUES
        ('scheduled_eval_failed', failed, 'failed',
            public.evalsched_failure_text(error, counts)),
        ('scheduled_eval_disabled', disabled, 'auto_disabled',
            public.evalsched_disabled_text(CASE WHEN why IS NULL
                THEN s.consecutive_failures END, why)))
        AS e(event, wanted, status, text)
    CROSS JOIN LATERAL public.evalsched_schedule_alert(e.event, s.id,
        s.user_id, s.name, s.model_id, e.status, total, ok, bad, NULL,
        NULL, NULL, NULL, e.text, s.consecutive_failures,
        pg_catalog.json_build_object('runId', run, 'lastError',
            CASE WHEN e.event = 'scheduled_eval_disabled'
            THEN public.evalsched_alert_error(error) END)) m
    WHERE e.wanted AND s.alert_on_failure AND s.user_id IS NOT NULL
$$;

-- A run the completion pass closes, as it reads: its status,
-- error_message and error_details, from what it came to (how,
-- evalsched_outcome's) and its batch test: named, the run has one; bid,
-- bstatus, berror: the batch test, NULL when it cannot be found; total
-- and bad its prompts.  A run without one (unresolved) keeps what its
-- dispatch said (unclear, unclear_details) and adds that no batch test
-- turned up within run_timeout (window_s); a batch test still under way
-- names completion_timeout (timeout_s).  Blame: an all-failed batch test
-- is the schedule's, a cancel nobody's, anything else the platform's.
CREATE OR REPLACE FUNCTION public.evalsched_closing(how text,
    named boolean, bid uuid, bstatus text, berror text, total integer,
    bad integer, unclear text, unclear_details jsonb, timeout_s integer,
    window_s integer,
    OUT status text, OUT error_message text, OUT error_details jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
    SELECT CASE how WHEN 'completed' THEN 'completed'
            WHEN 'cancelled' THEN 'cancelled' ELSE 'failed' END,
        CASE WHEN NOT named THEN pg_catalog.format('%s; no batch test '
                'turned up in the %s s that followed',
                coalesce(unclear, 'the answer was unclear'), window_s)
            WHEN how = 'timeout' THEN pg_catalog.format('no result within '
                '%s s: the batch test %s', timeout_s, CASE WHEN bid IS NULL
                THEN 'cannot be found' ELSE 'is still ' || bstatus END)
            WHEN how = 'all_failed' THEN pg_catalog.format(
                'every prompt failed (%s of %s)', bad, total)
            WHEN how = 'batch_failed' THEN 'the batch test failed: '
                || coalesce(berror, 'no reason given')
            WHEN how = 'cancelled' THEN 'Cancelled by user' END,
        CASE WHEN how = 'completed' THEN NULL
            WHEN NOT named THEN (coalesce(unclear_details, '{}')
                - 'unresolved') || pg_catalog.jsonb_strip_nulls(
                pg_catalog.jsonb_build_object(
                'blame', CASE how WHEN 'no_batch' THEN 'platform' END,
                'reason', 'no batch test', 'resolve_window', window_s))
            ELSE pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                'blame', CASE how WHEN 'all_failed' THEN 'schedule'
                    WHEN 'cancelled' THEN NULL ELSE 'platform' END,
                'reason', how, 'batch_test_status', bstatus,
                'batch_test_error', berror,
                'completion_timeout', CASE how WHEN 'timeout'
                    THEN timeout_s END)) END
$$;

-- The completion pass (completion.c): closes, at most max_runs at a
-- time, the runs whose batch test has ended, those whose batch test
-- outlived completion_timeout (timeout_s), and the unresolved ones that
-- no batch test reached within run_timeout (window_s).  A run's batch
-- test is looked up when it is marked ended (evalsched_batch_ended, or
-- the supervisor at the dispatch's end), or when the run was accepted
-- less than recent_s ago: the mark misses a batch test that ends while
-- the run's acceptance is being written.  It reads marked, recent and
-- expired runs only, through indexes that hold only runs under way: its
-- cost does not grow with the history.  One run per schedule, the one
-- that fired first (the next pass follows at once); locked, so that
-- passes side by side share the work.  What a run came to is
-- evalsched_outcome's to say, its words evalsched_closing's, its
-- quality evalsched_quality's, provisional until settle.c settles it
-- quality_settle (settle_s) later; what that does to the schedule is
-- evalsched_schedule_after's, and the schedule is written only when it
-- changes (each write costs the application's audit trigger a copy of
-- the row); the alerts are evalsched_end_alerts'.  A row for each run
-- closed; disabled: why its schedule was disabled by this pass; alerts:
-- the alerts queued, on every row.
CREATE OR REPLACE FUNCTION public.evalsched_complete(timeout_s integer,
    max_failures integer, max_runs integer, recent_s bigint,
    window_s integer, settle_s integer)
RETURNS TABLE (id uuid, name text, how text, total integer, ok integer,
    latency_ms numeric, quality_pct numeric, error_message text,
    disabled text, alerts bigint)
LANGUAGE plpgsql SET search_path = '' AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH cand AS (
        SELECT DISTINCT ON (r.scheduled_evaluation_id) r.id
        FROM public.scheduled_evaluation_runs r
        LEFT JOIN public.batch_test_runs b ON b.id = r.batch_test_run_id
        WHERE r.status = 'running' AND r.slot_at IS NOT NULL
          AND (r.started_at < now() - timeout_s * interval '1 second'
            OR (r.batch_test_run_id IS NULL
                AND r.started_at < now() - window_s * interval '1 second')
            OR ((r.batch_ended_at IS NOT NULL
                 OR r.started_at > now() - recent_s * interval '1 second')
                AND b.status NOT IN ('pending', 'running')))
        ORDER BY r.scheduled_evaluation_id, r.triggered_at),
    due AS (
        SELECT r.id, r.scheduled_evaluation_id AS sid, r.started_at,
            r.triggered_at, r.batch_test_run_id IS NOT NULL AS named,
            r.error_message AS unclear, r.error_details AS unclear_details,
            b.id AS bid, b.status AS bstatus, b.error AS berror,
            b.completed_at AS bend, coalesce(b.total_prompts, 0) AS total,
            coalesce(b.completed_prompts, 0) AS ok,
            coalesce(b.failed_prompts, 0) AS bad
        FROM public.scheduled_evaluation_runs r
        LEFT JOIN public.batch_test_runs b ON b.id = r.batch_test_run_id
        WHERE r.id IN (SELECT c.id FROM cand c) AND r.status = 'running'
        ORDER BY r.started_at LIMIT max_runs
        FOR UPDATE OF r SKIP LOCKED),
    res AS (
        SELECT d.*, l.latency, q.quality, q.source,
            public.evalsched_outcome(d.named, d.bstatus, d.berror, d.total,
                d.bad, d.started_at < now() - timeout_s * interval '1 second',
                d.started_at < now() - window_s * interval '1 second',
                coalesce(d.unclear_details ? 'cancelled', false)) AS how
        FROM due d
        LEFT JOIN LATERAL (SELECT pg_catalog.avg(m.latency_ms) AS latency
            FROM public.conversations c
            JOIN public.messages m ON m.conversation_id = c.id
            WHERE c.batch_test_run_id = d.bid AND m.role = 'assistant') l
            ON true
        LEFT JOIN LATERAL public.evalsched_quality(d.bid) q ON true),
    runs AS (
        UPDATE public.scheduled_evaluation_runs r SET
            status = c.status, completed_at = coalesce(x.bend, now()),
            total_prompts = x.total, successful_prompts = x.ok,
            failed_prompts = x.bad, avg_latency_ms = x.latency,
            avg_quality_score = x.quality,
            regression_detected = false, baseline_run_id = NULL,
            -- Provisional until settled: the source, so far.
            regression_details = CASE WHEN x.how = 'completed'
                AND x.total > 0 THEN pg_catalog.jsonb_strip_nulls(
                    pg_catalog.jsonb_build_object('quality_source',
                    x.source, 'settled', false)) END,
            evalsched_settle_at = CASE WHEN x.how = 'completed'
                AND x.total > 0
                THEN now() + settle_s * interval '1 second' END,
            error_message = c.error_message, error_details = c.error_details,
            evalsched_rev = coalesce(r.evalsched_rev, 0) + 1
        FROM res x
        CROSS JOIN LATERAL public.evalsched_closing(x.how, x.named, x.bid,
            x.bstatus, x.berror, x.total, x.bad, x.unclear,
            x.unclear_details, timeout_s, window_s) c
        WHERE r.id = x.id AND x.how IS NOT NULL
        RETURNING r.id, r.scheduled_evaluation_id AS sid, r.triggered_at,
            r.started_at, r.batch_test_run_id AS bid, x.how, x.total, x.ok,
            x.bad, pg_catalog.round(x.latency) AS latency_ms,
            pg_catalog.round(x.quality * 100, 1) AS quality_pct,
            r.error_message),
    -- What each run does to its schedule: an all-failed batch test
    -- counts; a completed run resets the count unless a failure of the
    -- schedule's of a later run was counted already.
    per AS (
        SELECT u.sid, u.how, u.bid, u.started_at,
            u.how = 'all_failed' AS counted,
            u.how = 'completed' AND NOT EXISTS (SELECT 1
                FROM public.scheduled_evaluation_runs n
                WHERE n.scheduled_evaluation_id = u.sid
                  AND n.triggered_at > u.triggered_at
                  AND n.status = 'failed'
                  AND n.error_details ->> 'blame' = 'schedule') AS reset,
            NOT EXISTS (SELECT 1 FROM public.scheduled_evaluation_runs n
                WHERE n.scheduled_evaluation_id = u.sid
                  AND n.triggered_at > u.triggered_at) AS newest
        FROM runs u),
    sched AS (
        UPDATE public.scheduled_evaluations s SET
            (consecutive_failures, is_active, evalsched_disabled_at,
             evalsched_disabled_reason, last_run_status, last_run_id,
             last_run_at) = (SELECT a.* FROM public.evalsched_schedule_after(
                s, p.how, p.counted, p.reset, p.newest, p.bid, p.started_at,
                max_failures) a)
        FROM per p
        WHERE s.id = p.sid AND (SELECT ROW(a.*)
            FROM public.evalsched_schedule_after(s, p.how, p.counted,
                p.reset, p.newest, p.bid, p.started_at, max_failures) a)
            IS DISTINCT FROM ROW(s.consecutive_failures, s.is_active,
                s.evalsched_disabled_at, s.evalsched_disabled_reason,
                s.last_run_status, s.last_run_id, s.last_run_at)
        -- Disabled by this very statement: now() is the transaction's.
        RETURNING s.id, s AS schedule, CASE WHEN s.evalsched_disabled_at = now()
            THEN s.evalsched_disabled_reason END AS disabled),
    alerts AS (
        INSERT INTO public.evalsched_alerts (event, user_id,
            scheduled_evaluation_id, run_id, title, message, metadata)
        SELECT a.* FROM runs u
        JOIN public.scheduled_evaluations s0 ON s0.id = u.sid
        LEFT JOIN sched s ON s.id = u.sid
        -- A dispatch that reached nothing is the platform's fault, not
        -- counted; the counts are those of a batch test that ran.
        CROSS JOIN LATERAL public.evalsched_end_alerts(
            coalesce(s.schedule, s0), u.id, u.how = 'no_batch', false,
            s.disabled IS NOT NULL, NULL, u.error_message,
            CASE WHEN u.bid IS NOT NULL THEN u.total END,
            CASE WHEN u.bid IS NOT NULL THEN u.ok END,
            CASE WHEN u.bid IS NOT NULL THEN u.bad END) a
        ON CONFLICT (event, run_id) WHERE run_id IS NOT NULL DO NOTHING
        RETURNING 1)
    SELECT u.id, s0.name, u.how, u.total, u.ok, u.latency_ms,
        u.quality_pct, u.error_message, s.disabled,
        (SELECT pg_catalog.count(*) FROM alerts)
    FROM runs u
    JOIN public.scheduled_evaluations s0 ON s0.id = u.sid
    LEFT JOIN sched s ON s.id = u.sid
    ORDER BY u.sid;
END;
$$;

-- Metric alert rules: the application's metric_alert_rules, evaluated
-- every minute over its llm_traces (evalsched-supervisor(8), "Metric
-- alert rules").  A rule is evaluated once per minute of the database's
-- clock whatever the number of supervisors: the pass that moves its slot
-- to the minute (from an earlier one, under the row's lock) evaluates
-- it, and no other.  One row per rule, updated in place: nothing to
-- prune but the slots of rules deleted or disabled for a day.
CREATE TABLE IF NOT EXISTS public.evalsched_metric_slots (
    rule_id uuid PRIMARY KEY,
    minute timestamptz NOT NULL
);
ALTER TABLE public.evalsched_metric_slots ENABLE ROW LEVEL SECURITY;

-- A metric alert names its rule and minute: one per rule and minute.
ALTER TABLE public.evalsched_alerts
    ADD COLUMN IF NOT EXISTS metric_rule_id uuid,
    ADD COLUMN IF NOT EXISTS metric_minute timestamptz;

CREATE UNIQUE INDEX IF NOT EXISTS evalsched_alerts_metric_once
    ON public.evalsched_alerts (metric_rule_id, metric_minute)
    WHERE metric_rule_id IS NOT NULL;

-- The events: the schedules' and the metric rules' (the application's
-- worker's alert types).
ALTER TABLE public.evalsched_alerts
    DROP CONSTRAINT IF EXISTS evalsched_alerts_event_check;
ALTER TABLE public.evalsched_alerts
    ADD CONSTRAINT evalsched_alerts_event_check CHECK (event IN (
        'scheduled_eval_failed', 'scheduled_eval_disabled',
        'scheduled_eval_regression', 'trace_latency_high',
        'trace_error_rate_high', 'trace_cost_high', 'trace_throughput_low',
        'trace_ttft_high', 'anomaly_critical'));

-- A rule reads its user's traces of the last minutes, and anomalies.
DO $$
BEGIN
    IF pg_catalog.to_regclass('public.llm_traces') IS NOT NULL THEN
        CREATE INDEX IF NOT EXISTS evalsched_traces_user_created
            ON public.llm_traces (user_id, created_at);
    END IF;
    IF pg_catalog.to_regclass('public.anomaly_detections') IS NOT NULL THEN
        CREATE INDEX IF NOT EXISTS evalsched_anomalies_user_detected
            ON public.anomaly_detections (user_id, detected_at);
    END IF;
    -- Pruned oldest first by run_retention, through the application's
    -- own index on evaluated_at: a second one only slowed the inserts.
    DROP INDEX IF EXISTS public.evalsched_rule_evaluations_at;
END;
$$;

-- An anomaly's severity as a number, for anomaly_severity rules.
CREATE OR REPLACE FUNCTION public.evalsched_severity(s text)
RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = ''
AS $$
    SELECT CASE s WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3
        WHEN 'critical' THEN 4 END::numeric
$$;

-- anomaly_severity's values, for a pass's anomaly rules at once (one
-- call, not one a rule): for each rule id, the anomalies the application
-- detected for its user uid in [ws, we] (its anomaly_detections, made by
-- hand outside its migrations: none when it is missing), their severity
-- as 1 (low) to 4 (critical), with the rule's model (model_id) and
-- operation (statistics.operation_type) filters; frac: pN's N/100, NULL
-- for none.  The arrays are the rules' columns, in the same order.
DROP FUNCTION IF EXISTS public.evalsched_anomaly_values(uuid, timestamptz,
    timestamptz, text, text, float8);
CREATE OR REPLACE FUNCTION public.evalsched_anomaly_values(ids uuid[],
    uids uuid[], wss timestamptz[], wes timestamptz[], models text[],
    ops text[], fracs float8[])
RETURNS TABLE (id uuid, nvalues bigint, vavg numeric, vmax numeric,
    vmin numeric, vsum numeric, vpct numeric)
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
    IF pg_catalog.to_regclass('public.anomaly_detections') IS NULL THEN
        RETURN QUERY SELECT r.id, 0::bigint, NULL::numeric, NULL::numeric,
            NULL::numeric, NULL::numeric, NULL::numeric
            FROM pg_catalog.unnest(ids) AS r(id);
        RETURN;
    END IF;
    RETURN QUERY
    SELECT r.id, x.*
    FROM ROWS FROM (pg_catalog.unnest(ids), pg_catalog.unnest(uids),
        pg_catalog.unnest(wss), pg_catalog.unnest(wes),
        pg_catalog.unnest(models), pg_catalog.unnest(ops),
        pg_catalog.unnest(fracs)) AS r(id, uid, ws, we, model, op, frac)
    CROSS JOIN LATERAL (
        SELECT pg_catalog.count(v.v), pg_catalog.avg(v.v),
            pg_catalog.max(v.v), pg_catalog.min(v.v), pg_catalog.sum(v.v),
            pg_catalog.percentile_disc(coalesce(r.frac, 0.5))
                WITHIN GROUP (ORDER BY v.v) FILTER (WHERE r.frac IS NOT NULL)
        FROM public.anomaly_detections a
        CROSS JOIN LATERAL (SELECT public.evalsched_severity(a.severity)
            AS v) v
        WHERE a.user_id = r.uid AND a.detected_at >= r.ws
          AND a.detected_at <= r.we
          AND (r.model IS NULL OR a.model_id = r.model)
          AND (r.op IS NULL OR a.statistics ->> 'operation_type' = r.op)) x;
END;
$$;

-- Evaluates at most max_rules enabled rules not yet evaluated this
-- minute, with the application's worker's arithmetic on the columns the
-- application has; writes an evaluation row for each, and for each that
-- triggers out of its cooldown an alert and the rule's
-- last_triggered_at and trigger_count.  One row per rule evaluated.
CREATE OR REPLACE FUNCTION public.evalsched_evaluate_metric_rules(
    max_rules integer)
RETURNS TABLE (rule_id uuid, rule_name text, metric_type text,
    aggregation text, metric_value numeric, threshold numeric,
    operator text, sample_count integer, triggered boolean, alerted boolean)
-- The planner's estimates for the lateral scans are far off: compiling
-- the statement would cost more than running it, and a generic plan
-- (for any minute and batch) can be far worse than one for this pass.
LANGUAGE plpgsql SET search_path = '' SET jit = off
SET plan_cache_mode = force_custom_plan AS $$
#variable_conflict use_column
DECLARE
    m timestamptz := pg_catalog.date_trunc('minute', now());
BEGIN
    -- An application database older than the rules has nothing to do.
    IF pg_catalog.to_regclass('public.metric_alert_rules') IS NULL
        OR pg_catalog.to_regclass('public.metric_alert_rule_evaluations')
            IS NULL
        OR pg_catalog.to_regclass('public.llm_traces') IS NULL THEN
        RETURN;
    END IF;
    -- Once an hour, the slots of rules gone or disabled for a day.
    IF pg_catalog.date_part('minute', m) = 0 THEN
        DELETE FROM public.evalsched_metric_slots s
            WHERE s.minute < m - interval '1 day';
    END IF;
    RETURN QUERY
    -- A user's rules in the same pass (they may share their traces), and
    -- always in one order: two passes never wait in a circle.  A pass
    -- that waited for another's lock finds the slot moved to this minute,
    -- and leaves it.
    WITH cand AS (
        SELECT r.id, r.user_id FROM public.metric_alert_rules r
        WHERE r.enabled AND NOT EXISTS (
            SELECT 1 FROM public.evalsched_metric_slots s
            WHERE s.rule_id = r.id AND s.minute >= m)
        ORDER BY r.user_id, r.id LIMIT max_rules),
    taken AS (
        INSERT INTO public.evalsched_metric_slots AS s (rule_id, minute)
        SELECT c.id, m FROM cand c ORDER BY c.user_id, c.id
        ON CONFLICT (rule_id) DO UPDATE SET minute = EXCLUDED.minute
            WHERE s.minute < EXCLUDED.minute
        RETURNING s.rule_id),
    -- grp: the rules with the same user, window and filters share their
    -- samples, read once.
    due AS (
        SELECT r.*, now() - r.time_window_minutes * interval '1 minute'
                AS ws, now() AS we,
            CASE r.aggregation_method WHEN 'p50' THEN 0.5::float8
                WHEN 'p95' THEN 0.95::float8 WHEN 'p99' THEN 0.99::float8
                END AS frac,
            pg_catalog.dense_rank() OVER (ORDER BY r.user_id,
                r.time_window_minutes, r.model_filter, r.operation_filter,
                r.status_filter) AS grp
        FROM public.metric_alert_rules r JOIN taken t ON t.rule_id = r.id),
    -- The samples: every trace of the window that passes the filters,
    -- and their values of each metric.
    samples AS MATERIALIZED (
        SELECT g.grp, x.*
        FROM (SELECT DISTINCT ON (d.grp) d.grp, d.user_id, d.ws, d.we,
                d.model_filter, d.operation_filter, d.status_filter
            FROM due d ORDER BY d.grp) g
        CROSS JOIN LATERAL (
            SELECT pg_catalog.count(*)::integer AS samples,
                pg_catalog.count(*) FILTER (
                    WHERE t.status IN ('error', 'failed')) AS errors,
                pg_catalog.array_agg(t.duration_ms::numeric) AS latency,
                pg_catalog.array_agg(t.ttft_ms::numeric) AS ttft,
                pg_catalog.array_agg(t.cost_usd::numeric) AS cost,
                pg_catalog.array_agg(CASE
                    WHEN t.input_tokens IS NULL AND t.output_tokens IS NULL
                    THEN t.total_tokens::numeric
                    ELSE coalesce(t.input_tokens, 0)::numeric
                        + coalesce(t.output_tokens, 0) END) AS tokens
            FROM public.llm_traces t
            WHERE t.user_id = g.user_id
              AND t.created_at >= g.ws AND t.created_at <= g.we
              AND (g.model_filter IS NULL OR t.model_name = g.model_filter)
              AND (g.operation_filter IS NULL
                   OR t.operation_type = g.operation_filter)
              AND (g.status_filter IS NULL OR t.status = g.status_filter)) x),
    -- A rule's values: a value that is missing, zero or negative is
    -- dropped, as the worker's `v || 0` and `v > 0` drop it.  Only the
    -- aggregation the rule asks for is computed.
    agg AS (
        SELECT d.id, g.samples, g.errors, y.nvalues, y.vavg, y.vmax, y.vmin,
            y.vsum, y.vpct
        FROM due d JOIN samples g ON g.grp = d.grp
        CROSS JOIN LATERAL (
            SELECT pg_catalog.count(u.v) AS nvalues,
                pg_catalog.avg(u.v) FILTER (
                    WHERE d.aggregation_method = 'avg') AS vavg,
                pg_catalog.max(u.v) FILTER (
                    WHERE d.aggregation_method = 'max') AS vmax,
                pg_catalog.min(u.v) FILTER (
                    WHERE d.aggregation_method = 'min') AS vmin,
                pg_catalog.sum(u.v) FILTER (
                    WHERE d.aggregation_method = 'sum') AS vsum,
                pg_catalog.percentile_disc(coalesce(d.frac, 0.5))
                    WITHIN GROUP (ORDER BY u.v)
                    FILTER (WHERE d.frac IS NOT NULL) AS vpct
            FROM pg_catalog.unnest(CASE d.metric_type
                WHEN 'latency' THEN g.latency WHEN 'ttft' THEN g.ttft
                WHEN 'cost' THEN g.cost WHEN 'token_usage' THEN g.tokens
                END) AS u(v)
            WHERE u.v > 0) y),
    anom AS (
        SELECT x.* FROM (
            SELECT pg_catalog.array_agg(d.id) AS ids,
                pg_catalog.array_agg(d.user_id) AS uids,
                pg_catalog.array_agg(d.ws) AS wss,
                pg_catalog.array_agg(d.we) AS wes,
                pg_catalog.array_agg(d.model_filter) AS models,
                pg_catalog.array_agg(d.operation_filter) AS ops,
                pg_catalog.array_agg(d.frac) AS fracs
            FROM due d WHERE d.metric_type = 'anomaly_severity') a
        CROSS JOIN LATERAL public.evalsched_anomaly_values(a.ids, a.uids,
            a.wss, a.wes, a.models, a.ops, a.fracs) x),
    val AS (
        SELECT d.*, g.samples,
            CASE WHEN d.metric_type = 'anomaly_severity' THEN n.nvalues
                ELSE g.nvalues END AS nvalues,
            CASE
            WHEN g.samples = 0 THEN 0
            WHEN d.metric_type = 'error_rate'
                THEN 100 * g.errors::numeric / g.samples
            WHEN d.metric_type = 'throughput' THEN g.samples
            ELSE coalesce(CASE d.aggregation_method
                WHEN 'avg' THEN coalesce(n.vavg, g.vavg)
                WHEN 'max' THEN coalesce(n.vmax, g.vmax)
                WHEN 'min' THEN coalesce(n.vmin, g.vmin)
                WHEN 'sum' THEN coalesce(n.vsum, g.vsum)
                WHEN 'count' THEN CASE WHEN d.metric_type
                    = 'anomaly_severity' THEN n.nvalues ELSE g.nvalues END
                ELSE coalesce(n.vpct, g.vpct) END, 0)
            END AS value
        FROM due d JOIN agg g ON g.id = d.id
        LEFT JOIN anom n ON n.id = d.id),
    -- The worker: no samples, not triggered, whatever the operator.
    cmp AS (
        SELECT v.*, v.samples > 0 AND CASE v.comparison_operator
            WHEN '>' THEN v.value > v.threshold_value
            WHEN '<' THEN v.value < v.threshold_value
            WHEN '>=' THEN v.value >= v.threshold_value
            WHEN '<=' THEN v.value <= v.threshold_value
            WHEN '==' THEN v.value = v.threshold_value
            WHEN '!=' THEN v.value <> v.threshold_value
            ELSE false END AS fired
        FROM val v),
    res AS (
        SELECT c.*, c.fired AND (c.last_triggered_at IS NULL
            OR now() >= c.last_triggered_at
                + c.cooldown_minutes * interval '1 minute') AS alert,
            CASE WHEN c.metric_type = 'anomaly_severity'
                THEN 'anomaly_critical'
                WHEN c.metric_type IN ('latency', 'token_usage')
                THEN 'trace_latency_high'
                WHEN c.metric_type = 'error_rate' THEN 'trace_error_rate_high'
                WHEN c.metric_type = 'cost' THEN 'trace_cost_high'
                WHEN c.metric_type = 'throughput' THEN 'trace_throughput_low'
                ELSE 'trace_ttft_high' END AS event,
            pg_catalog.to_char(c.ws AT TIME ZONE 'UTC',
                'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ws_iso,
            pg_catalog.to_char(c.we AT TIME ZONE 'UTC',
                'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS we_iso
        FROM cmp c),
    evals AS (
        INSERT INTO public.metric_alert_rule_evaluations (rule_id, user_id,
            metric_value, threshold_value, triggered, time_window_start,
            time_window_end, sample_count, metadata, evaluated_at)
        SELECT r.id, r.user_id, r.value, r.threshold_value, r.fired,
            r.ws, r.we, r.samples,
            pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                'metric_type', r.metric_type,
                'aggregation', r.aggregation_method,
                'evaluated_by', 'evalsched',
                'value_count', CASE WHEN r.metric_type NOT IN ('error_rate',
                    'throughput') THEN r.nvalues END,
                'no_value', CASE WHEN r.samples = 0
                    THEN 'no trace in the window passes the rule''s filters'
                    WHEN r.metric_type NOT IN ('error_rate', 'throughput')
                        AND r.nvalues = 0
                    THEN 'no ' || CASE WHEN r.metric_type
                        = 'anomaly_severity' THEN 'anomaly in the window '
                        || 'carries a severity' ELSE 'trace in the window '
                        || 'carries a value above zero' END END,
                'cooldown', CASE WHEN r.fired AND NOT r.alert THEN true END)),
            now()
        FROM res r),
    alerts AS (
        INSERT INTO public.evalsched_alerts (event, user_id, metric_rule_id,
            metric_minute, title, message, metadata, pending_webhooks,
            email_pending, pending_integrations)
        SELECT r.event, r.user_id, r.id, m,
            'Metric Alert: ' || n.name,
            pg_catalog.format('%s (%s) is %s %s threshold %s', r.metric_type,
                r.aggregation_method, pg_catalog.round(r.value, 2),
                r.comparison_operator,
                pg_catalog.trim_scale(r.threshold_value)),
            pg_catalog.json_build_object('rule_id', r.id,
                'rule_name', n.name,
                'metric_type', r.metric_type, 'metric_value', r.value,
                'threshold_value', r.threshold_value,
                'comparison_operator', r.comparison_operator,
                'aggregation_method', r.aggregation_method,
                'time_window_minutes', r.time_window_minutes,
                'sample_count', r.samples,
                'time_window_start', r.ws_iso, 'time_window_end', r.we_iso,
                'model_filter', n.model, 'operation_filter', n.operation,
                'status_filter', n.status,
                'notify_email', r.notify_email,
                'notify_webhooks', r.notify_webhooks,
                'notify_integrations', r.notify_integrations),
            -- No channel a rule does not ask for: webhooks, email,
            -- integrations each as its flag says.
            CASE WHEN NOT r.notify_webhooks THEN '{}'::uuid[] END,
            CASE WHEN NOT r.notify_email THEN false END,
            CASE WHEN NOT r.notify_integrations THEN '{}'::uuid[] END
        FROM res r CROSS JOIN LATERAL (SELECT
            public.evalsched_alert_name(r.rule_name) AS name,
            CASE WHEN r.model_filter IS NOT NULL
                THEN public.evalsched_alert_name(r.model_filter) END AS model,
            CASE WHEN r.operation_filter IS NOT NULL
                THEN public.evalsched_alert_name(r.operation_filter)
                END AS operation,
            CASE WHEN r.status_filter IS NOT NULL
                THEN public.evalsched_alert_name(r.status_filter)
                END AS status) n
        WHERE r.alert
        ON CONFLICT (metric_rule_id, metric_minute)
            WHERE metric_rule_id IS NOT NULL DO NOTHING
        RETURNING metric_rule_id),
    bump AS (
        UPDATE public.metric_alert_rules u
        SET last_triggered_at = now(), trigger_count = u.trigger_count + 1
        FROM alerts a WHERE u.id = a.metric_rule_id)
    SELECT r.id, r.rule_name, r.metric_type, r.aggregation_method, r.value,
        r.threshold_value, r.comparison_operator, r.samples, r.fired,
        a.metric_rule_id IS NOT NULL
    FROM res r LEFT JOIN alerts a ON a.metric_rule_id = r.id;
END;
$$;

-- run_retention for the evaluation rows of the rules (one per rule and
-- minute): at most batch of those older than days, oldest first.
CREATE OR REPLACE FUNCTION public.evalsched_prune_rule_evaluations(
    days integer, batch integer)
RETURNS integer LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
    n integer;
BEGIN
    IF pg_catalog.to_regclass('public.metric_alert_rule_evaluations')
        IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM public.metric_alert_rule_evaluations e
        WHERE e.id IN (SELECT o.id FROM public.metric_alert_rule_evaluations o
            WHERE o.evaluated_at < now() - days * interval '1 day'
            ORDER BY o.evaluated_at LIMIT batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END;
$$;

-- What the database refuses a supervisor (a privilege its role lacks,
-- row-level security, a constraint), in the database's words, since its
-- first refusal: written at each heartbeat, read by evalschedctl status.
ALTER TABLE public.evalsched_supervisors
    ADD COLUMN IF NOT EXISTS refused_since timestamptz,
    ADD COLUMN IF NOT EXISTS refusal text;

-- Every channel of the application (version 6): email as the owner's
-- user_alert_preferences allow it, the owner's user_integrations, and
-- the webhooks, each with a pending state of its own, so that one that
-- fails never holds another back nor sends another twice.
-- email_pending: NULL until the first attempt decides (then true: to
-- send; false: nothing to send, or no more); email_sent_at,
-- email_message_id, email_error: what came of it (email_error is also
-- the reason it was not sent: 'Email disabled', 'Quiet hours active'...).
-- pending_integrations: as pending_webhooks.  some_failed: a delivery
-- ended in failure (refused, or failed for good), so the event is
-- failed when nothing is left.
ALTER TABLE public.evalsched_alerts
    ADD COLUMN IF NOT EXISTS email_pending boolean,
    ADD COLUMN IF NOT EXISTS email_sent_at timestamptz,
    ADD COLUMN IF NOT EXISTS email_message_id text,
    ADD COLUMN IF NOT EXISTS email_error text,
    ADD COLUMN IF NOT EXISTS pending_integrations uuid[],
    ADD COLUMN IF NOT EXISTS some_failed boolean NOT NULL DEFAULT false;

-- An event queued by one supervisor is delivered by whichever has a
-- notifier free, at once: an insert wakes the supervisors that LISTEN.
-- Any role may LISTEN and NOTIFY, so the notification says nothing (an
-- empty payload, which PostgreSQL folds within a transaction), and a
-- supervisor takes it as a hint to look.
CREATE OR REPLACE FUNCTION public.evalsched_notify_alert()
RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('evalsched_alert', '');
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER evalsched_notify_alert
    AFTER INSERT ON public.evalsched_alerts
    FOR EACH ROW EXECUTE FUNCTION public.evalsched_notify_alert();

-- The alert_history rows of an event: one per webhook (webhook_id) and
-- at most one for the email alone (webhook_id NULL), each written when
-- its delivery first ends and updated by a later attempt, never added
-- twice.  A table of ours, as alert_history is the application's.
CREATE TABLE IF NOT EXISTS public.evalsched_alert_rows (
    history_id uuid PRIMARY KEY
        REFERENCES public.alert_history (id) ON DELETE CASCADE,
    alert_id uuid NOT NULL
        REFERENCES public.evalsched_alerts (id) ON DELETE CASCADE,
    webhook_id uuid
);
ALTER TABLE public.evalsched_alert_rows ENABLE ROW LEVEL SECURITY;

CREATE UNIQUE INDEX IF NOT EXISTS evalsched_alert_rows_once
    ON public.evalsched_alert_rows (alert_id, webhook_id) NULLS NOT DISTINCT;

-- Whether a channel of the owner's (the email, a webhook) has the type
-- of an event switched on, as the application's channels decide: its
-- toggle for a schedule's event, alert_<event> (a NULL one is off, as
-- JavaScript's !value has it), and on for a metric rule's, which has
-- none.  The email (evalsched_alert_email), the webhooks a delivery
-- takes (alerts.c) and those whose history row says they are off
-- (evalsched_alert_history) read it here.
CREATE OR REPLACE FUNCTION public.evalsched_type_on(event text,
    on_failed boolean, on_disabled boolean, on_regression boolean)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = ''
AS $$
    SELECT coalesce(CASE event
        WHEN 'scheduled_eval_failed' THEN on_failed
        WHEN 'scheduled_eval_disabled' THEN on_disabled
        WHEN 'scheduled_eval_regression' THEN on_regression
        ELSE true END, false)
$$;

-- An address the supervisor hands to the mail transfer agent as one
-- argument: one '@' with something on both sides, no white space,
-- control character, comma or quoting, not an option, and at most the
-- 254 bytes a mailbox may have.
CREATE OR REPLACE FUNCTION public.evalsched_email_ok(address text)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = ''
AS $$
    SELECT pg_catalog.octet_length(address) <= 254
        AND address ~ ('^[^-@,;:<>()"\\[:space:][:cntrl:]]'
            || '[^@,;:<>()"\\[:space:][:cntrl:]]*'
            || '@[^@,;:<>()"\\[:space:][:cntrl:]]+$')
$$;

-- The hour at `at` in zone tz as the application's isQuietHours reads
-- it: Intl.DateTimeFormat('en-US', {hour: 'numeric', hour12: false,
-- timeZone: tz || 'UTC'}) under Node.js, which prints the hour after
-- midnight as 24 (its hour cycle is h24), and in UTC when it does not
-- know the zone.  A zone is known when PostgreSQL knows it as a zone
-- (as TimeZone, never as an abbreviation); its POSIX-style
-- specifications ("UTC+5", "<+03>-3"), which JavaScript has no name
-- for, count as unknown.  The function's own TimeZone setting ends with
-- it.
CREATE OR REPLACE FUNCTION public.evalsched_quiet_hour(tz text,
    at timestamptz)
RETURNS integer LANGUAGE plpgsql VOLATILE
SET search_path = '' SET "TimeZone" = 'UTC' AS $$
DECLARE
    h integer;
BEGIN
    IF tz ~ '^[A-Za-z][A-Za-z0-9_/+-]*$'
        AND pg_catalog.lower(tz) NOT IN ('localtime', 'posixrules',
            'factory')
        AND (tz ~ '/' OR tz !~ '[0-9+-]'
            OR pg_catalog.upper(tz) IN ('EST5EDT', 'CST6CDT', 'MST7MDT',
                'PST8PDT')) THEN
        BEGIN
            PERFORM pg_catalog.set_config('TimeZone', tz, true);
        EXCEPTION WHEN invalid_parameter_value THEN
            NULL;	-- UTC, as the application falls back to
        END;
    END IF;
    h := pg_catalog.date_part('hour', at);
    RETURN CASE WHEN h = 0 THEN 24 ELSE h END;
END;
$$;

-- Whether the owner's email goes out for an event, decided as the
-- application's EmailChannel decides (lib/alerts/channels/
-- email.channel.ts), in its order: email_enabled (a missing
-- preferences row means the defaults: on), the type's toggle
-- (evalsched_type_on), quiet hours in the preference's time zone, then
-- the address: email_address, else the account's (auth.users), an empty
-- one being none.  A NULL email_enabled is off, as JavaScript's !value
-- has it.  skip: why not, in the
-- application's words ('Email disabled', 'Alert type EVENT disabled',
-- 'Quiet hours active', 'No email address'), or 'Invalid email address'
-- for one evalsched_email_ok refuses; NULL: send to address.  address
-- and address_error are the address alone, for a retry, whose decision
-- was made at its first attempt.
CREATE OR REPLACE FUNCTION public.evalsched_alert_email(uid uuid,
    event text, at timestamptz,
    OUT address text, OUT address_error text, OUT skip text)
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    p public.user_alert_preferences%ROWTYPE;
    h integer;
    qs integer;
    qe integer;
    quiet boolean;
BEGIN
    SELECT * INTO p FROM public.user_alert_preferences u
        WHERE u.user_id = uid LIMIT 1;
    IF NOT FOUND THEN
        p.email_enabled := true;
        p.alert_scheduled_eval_failed := true;
        p.alert_scheduled_eval_disabled := true;
        p.alert_scheduled_eval_regression := true;
        p.quiet_hours_enabled := false;
    END IF;
    address := coalesce(nullif(p.email_address, ''),
        (SELECT nullif(u.email::text, '') FROM auth.users u
         WHERE u.id = uid));
    IF address IS NULL THEN
        address_error := 'No email address';
    ELSIF NOT public.evalsched_email_ok(address) THEN
        address := NULL;
        address_error := 'Invalid email address';
    END IF;
    IF NOT coalesce(p.email_enabled, false) THEN
        skip := 'Email disabled';
    ELSIF NOT public.evalsched_type_on(event, p.alert_scheduled_eval_failed,
        p.alert_scheduled_eval_disabled, p.alert_scheduled_eval_regression)
    THEN
        skip := 'Alert type ' || event || ' disabled';
    ELSIF coalesce(p.quiet_hours_enabled, false) THEN
        -- JavaScript compares a null hour as 0.
        h := public.evalsched_quiet_hour(p.timezone, at);
        qs := coalesce(p.quiet_hours_start, 0);
        qe := coalesce(p.quiet_hours_end, 0);
        quiet := CASE WHEN qs <= qe THEN h >= qs AND h < qe
            ELSE h >= qs OR h < qe END;
        IF quiet THEN
            skip := 'Quiet hours active';
        END IF;
    END IF;
    skip := coalesce(skip, address_error);
END;
$$;

-- One alert_history row of event a, as the application's
-- logAlertHistory writes it: the event's words, the email's result as
-- it stands, and a webhook's (hook NULL: the row of the email alone).
CREATE OR REPLACE FUNCTION public.evalsched_history_row(
    a public.evalsched_alerts, hook uuid, sent boolean, status integer,
    error text)
RETURNS void LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
    hid uuid := pg_catalog.gen_random_uuid();
BEGIN
    INSERT INTO public.alert_history (id, user_id, alert_type, title,
        message, metadata, email_sent, email_sent_at, email_message_id,
        email_error, webhook_sent, webhook_sent_at, webhook_id,
        webhook_status_code, webhook_error)
    VALUES (hid, a.user_id, a.event, a.title, a.message,
        a.metadata::text::jsonb, a.email_sent_at IS NOT NULL,
        a.email_sent_at, a.email_message_id, a.email_error,
        coalesce(sent, false), CASE WHEN sent THEN now() END,
        (SELECT w.id FROM public.user_webhooks w WHERE w.id = hook),
        status, error);
    INSERT INTO public.evalsched_alert_rows (history_id, alert_id,
        webhook_id) VALUES (hid, a.id, hook);
END;
$$;

-- The alert_history rows of an attempt that answered, a the event as it
-- now stands.  A webhook's row is written when its delivery first ends,
-- failures included, and updated by each later attempt (a retry that
-- succeeds turns it into a success); at the first answer, an enabled
-- webhook whose toggle for the type is off gets the application's row
-- too ("Alert type EVENT disabled").  The email's result goes on every
-- row of the event, as the application puts it on each webhook's row;
-- with no webhook row, a row of the email alone says it, sent, failed or
-- skipped (the application skips that row when the owner has
-- integrations: their results are on user_integrations, and the email's
-- would be nowhere).
CREATE OR REPLACE FUNCTION public.evalsched_alert_history(
    a public.evalsched_alerts, hooks json, first_answer boolean)
RETURNS void LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
    x record;
BEGIN
    FOR x IN SELECT * FROM pg_catalog.json_to_recordset(hooks)
        AS r(id uuid, ok boolean, status_code integer, error text)
    LOOP
        UPDATE public.alert_history h SET webhook_sent = x.ok,
            webhook_sent_at = CASE WHEN x.ok THEN now() END,
            webhook_status_code = x.status_code, webhook_error = x.error
        FROM public.evalsched_alert_rows r
        WHERE r.alert_id = a.id AND r.webhook_id = x.id
          AND h.id = r.history_id;
        IF NOT FOUND THEN
            PERFORM public.evalsched_history_row(a, x.id, x.ok,
                x.status_code, x.error);
        END IF;
    END LOOP;
    IF first_answer AND a.event IN ('scheduled_eval_failed',
        'scheduled_eval_disabled', 'scheduled_eval_regression') THEN
        FOR x IN SELECT w.id FROM public.user_webhooks w
            WHERE w.user_id = a.user_id AND coalesce(w.enabled, false)
              AND NOT public.evalsched_type_on(a.event,
                  w.alert_scheduled_eval_failed,
                  w.alert_scheduled_eval_disabled,
                  w.alert_scheduled_eval_regression)
              AND NOT EXISTS (SELECT 1 FROM public.evalsched_alert_rows r
                  WHERE r.alert_id = a.id AND r.webhook_id = w.id)
            ORDER BY w.created_at, w.id
        LOOP
            PERFORM public.evalsched_history_row(a, x.id, false, NULL,
                'Alert type ' || a.event || ' disabled');
        END LOOP;
    END IF;
    IF (a.email_sent_at IS NOT NULL OR a.email_error IS NOT NULL)
        AND NOT EXISTS (SELECT 1 FROM public.evalsched_alert_rows r
            WHERE r.alert_id = a.id) THEN
        PERFORM public.evalsched_history_row(a, NULL, false, NULL, NULL);
    END IF;
    UPDATE public.alert_history h SET
        email_sent = a.email_sent_at IS NOT NULL,
        email_sent_at = a.email_sent_at,
        email_message_id = a.email_message_id, email_error = a.email_error
    FROM public.evalsched_alert_rows r
    WHERE r.alert_id = a.id AND h.id = r.history_id
      AND (h.email_sent, h.email_sent_at, h.email_message_id, h.email_error)
          IS DISTINCT FROM (a.email_sent_at IS NOT NULL, a.email_sent_at,
              a.email_message_id, a.email_error);
END;
$$;

-- What a delivery attempt of event aid, claimed by supervisor claimer,
-- came to.  hooks: the webhooks' results [{id, ok, status_code, error,
-- retry}], NULL when the notifier left no result (then whatever was
-- pending stays so); mail: the email's {ok, message_id, error, retry},
-- NULL when none was asked or none answered; integ: the integrations'
-- [{id, ok, error, retry}], '[]' when none was asked, NULL when none
-- answered; command_left: alert_command is still to run; attempt_error:
-- why the attempt as a whole failed; retry_s: alert_retry.  A delivery
-- that fails with retry false (a destination refused) is not tried
-- again; after retry_s from the event nothing is.  The owner's webhooks
-- and integrations keep their counters as the application keeps them:
-- user_webhooks' last_success_at, last_failure_at, failure_count;
-- user_integrations' last_sync_at, last_error, error_count (the
-- application's recordSuccess and recordError, with
-- increment_integration_error's count).  Returns the event's state and
-- its error, nothing when the event is no longer this claimer's.
CREATE OR REPLACE FUNCTION public.evalsched_alert_result(aid uuid,
    claimer uuid, hooks json, mail json, integ json, command_left boolean,
    attempt_error text, retry_s integer,
    OUT state text, OUT last_error text)
RETURNS SETOF record LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
    a public.evalsched_alerts%ROWTYPE;
    give_up boolean;
    first_answer boolean;
    left_hooks uuid[];
    left_integ uuid[];
    mail_error text;
BEGIN
    SELECT * INTO a FROM public.evalsched_alerts e
        WHERE e.id = aid AND e.claimed_by = claimer AND e.state = 'pending'
        FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    give_up := now() > a.created_at + retry_s * interval '1 second';
    first_answer := a.pending_webhooks IS NULL;

    IF hooks IS NOT NULL THEN
        UPDATE public.user_webhooks w SET last_success_at = now(),
            failure_count = 0
        FROM pg_catalog.json_to_recordset(hooks) AS x(id uuid, ok boolean)
        WHERE w.id = x.id AND x.ok;
        UPDATE public.user_webhooks w SET last_failure_at = now(),
            failure_count = coalesce(w.failure_count, 0) + 1
        FROM pg_catalog.json_to_recordset(hooks) AS x(id uuid, ok boolean)
        WHERE w.id = x.id AND NOT x.ok;
        left_hooks := ARRAY(SELECT x.id
            FROM pg_catalog.json_to_recordset(hooks)
                AS x(id uuid, ok boolean, retry boolean)
            WHERE NOT x.ok AND x.retry);
        a.some_failed := a.some_failed OR EXISTS (SELECT 1
            FROM pg_catalog.json_to_recordset(hooks)
                AS x(id uuid, ok boolean, retry boolean)
            WHERE NOT x.ok AND NOT x.retry);
    ELSE
        left_hooks := a.pending_webhooks;
    END IF;

    IF integ IS NOT NULL THEN
        UPDATE public.user_integrations i SET last_sync_at = now(),
            last_error = NULL, error_count = 0
        FROM pg_catalog.json_to_recordset(integ) AS x(id uuid, ok boolean)
        WHERE i.id = x.id AND x.ok;
        UPDATE public.user_integrations i
        SET last_error = coalesce(x.error, 'Delivery failed'),
            error_count = coalesce(i.error_count, 0) + 1
        FROM pg_catalog.json_to_recordset(integ)
            AS x(id uuid, ok boolean, error text)
        WHERE i.id = x.id AND NOT x.ok;
        left_integ := ARRAY(SELECT x.id
            FROM pg_catalog.json_to_recordset(integ)
                AS x(id uuid, ok boolean, retry boolean)
            WHERE NOT x.ok AND x.retry);
        a.some_failed := a.some_failed OR EXISTS (SELECT 1
            FROM pg_catalog.json_to_recordset(integ)
                AS x(id uuid, ok boolean, retry boolean)
            WHERE NOT x.ok AND NOT x.retry);
    ELSE
        left_integ := a.pending_integrations;
    END IF;

    IF a.email_pending AND mail IS NOT NULL THEN
        IF (mail ->> 'ok')::boolean THEN
            a.email_pending := false;
            a.email_sent_at := now();
            a.email_message_id := mail ->> 'message_id';
            a.email_error := NULL;
        ELSE
            mail_error := coalesce(mail ->> 'error', 'not sent');
            a.email_error := mail_error;
            IF NOT (mail ->> 'retry')::boolean THEN
                a.email_pending := false;
                a.some_failed := true;
            END IF;
        END IF;
    END IF;
    IF a.email_pending AND give_up THEN
        a.email_pending := false;
        a.email_error := coalesce(a.email_error, 'not sent');
        a.some_failed := true;
    END IF;
    -- Without a result, alert_command is as it was: it may have run.
    IF hooks IS NULL THEN
        command_left := coalesce(a.command_pending, true);
    END IF;

    state := CASE
        WHEN hooks IS NOT NULL AND pg_catalog.cardinality(left_hooks) = 0
            AND pg_catalog.cardinality(left_integ) = 0
            AND NOT a.email_pending AND NOT command_left
        THEN CASE WHEN a.some_failed THEN 'failed' ELSE 'delivered' END
        WHEN give_up THEN 'failed' ELSE 'pending' END;
    last_error := coalesce(attempt_error, pg_catalog.concat_ws('; ',
        (SELECT pg_catalog.string_agg(x.error, '; ')
         FROM pg_catalog.json_to_recordset(hooks)
             AS x(ok boolean, error text) WHERE NOT x.ok),
        (SELECT pg_catalog.string_agg(x.type || ': ' || x.error, '; ')
         FROM pg_catalog.json_to_recordset(integ)
             AS x(type text, ok boolean, error text) WHERE NOT x.ok),
        'email: ' || mail_error,
        CASE WHEN command_left THEN 'alert_command failed' END));
    last_error := nullif(last_error, '');

    UPDATE public.evalsched_alerts e SET
        pending_webhooks = left_hooks, pending_integrations = left_integ,
        command_pending = command_left, email_pending = a.email_pending,
        email_sent_at = a.email_sent_at,
        email_message_id = a.email_message_id,
        email_error = a.email_error, some_failed = a.some_failed,
        claimed_by = NULL, claimed_until = NULL,
        last_error = evalsched_alert_result.last_error,
        state = evalsched_alert_result.state,
        done_at = CASE WHEN evalsched_alert_result.state <> 'pending'
            THEN now() END,
        next_attempt_at = now() + least(interval '10 minutes',
            interval '5 seconds' * pg_catalog.power(2,
                least(e.attempts - 1, 10)))
    WHERE e.id = aid;
    IF hooks IS NOT NULL THEN
        PERFORM public.evalsched_alert_history(a, hooks, first_answer);
    END IF;
    RETURN NEXT;
END;
$$;

SET LOCAL check_function_bodies = on;

CREATE TABLE IF NOT EXISTS public.evalsched_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
ALTER TABLE public.evalsched_meta ENABLE ROW LEVEL SECURITY;
INSERT INTO public.evalsched_meta (key, value) VALUES ('schema_version', '7')
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;

-- The application's trigger functions that fire on our writes to its
-- schedules (its audit log, its cap of 50 active schedules per user)
-- name its tables without a schema, so they depend on the caller's
-- search_path; ours is empty, where they would find nothing.  Pin theirs
-- to what the application's own sessions see.  Only a function without a
-- pinned search_path of its own is touched.
DO $$
DECLARE
    fn pg_catalog.regprocedure;
BEGIN
    FOR fn IN SELECT p.oid::pg_catalog.regprocedure
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public'
          AND p.proname IN ('log_schedule_audit', 'check_schedule_limit')
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) c
                          WHERE c LIKE 'search\_path=%')
    LOOP
        EXECUTE pg_catalog.format(
            'ALTER FUNCTION %s SET search_path = public, pg_temp', fn);
    END LOOP;
END;
$$;

-- Counters Prometheus can trust (evalschedctl metrics).  A _total is a
-- running total kept here, added to by triggers in the same transaction
-- as the change it counts, and never lowered: run_retention and a
-- deleted schedule take rows away, not counts.  A scrape reads these
-- rows, not the history.  Each key has up to eight rows, one per shard
-- (the writing session's pid modulo 8), summed when read: supervisors
-- adding to the same key at once each lock their own row, not one row
-- for all.  Each statement adds to its keys in one INSERT, in key order.
--
--  name             k1              k2
--  runs             status          blame ('schedule', 'platform', '')
--  regressions
--  lag_bucket       upper bound ('0.005' ... '60', '+Inf'), not cumulative
--  lag_sum          (seconds)
--  alerts           event           state ('delivered', 'failed')
--  deliveries       result ('sent', 'failed')
--  rule_evaluations triggered ('true', 'false')
CREATE TABLE IF NOT EXISTS public.evalsched_counters (
    name text NOT NULL,
    k1 text NOT NULL DEFAULT '',
    k2 text NOT NULL DEFAULT '',
    shard integer NOT NULL,
    value numeric NOT NULL,
    PRIMARY KEY (name, k1, k2, shard)
);
ALTER TABLE public.evalsched_counters ENABLE ROW LEVEL SECURITY;

-- The upper bounds of evalsched_dispatch_lag_seconds's buckets.
CREATE OR REPLACE FUNCTION public.evalsched_lag_bounds()
RETURNS numeric[] LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = ''
AS $$
    SELECT '{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}'
        ::numeric[]
$$;

-- What runs add to the counters, by key, for the triggers below and the
-- seeding, the one place that says it: runs evalsched fired (slot_at
-- set), as they are (runs) and as they were before the statement that
-- wrote them (was; NULL: inserted, as the seeding counts the history).
-- An inserted run adds its dispatch lag; one whose status becomes
-- completed, failed or cancelled from anything else adds to runs, by
-- status and blame (a run a lost supervisor's jobrunner brings back,
-- evalsched-supervisor(8), counts again when it ends again); one whose
-- regression_detected becomes true, to regressions.  In key order, the
-- order writers lock the counters' rows in.
CREATE OR REPLACE FUNCTION public.evalsched_run_counts(
    runs public.scheduled_evaluation_runs[],
    was public.scheduled_evaluation_runs[])
RETURNS TABLE (name text, k1 text, k2 text, n numeric)
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT x.name, x.k1, x.k2, pg_catalog.sum(x.n)
    FROM pg_catalog.unnest(runs) r
    LEFT JOIN pg_catalog.unnest(was) o ON o.id = r.id
    CROSS JOIN (SELECT public.evalsched_lag_bounds() AS bounds) b
    -- A slot a user wrote as -infinity (fired at once) has no lag.
    CROSS JOIN LATERAL (SELECT CASE WHEN was IS NULL
            AND pg_catalog.isfinite(r.slot_at)
            AND pg_catalog.isfinite(r.triggered_at)
            THEN greatest(EXTRACT(epoch FROM r.triggered_at - r.slot_at), 0)
            END AS lag,
        r.status IN ('completed', 'failed', 'cancelled') AND (was IS NULL
            OR o.status NOT IN ('completed', 'failed', 'cancelled'))
            AS ended) l
    CROSS JOIN LATERAL (VALUES
        ('lag_bucket', coalesce((SELECT pg_catalog.min(u.b)
            FROM pg_catalog.unnest(b.bounds) AS u(b)
            WHERE l.lag <= u.b)::text, '+Inf'), '',
            CASE WHEN l.lag IS NOT NULL THEN 1::numeric END),
        ('lag_sum', '', '', l.lag),
        ('runs', r.status, CASE WHEN r.error_details ->> 'blame'
            IN ('schedule', 'platform') THEN r.error_details ->> 'blame'
            ELSE '' END, CASE WHEN l.ended THEN 1 END),
        ('regressions', '', '', CASE WHEN r.regression_detected
            AND NOT coalesce(o.regression_detected, false) THEN 1 END)
        ) AS x(name, k1, k2, n)
    WHERE r.slot_at IS NOT NULL AND x.n IS NOT NULL
      AND (was IS NULL OR o.id IS NOT NULL)
    GROUP BY x.name, x.k1, x.k2 ORDER BY x.name, x.k1, x.k2;
END;
$$;

-- Adds counts to the counters: each (names[i], k1s[i], k2s[i]) gains
-- ns[i] (NULL adds nothing), in a shard row of its own: the writing
-- session's of 8 (at_shard NULL), so that concurrent writers seldom wait
-- on one row, or the one given.  In key order, so that two writers
-- never wait on each other in turn.  A key must come once a call: the
-- callers group by it.  The one way counts are added, by every trigger
-- below and by the seeding.
CREATE OR REPLACE FUNCTION public.evalsched_counters_add(names text[],
    k1s text[], k2s text[], ns numeric[], at_shard integer DEFAULT NULL)
RETURNS void LANGUAGE sql VOLATILE SET search_path = '' AS $$
    INSERT INTO public.evalsched_counters AS c (name, k1, k2, shard, value)
    SELECT u.name, u.k1, u.k2,
        coalesce(at_shard, pg_catalog.pg_backend_pid() % 8), u.n
    FROM ROWS FROM (pg_catalog.unnest(names), pg_catalog.unnest(k1s),
        pg_catalog.unnest(k2s), pg_catalog.unnest(ns)) AS u(name, k1, k2, n)
    WHERE u.n IS NOT NULL
    ORDER BY u.name, u.k1, u.k2
    ON CONFLICT (name, k1, k2, shard)
        DO UPDATE SET value = c.value + EXCLUDED.value
$$;

-- What alert events add, for the triggers and the seeding alike: an
-- event counts once, when it ends (delivered, or failed once retries
-- ran out) and was not ended before (was[i]: its state before an
-- update, NULL for one inserted or seeded).
CREATE OR REPLACE FUNCTION public.evalsched_count_alert_rows(events text[],
    states text[], was text[], at_shard integer DEFAULT NULL)
RETURNS void LANGUAGE sql VOLATILE SET search_path = '' AS $$
    SELECT public.evalsched_counters_add(pg_catalog.array_agg('alerts'::text),
        pg_catalog.array_agg(x.event), pg_catalog.array_agg(x.state),
        pg_catalog.array_agg(x.n), at_shard)
    FROM (SELECT u.event, u.state, pg_catalog.count(*) AS n
        FROM ROWS FROM (pg_catalog.unnest(events),
            pg_catalog.unnest(states), pg_catalog.unnest(was))
            AS u(event, state, was)
        WHERE u.state IN ('delivered', 'failed')
          AND (u.was IS NULL OR u.was NOT IN ('delivered', 'failed'))
        GROUP BY u.event, u.state) x
$$;

-- What the application's alert_history adds: a delivery of a
-- scheduled_eval_* alert, ours or the application's, sent or failed.
CREATE OR REPLACE FUNCTION public.evalsched_count_delivery_rows(
    alert_types text[], sent boolean[], at_shard integer DEFAULT NULL)
RETURNS void LANGUAGE sql VOLATILE SET search_path = '' AS $$
    SELECT public.evalsched_counters_add(
        pg_catalog.array_agg('deliveries'::text), pg_catalog.array_agg(x.result),
        pg_catalog.array_agg(''::text), pg_catalog.array_agg(x.n), at_shard)
    FROM (SELECT CASE WHEN coalesce(u.sent, false) THEN 'sent'
            ELSE 'failed' END AS result, pg_catalog.count(*) AS n
        FROM ROWS FROM (pg_catalog.unnest(alert_types),
            pg_catalog.unnest(sent)) AS u(alert_type, sent)
        WHERE u.alert_type LIKE 'scheduled\_eval\_%'
        GROUP BY 1) x
$$;

-- What metric_alert_rule_evaluations adds: an evaluation evalsched
-- made, by whether it triggered.
CREATE OR REPLACE FUNCTION public.evalsched_count_rule_evaluation_rows(
    triggered boolean[], evaluated_by text[], at_shard integer DEFAULT NULL)
RETURNS void LANGUAGE sql VOLATILE SET search_path = '' AS $$
    SELECT public.evalsched_counters_add(
        pg_catalog.array_agg('rule_evaluations'::text),
        pg_catalog.array_agg(x.triggered), pg_catalog.array_agg(''::text),
        pg_catalog.array_agg(x.n), at_shard)
    FROM (SELECT u.triggered::text AS triggered, pg_catalog.count(*) AS n
        FROM ROWS FROM (pg_catalog.unnest(triggered),
            pg_catalog.unnest(evaluated_by)) AS u(triggered, evaluated_by)
        WHERE u.evaluated_by = 'evalsched'
        GROUP BY 1) x
$$;

-- Runs as its owner: whoever writes a run adds to the counters.  An
-- insert's runs are counted as new, an update's against what they were
-- (old_runs exists only for an update, so is read only then).
CREATE OR REPLACE FUNCTION public.evalsched_count_runs()
RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    was public.scheduled_evaluation_runs[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        was := (SELECT pg_catalog.array_agg(
            o::public.scheduled_evaluation_runs) FROM old_runs o);
    END IF;
    PERFORM public.evalsched_counters_add(pg_catalog.array_agg(x.name),
        pg_catalog.array_agg(x.k1), pg_catalog.array_agg(x.k2),
        pg_catalog.array_agg(x.n))
    FROM public.evalsched_run_counts((SELECT pg_catalog.array_agg(
        r::public.scheduled_evaluation_runs) FROM new_runs r), was) x;
    RETURN NULL;
END;
$$;

-- Statement triggers: one INSERT into the counters per statement,
-- however many runs it wrote.
CREATE OR REPLACE TRIGGER evalsched_count_runs_inserted
    AFTER INSERT ON public.scheduled_evaluation_runs
    REFERENCING NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION public.evalsched_count_runs();

CREATE OR REPLACE TRIGGER evalsched_count_runs_updated
    AFTER UPDATE ON public.scheduled_evaluation_runs
    REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION public.evalsched_count_runs();
-- Version 6's two functions, one for each trigger, are that one now.
DROP FUNCTION IF EXISTS public.evalsched_count_runs_inserted();
DROP FUNCTION IF EXISTS public.evalsched_count_runs_updated();

-- Alert events that ended: delivered, or failed once retries ran out.
CREATE OR REPLACE FUNCTION public.evalsched_count_alerts()
RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM public.evalsched_count_alert_rows(
            pg_catalog.array_agg(a.event), pg_catalog.array_agg(a.state),
            NULL)
        FROM new_alerts a;
    ELSE
        PERFORM public.evalsched_count_alert_rows(
            pg_catalog.array_agg(a.event), pg_catalog.array_agg(a.state),
            pg_catalog.array_agg(o.state))
        FROM new_alerts a JOIN old_alerts o ON o.id = a.id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER evalsched_count_alerts_inserted
    AFTER INSERT ON public.evalsched_alerts
    REFERENCING NEW TABLE AS new_alerts
    FOR EACH STATEMENT EXECUTE FUNCTION public.evalsched_count_alerts();

CREATE OR REPLACE TRIGGER evalsched_count_alerts_updated
    AFTER UPDATE ON public.evalsched_alerts
    REFERENCING OLD TABLE AS old_alerts NEW TABLE AS new_alerts
    FOR EACH STATEMENT EXECUTE FUNCTION public.evalsched_count_alerts();

-- Webhook deliveries of scheduled_eval_* alerts, the application's own
-- included, as alert_history records them (one row each, never
-- changed); and the evaluations of the metric alert rules evalsched
-- made.  The application's tables, where they exist.
CREATE OR REPLACE FUNCTION public.evalsched_count_deliveries()
RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM public.evalsched_count_delivery_rows(
        pg_catalog.array_agg(h.alert_type),
        pg_catalog.array_agg(h.webhook_sent))
    FROM new_history h;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION public.evalsched_count_rule_evaluations()
RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    PERFORM public.evalsched_count_rule_evaluation_rows(
        pg_catalog.array_agg(e.triggered),
        pg_catalog.array_agg(e.metadata ->> 'evaluated_by'))
    FROM new_evaluations e;
    RETURN NULL;
END;
$$;

DO $$
BEGIN
    IF pg_catalog.to_regclass('public.alert_history') IS NOT NULL THEN
        CREATE OR REPLACE TRIGGER evalsched_count_deliveries
            AFTER INSERT ON public.alert_history
            REFERENCING NEW TABLE AS new_history
            FOR EACH STATEMENT
            EXECUTE FUNCTION public.evalsched_count_deliveries();
    END IF;
    IF pg_catalog.to_regclass('public.metric_alert_rule_evaluations')
        IS NOT NULL THEN
        CREATE OR REPLACE TRIGGER evalsched_count_rule_evaluations
            AFTER INSERT ON public.metric_alert_rule_evaluations
            REFERENCING NEW TABLE AS new_evaluations
            FOR EACH STATEMENT
            EXECUTE FUNCTION public.evalsched_count_rule_evaluations();
    END IF;
END;
$$;

-- Seeded once, when the counters are new: from what the history holds
-- now.  The triggers above are in place and their tables locked until
-- this file commits, so that no change is counted twice or missed.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM public.evalsched_meta
               WHERE key = 'counters_seeded_at') THEN
        RETURN;
    END IF;
    -- Every run held, counted as if inserted now, a schedule's at a
    -- time.
    PERFORM public.evalsched_counters_add(pg_catalog.array_agg(x.name),
        pg_catalog.array_agg(x.k1), pg_catalog.array_agg(x.k2),
        pg_catalog.array_agg(x.n), 0)
    FROM (SELECT x.name, x.k1, x.k2, pg_catalog.sum(x.n) AS n
        FROM public.scheduled_evaluations s
        CROSS JOIN LATERAL public.evalsched_run_counts((SELECT
            pg_catalog.array_agg(r) FROM public.scheduled_evaluation_runs r
            WHERE r.scheduled_evaluation_id = s.id), NULL) x
        GROUP BY x.name, x.k1, x.k2) x;
    PERFORM public.evalsched_count_alert_rows(pg_catalog.array_agg(a.event),
        pg_catalog.array_agg(a.state), NULL, 0)
    FROM public.evalsched_alerts a;
    IF pg_catalog.to_regclass('public.alert_history') IS NOT NULL THEN
        PERFORM public.evalsched_count_delivery_rows(
            pg_catalog.array_agg(h.alert_type),
            pg_catalog.array_agg(h.webhook_sent), 0)
        FROM public.alert_history h;
    END IF;
    IF pg_catalog.to_regclass('public.metric_alert_rule_evaluations')
        IS NOT NULL THEN
        PERFORM public.evalsched_count_rule_evaluation_rows(
            pg_catalog.array_agg(e.triggered),
            pg_catalog.array_agg(e.metadata ->> 'evaluated_by'), 0)
        FROM public.metric_alert_rule_evaluations e;
    END IF;
    INSERT INTO public.evalsched_meta (key, value)
    VALUES ('counters_seeded_at', pg_catalog.to_char(
        now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
END;
$$;

-- Monitoring without the supervisor's rights (evalschedctl(8),
-- MONITORING).  The tables are closed by row-level security and by
-- grants; evalschedctl status and metrics read them through these
-- functions alone, which run as their owner, change nothing, and return
-- what those commands print: schedule names and ids, supervisors and
-- their circuits, backoffs and their reasons, counts; never a run's
-- results, an alert or a key.  Only evalsched_monitor may execute them
-- (the end of this file grants it every evalsched_monitor_ function):
-- grant it to the login role that monitoring uses (GRANT
-- evalsched_monitor TO prometheus).  Creating the role needs CREATEROLE;
-- without it, a warning says so and nothing is granted until this file
-- is applied again by a role that has it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                   WHERE rolname = 'evalsched_monitor') THEN
        CREATE ROLE evalsched_monitor NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'evalsched: cannot create the role evalsched_monitor '
        '(%): monitoring (evalschedctl(8), MONITORING) needs it; apply '
        'this file again as a role with CREATEROLE', SQLERRM;
END;
$$;

-- A supervisor is live while it has not stopped, has not been declared
-- lost, and its heartbeat is younger than its lease.
CREATE OR REPLACE FUNCTION public.evalsched_live(stopped timestamptz,
    lost timestamptz, heartbeat timestamptz, lease integer)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE SET search_path = '' AS $$
    SELECT stopped IS NULL AND lost IS NULL
        AND heartbeat > now() - lease * interval '1 second'
$$;

CREATE OR REPLACE FUNCTION public.evalsched_epoch(t timestamptz)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = ''
AS $$ SELECT pg_catalog.floor(EXTRACT(epoch FROM t))::bigint $$;

-- status: the supervisors not known to be gone, the live and the
-- expired; paused: live with its circuit open.
CREATE OR REPLACE FUNCTION public.evalsched_monitor_supervisors()
RETURNS TABLE (id uuid, node text, pid integer, version text,
    running integer, max_concurrent integer, lease_seconds integer,
    started_at bigint, heartbeat_at bigint, live boolean,
    circuit_open_since bigint, circuit_reason text, paused boolean,
    refused_since bigint, refusal text, refused boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT p.id, p.node, p.pid, p.version, p.running, p.max_concurrent,
        p.lease_seconds, public.evalsched_epoch(p.started_at),
        public.evalsched_epoch(p.heartbeat_at), l.live,
        public.evalsched_epoch(p.circuit_open_since), p.circuit_reason,
        l.live AND p.circuit_open_since IS NOT NULL,
        public.evalsched_epoch(p.refused_since), p.refusal,
        l.live AND p.refused_since IS NOT NULL
    FROM public.evalsched_supervisors p
    CROSS JOIN LATERAL (SELECT public.evalsched_live(p.stopped_at,
        p.lost_at, p.heartbeat_at, p.lease_seconds) AS live) l
    WHERE p.stopped_at IS NULL AND p.lost_at IS NULL
    ORDER BY p.node, p.started_at
$$;

-- status: the runs in flight; stuck: triggered for longer than lease,
-- and its supervisor not live or the run past run_timeout plus lease.
CREATE OR REPLACE FUNCTION public.evalsched_monitor_in_flight(lease integer,
    run_timeout integer)
RETURNS TABLE (id uuid, name text, timezone text, triggered_at bigint,
    node text, pid integer, stuck boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT r.id, s.name, s.timezone, public.evalsched_epoch(r.triggered_at),
        p.node, p.pid,
        r.triggered_at < now() - lease * interval '1 second' AND (
            p.id IS NULL OR NOT public.evalsched_live(p.stopped_at,
                p.lost_at, p.heartbeat_at, p.lease_seconds)
            OR r.triggered_at < now()
                - (lease + run_timeout) * interval '1 second')
    FROM public.scheduled_evaluation_runs r
    JOIN public.scheduled_evaluations s ON s.id = r.scheduled_evaluation_id
    LEFT JOIN public.evalsched_supervisors p ON p.id = r.supervisor_id
    WHERE r.status = 'triggered'
    ORDER BY r.triggered_at, r.id
$$;

-- status: active schedules due for longer than poll_interval with no
-- run in flight; one waiting on its own backoff (or out of it for less
-- than poll_interval) is not late.  The first lim, and how many in all.
CREATE OR REPLACE FUNCTION public.evalsched_monitor_overdue(
    poll_interval integer, lim integer)
RETURNS TABLE (id uuid, name text, timezone text, next_run_at bigint,
    total bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT s.id, s.name, s.timezone, public.evalsched_epoch(s.next_run_at),
        pg_catalog.count(*) OVER ()
    FROM public.scheduled_evaluations s
    WHERE s.is_active
      AND s.next_run_at < now() - poll_interval * interval '1 second'
      AND NOT EXISTS (SELECT 1 FROM public.scheduled_evaluation_runs r
        WHERE r.scheduled_evaluation_id = s.id AND r.status = 'triggered')
      AND NOT EXISTS (SELECT 1 FROM public.evalsched_backoffs b
        WHERE b.scheduled_evaluation_id = s.id
          AND b.not_before > now() - poll_interval * interval '1 second')
    ORDER BY s.next_run_at, s.id LIMIT lim
$$;

-- status: active schedules waiting out a backoff of their own.
CREATE OR REPLACE FUNCTION public.evalsched_monitor_backoffs(lim integer)
RETURNS TABLE (id uuid, name text, timezone text, failures integer,
    reason text, not_before bigint, total bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT s.id, s.name, s.timezone, b.failures, b.reason,
        public.evalsched_epoch(b.not_before), pg_catalog.count(*) OVER ()
    FROM public.evalsched_backoffs b
    JOIN public.scheduled_evaluations s ON s.id = b.scheduled_evaluation_id
    WHERE s.is_active AND b.not_before > now()
    ORDER BY b.not_before, s.id LIMIT lim
$$;

-- status: evalsched's runs whose batch test is later than
-- completion_timeout.
CREATE OR REPLACE FUNCTION public.evalsched_monitor_slow_runs(
    completion_timeout integer, lim integer)
RETURNS TABLE (id uuid, name text, timezone text, batch_test_run_id uuid,
    started_at bigint, total bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT r.id, s.name, s.timezone, r.batch_test_run_id,
        public.evalsched_epoch(r.started_at), pg_catalog.count(*) OVER ()
    FROM public.scheduled_evaluation_runs r
    JOIN public.scheduled_evaluations s ON s.id = r.scheduled_evaluation_id
    WHERE r.status = 'running' AND r.slot_at IS NOT NULL
      AND r.started_at < now() - completion_timeout * interval '1 second'
    ORDER BY r.started_at, r.id LIMIT lim
$$;

-- status: the active schedules, the batch tests under way, and what
-- run_retention last pruned, as the pruning supervisor recorded it (a
-- value that does not read as it should is taken as not recorded).
CREATE OR REPLACE FUNCTION public.evalsched_monitor_counts()
RETURNS TABLE (active bigint, under_way bigint, pruned_at bigint,
    pruned_runs bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT (SELECT pg_catalog.count(*) FROM public.scheduled_evaluations s
            WHERE s.is_active),
        (SELECT pg_catalog.count(*) FROM public.scheduled_evaluation_runs r
            WHERE r.status = 'running' AND r.slot_at IS NOT NULL),
        public.evalsched_epoch((SELECT m.value FROM public.evalsched_meta m
            WHERE m.key = 'history_pruned_at'
              AND m.value ~ '^\d{4}-\d\d-\d\d')::timestamptz),
        (SELECT m.value FROM public.evalsched_meta m
            WHERE m.key = 'history_pruned_runs'
              AND m.value ~ '^\d{1,18}$')::bigint
$$;

-- metrics: rows of (family, suffix, ord, k1, v1, k2, v2, value), a
-- label kN printed when it is not NULL, ord ordering a histogram's
-- series.  The counters are summed over their shards; the gauges read
-- what is in flight, due, pending or live, through indexes that hold
-- only those: nothing here grows with the history.  Series with known
-- label values are always there, at 0 when nothing matches.
CREATE OR REPLACE FUNCTION public.evalsched_monitor_metrics()
RETURNS TABLE (family text, suffix text, ord integer, k1 text, v1 text,
    k2 text, v2 text, value text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    WITH c AS (SELECT c.name, c.k1, c.k2, pg_catalog.sum(c.value) AS n
        FROM public.evalsched_counters c GROUP BY c.name, c.k1, c.k2),
    runs AS (SELECT c.k1 AS status, c.k2 AS blame, c.n FROM c
        WHERE c.name = 'runs'),
    known (status, blame) AS (VALUES ('completed', ''), ('failed', ''),
        ('failed', 'schedule'), ('failed', 'platform'), ('cancelled', '')),
    le AS (SELECT u.i::integer AS i, u.bound
        FROM pg_catalog.unnest(public.evalsched_lag_bounds()
            || NULL::numeric) WITH ORDINALITY AS u(bound, i)),
    lag AS (SELECT CASE WHEN c.k1 <> '+Inf' THEN c.k1::numeric END
            AS bound, c.n
        FROM c WHERE c.name = 'lag_bucket'),
    -- The events of evalsched_alerts_event_check.
    events (event) AS (VALUES ('scheduled_eval_failed'),
        ('scheduled_eval_disabled'), ('scheduled_eval_regression'),
        ('trace_latency_high'), ('trace_error_rate_high'),
        ('trace_cost_high'), ('trace_throughput_low'), ('trace_ttft_high'),
        ('anomaly_critical')),
    due AS (SELECT s.next_run_at FROM public.scheduled_evaluations s
        WHERE s.is_active AND s.next_run_at <= now() AND NOT EXISTS (
            SELECT 1 FROM public.scheduled_evaluation_runs f
            WHERE f.scheduled_evaluation_id = s.id
              AND f.status = 'triggered' AND f.slot_at IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM public.evalsched_backoffs b
            WHERE b.scheduled_evaluation_id = s.id
              AND b.not_before > now())),
    sched AS (SELECT pg_catalog.count(*) FILTER (WHERE s.is_active) AS active,
            pg_catalog.count(*) FILTER (WHERE s.is_active IS NOT TRUE
                AND s.evalsched_disabled_at IS NOT NULL) AS auto_disabled,
            pg_catalog.count(*) FILTER (WHERE s.is_active IS NOT TRUE
                AND s.evalsched_disabled_at IS NULL) AS paused
        FROM public.scheduled_evaluations s),
    live AS (SELECT p.node, p.circuit_open_since
        FROM public.evalsched_supervisors p
        WHERE public.evalsched_live(p.stopped_at, p.lost_at, p.heartbeat_at,
            p.lease_seconds))
    SELECT 'evalsched_runs_total', NULL, 0, 'status', status, 'blame',
        blame, coalesce(runs.n, 0)::text
    FROM known FULL JOIN runs USING (status, blame)
    UNION ALL SELECT 'evalsched_runs_in_flight', NULL, 0, NULL, NULL, NULL,
        NULL, pg_catalog.count(*)::text
    FROM public.scheduled_evaluation_runs r
    WHERE r.status = 'triggered' AND r.slot_at IS NOT NULL
    UNION ALL SELECT 'evalsched_runs_awaiting_completion', NULL, 0, NULL,
        NULL, NULL, NULL, pg_catalog.count(*)::text
    FROM public.scheduled_evaluation_runs r
    WHERE r.status = 'running' AND r.slot_at IS NOT NULL
    UNION ALL SELECT 'evalsched_regressions_total', NULL, 0, NULL, NULL,
        NULL, NULL, coalesce((SELECT pg_catalog.sum(c.n) FROM c
            WHERE c.name = 'regressions'), 0)::text
    UNION ALL SELECT 'evalsched_dispatch_lag_seconds', '_bucket', le.i, 'le',
        coalesce(le.bound::text, '+Inf'), NULL, NULL,
        coalesce((SELECT pg_catalog.sum(lag.n) FROM lag
            WHERE le.bound IS NULL OR lag.bound <= le.bound), 0)::text
    FROM le
    UNION ALL SELECT 'evalsched_dispatch_lag_seconds', '_sum', 100, NULL,
        NULL, NULL, NULL, coalesce((SELECT pg_catalog.sum(c.n) FROM c
            WHERE c.name = 'lag_sum'), 0)::text
    UNION ALL SELECT 'evalsched_dispatch_lag_seconds', '_count', 101, NULL,
        NULL, NULL, NULL, coalesce((SELECT pg_catalog.sum(lag.n)
            FROM lag), 0)::text
    UNION ALL SELECT 'evalsched_due_schedules', NULL, 0, NULL, NULL, NULL,
        NULL, pg_catalog.count(*)::text FROM due
    UNION ALL SELECT 'evalsched_oldest_due_seconds', NULL, 0, NULL, NULL,
        NULL, NULL, greatest(EXTRACT(epoch FROM
            now() - pg_catalog.min(due.next_run_at)), 0)::text FROM due
    UNION ALL SELECT 'evalsched_schedules', NULL, 0, 'state', k.state, NULL,
        NULL, k.n::text
    FROM sched CROSS JOIN LATERAL (VALUES ('active', sched.active),
        ('paused', sched.paused), ('auto_disabled', sched.auto_disabled))
        AS k(state, n)
    UNION ALL SELECT 'evalsched_supervisors_live', NULL, 0, NULL, NULL,
        NULL, NULL, pg_catalog.count(*)::text FROM live
    UNION ALL SELECT 'evalsched_circuit_open', NULL, 0, 'node', live.node,
        NULL, NULL, (pg_catalog.count(live.circuit_open_since) > 0)::integer
            ::text
    FROM live GROUP BY live.node
    UNION ALL SELECT 'evalsched_circuit_open_seconds', NULL, 0, 'node',
        live.node, NULL, NULL, greatest(EXTRACT(epoch FROM
            now() - pg_catalog.min(live.circuit_open_since)), 0)::text
    FROM live GROUP BY live.node
    UNION ALL SELECT 'evalsched_alerts_total', NULL, 0, 'event', e.event,
        'state', k.state, coalesce((SELECT c.n FROM c WHERE c.name = 'alerts'
            AND c.k1 = e.event AND c.k2 = k.state), 0)::text
    FROM events e CROSS JOIN (VALUES ('delivered'), ('failed')) k(state)
    UNION ALL SELECT 'evalsched_alerts_pending', NULL, 0, 'event', e.event,
        NULL, NULL, pg_catalog.count(a.id)::text
    FROM events e LEFT JOIN public.evalsched_alerts a
        ON a.event = e.event AND a.state = 'pending'
    GROUP BY e.event
    UNION ALL SELECT 'evalsched_alert_deliveries_total', NULL, 0, 'result',
        k.result, NULL, NULL, coalesce((SELECT c.n FROM c
            WHERE c.name = 'deliveries' AND c.k1 = k.result), 0)::text
    FROM (VALUES ('sent'), ('failed')) k(result)
    UNION ALL SELECT 'evalsched_metric_rule_evaluations_total', NULL, 0,
        'triggered', k.t, NULL, NULL, coalesce((SELECT c.n FROM c
            WHERE c.name = 'rule_evaluations' AND c.k1 = k.t), 0)::text
    FROM (VALUES ('true'), ('false')) k(t)
$$;

-- Closed to the public roles, whatever this file (or a later version of
-- it) added: every evalsched table gets row-level security with no
-- policy, so that a role granted privileges on it by Supabase's default
-- privileges still sees and changes no row, and those privileges are
-- revoked as well; no evalsched function is executable by them.  The
-- supervisor's role is the tables' owner, or is given what it needs by
-- grants.sql and bypasses row-level security or has the policies of
-- policies.sql (evalsched-supervisor(8), "Database role").  Applied
-- again, this file revokes no grant of that role.  PUBLIC stands for
-- every role; anon and authenticated exist only in a Supabase database.
-- Trigger functions need no EXECUTE of whoever fires them.
DO $$
DECLARE
    obj record;
    public_roles text := 'PUBLIC';
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'anon') THEN
        public_roles := public_roles || ', anon';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
               WHERE rolname = 'authenticated') THEN
        public_roles := public_roles || ', authenticated';
    END IF;
    FOR obj IN SELECT c.oid::pg_catalog.regclass AS name
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname LIKE 'evalsched\_%'
          AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
    LOOP
        IF (SELECT c.relkind FROM pg_catalog.pg_class c
            WHERE c.oid = obj.name) IN ('r', 'p') THEN
            EXECUTE pg_catalog.format(
                'ALTER TABLE %s ENABLE ROW LEVEL SECURITY', obj.name);
        END IF;
        EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s', obj.name,
            public_roles);
    END LOOP;
    FOR obj IN SELECT p.oid::pg_catalog.regprocedure AS name
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proname LIKE 'evalsched\_%'
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM %s',
            obj.name, public_roles);
    END LOOP;
END;
$$;

-- Monitoring: evalsched_monitor may execute the evalsched_monitor_
-- functions, and nothing else of ours.
DO $$
DECLARE
    fn pg_catalog.regprocedure;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                   WHERE rolname = 'evalsched_monitor') THEN
        RETURN;
    END IF;
    GRANT USAGE ON SCHEMA public TO evalsched_monitor;
    FOR fn IN SELECT p.oid::pg_catalog.regprocedure
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prosecdef
          AND p.proname LIKE 'evalsched\_monitor\_%'
    LOOP
        EXECUTE pg_catalog.format(
            'GRANT EXECUTE ON FUNCTION %s TO evalsched_monitor', fn);
    END LOOP;
END;
$$;

COMMIT;
