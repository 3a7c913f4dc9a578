/*
 * The application's tables evalsched reads and writes, with what it
 * does to each: read from the SQL of the supervisor, evalschedctl and
 * the functions of schema-additions.sql that run with the caller's
 * rights, and from the application's triggers that fire on those
 * writes.  A grant on a column rather than a table is for a table that
 * is the application's alone, where evalsched keeps a count or two.
 * Foreign keys are checked with their tables' owner's rights, and
 * evalsched's SECURITY DEFINER triggers with their own owner's: neither
 * asks anything of the role.  Every key is a uuid: no sequence.
 */
#include "grants.h"

const struct grant_need grant_needs[] = {
	{ "public.scheduled_evaluations", "SELECT, INSERT, UPDATE", NULL, 0,
	    "next_run_at, last_run_at, last_run_status, last_run_id, "
	    "consecutive_failures, is_active, evalsched_disabled_at, "
	    "evalsched_disabled_reason",
	    "The schedules: claimed and advanced, the ends of their runs "
	    "recorded, disabled after failures; evalschedctl add, pause, "
	    "resume and trigger." },
	{ "public.scheduled_evaluation_runs", "SELECT, INSERT, UPDATE, DELETE",
	    NULL, 0, "status, evalsched_rev",
	    "A run for each slot fired, written as it goes; deleted when it "
	    "was never dispatched, and by run_retention." },
	{ "public.scheduled_evaluation_audit", "INSERT", NULL, 1, NULL,
	    "The application's audit trigger, log_schedule_audit, writes a "
	    "row here as whoever changes a schedule: without it every claim "
	    "fails.  evalsched reads none." },
	{ "public.batch_test_runs", "SELECT", NULL, 0, NULL,
	    "How each run's batch test ended." },
	{ "public.conversations", "SELECT", NULL, 0, NULL,
	    "A batch test's results: its latency and quality." },
	{ "public.messages", "SELECT", NULL, 0, NULL,
	    "A batch test's results: its latency and quality." },
	{ "public.judgments", "SELECT", NULL, 0, NULL,
	    "A batch test's results: its latency and quality." },
	{ "public.user_webhooks", "SELECT", NULL, 0, NULL,
	    "The webhooks an alert goes to." },
	{ "public.user_webhooks", "UPDATE",
	    "last_success_at, last_failure_at, failure_count", 0,
	    "last_success_at, last_failure_at, failure_count",
	    "Each delivery's end, as the application keeps it." },
	{ "public.alert_history", "SELECT, INSERT", NULL, 0, NULL,
	    "A row for each delivery; evalschedctl metrics counts them." },
	{ "public.alert_history", "UPDATE", "email_sent, email_sent_at, "
	    "email_message_id, email_error, webhook_sent, webhook_sent_at, "
	    "webhook_status_code, webhook_error", 0, NULL,
	    "A delivery's row, written when it first ends, updated when a "
	    "retry gets through." },
	{ "public.user_alert_preferences", "SELECT", NULL, 0, NULL,
	    "Whether and where an owner is told by e-mail." },
	{ "public.user_integrations", "SELECT", NULL, 0, NULL,
	    "The integrations an alert goes to." },
	{ "public.user_integrations", "UPDATE",
	    "last_sync_at, last_error, error_count", 0,
	    "last_sync_at, last_error, error_count",
	    "Each delivery's end, as the application keeps it." },
	{ "auth.users", "SELECT", "id, email", 0, NULL,
	    "An owner's address, where their alert preferences give none." },
	{ "public.llm_traces", "SELECT", NULL, 1, NULL,
	    "The samples of the metric alert rules." },
	{ "public.metric_alert_rules", "SELECT", NULL, 1, NULL,
	    "The metric alert rules, evaluated each minute." },
	{ "public.metric_alert_rules", "UPDATE",
	    "last_triggered_at, trigger_count", 1,
	    "last_triggered_at, trigger_count",
	    "A rule's last alert, as the application's worker kept it." },
	{ "public.metric_alert_rule_evaluations", "SELECT, INSERT, DELETE",
	    NULL, 1, NULL,
	    "A row for each rule and minute; pruned by run_retention." },
	{ "public.anomaly_detections", "SELECT", NULL, 1, NULL,
	    "The anomalies anomaly_severity rules count." },
};

const size_t grant_nneeds = sizeof(grant_needs) / sizeof(grant_needs[0]);
