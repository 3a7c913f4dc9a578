-- evalsched's additions to the application's scheduling tables.  Only
-- additive: new nullable columns, new indexes, new tables, a trigger.  The
-- application's tables, triggers and row-level security stay as they are.
-- Applying this twice is harmless.  Schema version 1.

BEGIN;

-- Serialize concurrent applications of this file.
SELECT pg_advisory_xact_lock(7310431602);

-- Supervisors register here and renew their heartbeat by the database
-- clock.  One without a heartbeat for lease_seconds is presumed dead and
-- its in-flight runs are closed by a live one.
CREATE TABLE IF NOT EXISTS evalsched_supervisors (
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

CREATE INDEX IF NOT EXISTS evalsched_supervisors_live
    ON evalsched_supervisors (heartbeat_at)
    WHERE stopped_at IS NULL AND lost_at IS NULL;

-- The slot a run fires (the next_run_at it was claimed for), and the
-- supervisor that owns it while it is in flight.
ALTER TABLE scheduled_evaluation_runs
    ADD COLUMN IF NOT EXISTS slot_at timestamptz,
    ADD COLUMN IF NOT EXISTS supervisor_id uuid;

-- A slot fires once, whatever the number of supervisors.
CREATE UNIQUE INDEX IF NOT EXISTS evalsched_runs_slot_key
    ON scheduled_evaluation_runs (scheduled_evaluation_id, slot_at)
    WHERE slot_at IS NOT NULL;

-- Runs in flight: small, and what claiming and lease recovery look at.
CREATE INDEX IF NOT EXISTS evalsched_runs_in_flight
    ON scheduled_evaluation_runs (scheduled_evaluation_id, supervisor_id)
    WHERE status = 'triggered';

-- Due schedules, oldest first: the claim reads only what is due.
CREATE INDEX IF NOT EXISTS evalsched_schedules_due
    ON scheduled_evaluations (next_run_at, id) WHERE is_active;

-- Wake the supervisors when a schedule becomes due sooner than they
-- think: inserted, re-timed earlier, enabled or triggered.  A constant
-- payload lets PostgreSQL fold the notifications of one transaction.
CREATE OR REPLACE FUNCTION evalsched_notify_wakeup()
RETURNS trigger LANGUAGE plpgsql AS $$
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
    ON scheduled_evaluations
    FOR EACH ROW EXECUTE FUNCTION evalsched_notify_wakeup();

CREATE TABLE IF NOT EXISTS evalsched_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO evalsched_meta (key, value) VALUES ('schema_version', '1')
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;

COMMIT;
