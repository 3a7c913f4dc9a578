# run_retention: runs older than the retention are deleted soon after
# start-up, in batches, never a run in flight, a run named as another's
# baseline, or a schedule's latest completed run with results (its next
# baseline); run_retention = 0 keeps everything; evalschedctl status says
# when history was last pruned, and the counters of evalschedctl metrics
# lose nothing of what was pruned.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test qw(uuid);

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
my $ctl = Evalsched::Test::bin('evalschedctl');

my $busy = $t->add_schedule(name => 'busy', next_run_at => \"now() + interval '1 hour'");
my $kept = $t->add_schedule(name => 'baselines', next_run_at => \"now() + interval '1 hour'");

# 2,500 failed runs of 40 days ago and 10 recent ones.
$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, status, "
    . "triggered_at, slot_at, evalsched_rev) SELECT '$busy', 'failed', "
    . "now() - interval '40 days' - i * interval '1 minute', "
    . "now() - interval '40 days' - i * interval '1 minute', 0 "
    . "FROM generate_series(1, 2500) i");
$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, status, "
    . "triggered_at) SELECT '$busy', 'completed', now() - i * interval '1 hour' "
    . "FROM generate_series(1, 10) i");

# Old runs that must stay: one in flight, one named as a baseline, and the
# schedule's latest completed run with results (there is no newer one).
my ($running, $named, $latest, $older) = map { uuid() } 1 .. 4;
$t->sql("INSERT INTO scheduled_evaluation_runs (id, scheduled_evaluation_id, status, "
    . "triggered_at, total_prompts, regression_detected) VALUES "
    . "('$running', '$kept', 'running', now() - interval '50 days', 0, false), "
    . "('$named', '$kept', 'completed', now() - interval '48 days', 5, false), "
    . "('$older', '$kept', 'completed', now() - interval '47 days', 5, false), "
    . "('$latest', '$kept', 'completed', now() - interval '46 days', 5, false), "
    . "(gen_random_uuid(), '$kept', 'completed', now() - interval '45 days', 5, true)");
$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, status, "
    . "triggered_at, baseline_run_id) VALUES ('$kept', 'failed', now(), '$named')");

# A metric alert rule's evaluation rows: 1,500 of 40 days ago (more than
# a batch) and 5 recent ones.
my $owner = $t->add_user;
my $rule = $t->sql_value("INSERT INTO metric_alert_rules (user_id, rule_name, "
    . "metric_type, threshold_value, comparison_operator, aggregation_method, "
    . "enabled) VALUES ('$owner', 'r', 'latency', 1, '>', 'avg', false) RETURNING id");
$t->sql("INSERT INTO metric_alert_rule_evaluations (rule_id, user_id, metric_value, "
    . "threshold_value, triggered, time_window_start, time_window_end, evaluated_at) "
    . "SELECT '$rule', '$owner', 0, 1, false, now(), now(), now() - "
    . "CASE WHEN i <= 1500 THEN interval '40 days' ELSE interval '1 hour' END "
    . "- i * interval '1 minute' FROM generate_series(1, 1505) i");
sub evaluations { $t->sql_value('SELECT count(*) FROM metric_alert_rule_evaluations') }

sub total { $t->sql_value('SELECT count(*) FROM scheduled_evaluation_runs') }
my $before = total();

# Alerts delivered long ago, which a round deletes with the runs.
$t->sql("INSERT INTO evalsched_alerts (event, user_id, title, message, state, "
    . "created_at) SELECT 'scheduled_eval_failed', '$owner', 't', 'm', "
    . "'delivered', now() - interval '40 days' FROM generate_series(1, 3)");

# The value of a series in evalschedctl metrics.
sub metric {
	my ($conf, $series) = @_;
	my $out = `$ctl -c $conf metrics 2>&1`;
	return $out =~ /^\Q$series\E (\S+)$/m ? $1 : "none in: $out";
}
my $FAILED = 'evalsched_runs_total{status="failed",blame=""}';
my $ALERTS = 'evalsched_alerts_total{event="scheduled_eval_failed",'
    . 'state="delivered"}';
my $LAGS = 'evalsched_dispatch_lag_seconds_count';

# run_retention = 0 (the default) keeps everything.
my $conf0 = $t->write_config;
$t->start_supervisor(config => $conf0);
my $out = `$ctl -c $conf0 status 2>&1`;
like($out, qr/history: kept in full \(run_retention = 0\)/, 'status: history kept in full');
sleep 6.5;
is(total(), $before, 'run_retention = 0: nothing deleted');
is(evaluations(), 1505, 'run_retention = 0: no metric rule evaluation deleted');
$t->stop_supervisor;

my $conf = $t->write_config(run_retention => 30);
$out = `$ctl -c $conf status 2>&1`;
like($out, qr/history: not pruned yet/, 'status: not pruned yet');
my %counted = map { ($_ => metric($conf, $_)) } $FAILED, $ALERTS, $LAGS;
is_deeply(\%counted, { $FAILED => 2500, $ALERTS => 3, $LAGS => 2500 },
    'metrics: the runs and alerts before pruning are counted');
$t->start_supervisor(config => $conf);
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM evalsched_meta "
    . "WHERE key = 'history_pruned_at'") == 1 }, 60),
    'a round of pruning ends within a minute of start-up') or diag $t->supervisor_log;
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
    . "WHERE scheduled_evaluation_id = '$busy'"), 10, 'the 2,500 old runs are gone, the recent ones kept');
is($t->sql_value("SELECT value FROM evalsched_meta WHERE key = 'history_pruned_runs'"),
    2502, 'the round counted what it deleted');
is(evaluations(), 5, 'the old metric rule evaluations are gone, the recent ones kept');
like($t->supervisor_log, qr/history pruned: 1500 metric rule evaluation\(s\) older than 30 day/,
    'and the log says so');
my %left = map { $_->[0] => 1 } $t->sql("SELECT id FROM scheduled_evaluation_runs "
    . "WHERE scheduled_evaluation_id = '$kept'");
ok($left{$running}, 'a run in flight is kept');
ok($left{$named}, 'a run named as a baseline is kept');
ok($left{$latest}, 'the latest completed run with results is kept (the next baseline)');
ok(!$left{$older}, 'an older completed run is deleted');
is(scalar(keys %left), 4, 'the regression and the older run went; the rest stayed');
ok($t->wait_log(qr/history pruned: 2502 run\(s\) older than 30 day\(s\) deleted/, 5),
    'the round is logged');
$out = `$ctl -c $conf status 2>&1`;
like($out, qr/history: last pruned .*2502 runs deleted; run_retention 30 days/,
    'status: when history was last pruned') or diag $out;
is($t->sql_value("SELECT count(*) FROM evalsched_alerts"), 0,
    'the old alerts are gone too');
is_deeply({ map { ($_ => metric($conf, $_)) } keys %counted }, \%counted,
    'metrics: no counter went down');

# A second supervisor within the hour leaves it alone.
$t->stop_supervisor;
$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, status, triggered_at) "
    . "VALUES ('$busy', 'failed', now() - interval '40 days')");
$t->start_supervisor(config => $conf);
sleep 6.5;
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
    . "WHERE scheduled_evaluation_id = '$busy'"), 11, 'pruned within the hour: not again');
is($t->stop_supervisor >> 8, 0, 'clean exit');

done_testing;
