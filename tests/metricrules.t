# Metric alert rules, on the application's schema: every enabled rule of
# metric_alert_rules is evaluated over its user's llm_traces with the
# application's worker's arithmetic, on the columns the application has
# (model_name, operation_type, cost_usd, input_tokens + output_tokens,
# ttft_ms; anomalies from anomaly_detections).  One evaluation row per
# rule and evaluation, also without traces; a disabled rule is not
# evaluated; the cooldown as the worker keeps it; alerts of the worker's
# types, titles and messages, to every enabled webhook of the user when
# the rule asks for webhooks.  Two supervisors evaluate each rule once a
# minute.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json);
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;

my $A = $t->add_user;		# traces of every kind
my $B = $t->add_user;		# twenty latencies, for the percentiles
my $C = $t->add_user;		# no traces at all

# A trace $ago seconds old.
sub trace {
	my ($user, $ago, %c) = @_;
	my %row = (user_id => $user, trace_id => 't' . rand(), span_id => 's',
	    span_name => 'llm.completion', start_time => 'now()',
	    operation_type => 'completion', %c);
	my @k = sort keys %row;
	$t->sql(sprintf "INSERT INTO llm_traces (%s, created_at) VALUES (%s, "
	    . "now() - interval '%d seconds')", join(', ', @k),
	    join(', ', map { !defined $row{$_} ? 'NULL' : $row{$_} eq 'now()'
	    ? 'now()' : Evalsched::Test::quote($row{$_}) } @k), $ago);
}

#        duration ttft  cost   in    out   total status    model    operation
my @A = ([120,    30,   0.002, 10,   5,    15,   'success', 'gpt-a', 'completion'],
	 [80,     0,    0.001, 20,   10,   30,   'error',   'gpt-a', 'completion'],
	 [300,    45,   undef, undef, undef, 50,  'success', 'gpt-b', 'completion'],
	 [0,      60,   0.004, 5,    undef, 5,   'failed',  'gpt-a', 'embedding'],
	 [undef,  undef, 0,    0,    0,    0,    'pending', 'gpt-b', 'completion'],
	 [450,    15,   0.010, 100,  50,   150,  'success', 'gpt-a', 'completion']);
for my $r (@A) {
	my %c;
	@c{qw(duration_ms ttft_ms cost_usd input_tokens output_tokens total_tokens
	    status model_name operation_type)} = @$r;
	trace($A, 60, %c);
}
# Out of the window: it does not count; nor do B's traces for A.
trace($A, 600, duration_ms => 9999, status => 'error');
trace($C, 900, duration_ms => 5000);
trace($B, 30, duration_ms => 10 * $_) for 1 .. 20;

# Anomalies of A: high (gpt-a) and critical (gpt-b) in the window, low
# before it.
$t->sql("INSERT INTO anomaly_detections (user_id, anomaly_type, severity, "
    . "model_id, statistics, detected_at) VALUES "
    . "('$A', 'sudden_spike', 'high', 'gpt-a', "
    . "'{\"operation_type\": \"completion\"}', now() - interval '1 minute'), "
    . "('$A', 'iqr_outlier', 'critical', 'gpt-b', '{}', "
    . "now() - interval '2 minutes'), "
    . "('$A', 'sudden_drop', 'low', 'gpt-a', '{}', "
    . "now() - interval '20 minutes')");

my %rule;
sub rule {
	my ($name, $user, $metric, $agg, $op, $threshold, %c) = @_;
	my %row = (rule_name => $name, user_id => $user, metric_type => $metric,
	    aggregation_method => $agg, comparison_operator => $op,
	    threshold_value => $threshold, %c);
	my @k = sort keys %row;
	$rule{$name} = $t->sql_value(sprintf "INSERT INTO metric_alert_rules "
	    . "(%s) VALUES (%s) RETURNING id", join(', ', @k),
	    join(', ', map { Evalsched::Test::quote($row{$_}) } @k));
	return $rule{$name};
}

# Hand-computed.  Latency values of A (zero and missing dropped): 120,
# 80, 300, 450.  ttft: 30, 45, 60, 15.  Cost: 0.002, 0.001, 0.004, 0.010.
# Tokens: 15, 30, 50 (total_tokens: no input or output), 5, 150 (the 0
# is dropped).  Six samples, two of them 'error' or 'failed'.
my %want = (
	'lat avg' => [qw(latency avg 237.5)], 'lat max' => [qw(latency max 450)],
	'lat min' => [qw(latency min 80)], 'lat sum' => [qw(latency sum 950)],
	'lat count' => [qw(latency count 4)], 'lat p50' => [qw(latency p50 120)],
	'lat p95' => [qw(latency p95 450)], 'lat p99' => [qw(latency p99 450)],
	'ttft avg' => [qw(ttft avg 37.5)], 'ttft p50' => [qw(ttft p50 30)],
	'ttft min' => [qw(ttft min 15)],
	'cost sum' => [qw(cost sum 0.017)], 'cost avg' => [qw(cost avg 0.00425)],
	'cost max' => [qw(cost max 0.01)],
	'tok sum' => [qw(token_usage sum 250)], 'tok avg' => [qw(token_usage avg 50)],
	'tok p50' => [qw(token_usage p50 30)], 'tok p95' => [qw(token_usage p95 150)],
	'tok count' => [qw(token_usage count 5)],
	'tok min' => [qw(token_usage min 5)],
	'errors' => ['error_rate', 'p99', 100 * 2 / 6],
	'throughput' => [qw(throughput min 6)],
	'anomaly max' => [qw(anomaly_severity max 4)],
	'anomaly avg' => [qw(anomaly_severity avg 3.5)],
	'anomaly count' => [qw(anomaly_severity count 2)],
);
rule($_, $A, @{ $want{$_} }[0, 1], '>', 1000000) for sort keys %want;
# Twenty latencies 10..200: the ceil(N/100 * 20)-th smallest.
my %pct = ('B p50' => ['p50', 100], 'B p95' => ['p95', 190],
    'B p99' => ['p99', 200], 'B min' => ['min', 10]);
rule($_, $B, 'latency', $pct{$_}[0], '>', 1000000) for sort keys %pct;
# Filters on the application's columns.
my %filtered = (
	'model gpt-a' => [[qw(latency avg)], model_filter => 'gpt-a', 650 / 3],
	'op embedding' => [[qw(throughput avg)], operation_filter => 'embedding', 1],
	'status success' => [[qw(latency sum)], status_filter => 'success', 870],
	'errors gpt-a' => [[qw(error_rate avg)], model_filter => 'gpt-a', 50],
	'anomaly gpt-a' => [[qw(anomaly_severity max)], model_filter => 'gpt-a', 3],
	'anomaly op' => [[qw(anomaly_severity sum)], operation_filter => 'completion', 3],
	'no such model' => [[qw(latency max)], model_filter => 'gpt-z', 0],
);
for my $n (sort keys %filtered) {
	my ($ma, $col, $val) = @{ $filtered{$n} };
	rule($n, $A, @$ma, '>', 1000000, $col => $val);
}
# The six operators, on a throughput of 6.
my %ops = ('>' => [5, 't'], '<' => [6, 'f'], '>=' => [6, 't'],
    '<=' => [5, 'f'], '==' => [6, 't'], '!=' => [6, 'f']);
rule("op $_", $A, 'throughput', 'avg', $_, $ops{$_}[0],
    cooldown_minutes => 0) for sort keys %ops;
# No traces: a row, value 0, not triggered (even under "<").
rule('empty', $C, 'throughput', 'count', '<', 5);
rule('disabled', $A, 'latency', 'max', '>', 1, enabled => 'false');
# Alerts: a webhook rule, token usage, and the cooldown.
rule('slow', $A, 'latency', 'p95', '>', 400, notify_webhooks => 'true');
rule('tokens', $A, 'token_usage', 'sum', '>', 99.50);
rule('cooling', $A, 'error_rate', 'avg', '>', 30, cooldown_minutes => 30,
    last_triggered_at => $t->sql_value("SELECT now() - interval '5 minutes'"),
    trigger_count => 3);
rule('cooled', $A, 'error_rate', 'avg', '>', 30, cooldown_minutes => 30,
    last_triggered_at => $t->sql_value("SELECT now() - interval '31 minutes'"),
    trigger_count => 3);

my $start = time;
my @pass = $t->sql("SELECT rule_name, alerted FROM "
    . "evalsched_evaluate_metric_rules(1000)");
my $enabled = $t->sql_value("SELECT count(*) FROM metric_alert_rules WHERE enabled");
is(scalar(@pass), $enabled, "one pass evaluates every enabled rule ($enabled)");
is(scalar($t->sql("SELECT * FROM evalsched_evaluate_metric_rules(1000)")), 0,
    'a second pass in the same minute evaluates none');

# Each rule's evaluation rows: value, sample count, triggered, metadata.
sub evals {
	my ($name) = @_;
	return $t->sql("SELECT metric_value, sample_count, triggered, "
	    . "metadata::text, threshold_value, time_window_end - time_window_start, "
	    . "user_id FROM metric_alert_rule_evaluations WHERE rule_id = '$rule{$name}'");
}

sub near { abs($_[0] - $_[1]) < 1e-9 * (1 + abs($_[1])) }

for my $n (sort keys %want) {
	my @e = evals($n);
	is(scalar(@e), 1, "$n: one evaluation row");
	ok(near($e[0][0], $want{$n}[2]), "$n: $e[0][0] is $want{$n}[2]");
	is($e[0][1], 6, "$n: six samples");
}
for my $n (sort keys %pct) {
	my @e = evals($n);
	is($e[0][0] + 0, $pct{$n}[1], "$n: the ceil(N/100 n)-th smallest of twenty");
	is($e[0][1], 20, "$n: twenty samples");
}
for my $n (sort keys %filtered) {
	my @e = evals($n);
	ok(near($e[0][0], $filtered{$n}[3]), "$n: $e[0][0] is $filtered{$n}[3]");
}
is((evals('op embedding'))[0][1], 1, 'operation_type filters the samples');
is((evals('status success'))[0][1], 3, 'status filters the samples');
is((evals('no such model'))[0][1], 0, 'a model filter that matches nothing: no samples');
for my $op (sort keys %ops) {
	is((evals("op $op"))[0][2], $ops{$op}[1], "6 $op $ops{$op}[0]: triggered $ops{$op}[1]");
}

my @empty = evals('empty');
is(scalar(@empty), 1, 'no traces: an evaluation row all the same');
is_deeply([@{ $empty[0] }[0 .. 2]], [0, 0, 'f'], 'no traces: value 0, no samples, not triggered');
like($empty[0][3], qr/"no_value": "no trace in the window/, 'and its metadata says why');
is($empty[0][4] + 0, 5, 'the threshold is recorded');
is($empty[0][5], '00:05:00', 'the window is time_window_minutes long');
is($empty[0][6], $C, 'the row is the rule\'s user\'s');
like((evals('anomaly count'))[0][3], qr/"value_count": 2/, 'the values counted are recorded');
like((evals('lat avg'))[0][3], qr/"metric_type": "latency"/, 'metadata names the metric');
is(scalar(evals('disabled')), 0, 'a disabled rule is not evaluated');

# Alerts, as the worker words them.
sub alert {
	my ($name) = @_;
	my @a = $t->sql("SELECT event, title, message, metadata::text, "
	    . "pending_webhooks::text, scheduled_evaluation_id FROM evalsched_alerts "
	    . "WHERE metric_rule_id = '$rule{$name}'");
	return @a;
}
my @slow = alert('slow');
is(scalar(@slow), 1, 'a triggered rule makes one alert');
is($slow[0][0], 'trace_latency_high', 'latency: trace_latency_high');
is($slow[0][1], 'Metric Alert: slow', "the worker's title");
is($slow[0][2], 'latency (p95) is 450.00 > threshold 400', "the worker's message");
my $md = decode_json($slow[0][3]);
is_deeply([map { $md->{$_} } qw(rule_id rule_name metric_type metric_value
    threshold_value comparison_operator aggregation_method time_window_minutes
    sample_count model_filter)], [$rule{slow}, 'slow', 'latency', 450, 400, '>',
    'p95', 5, 6, undef], "the worker's metadata");
like($md->{time_window_start}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    'the window in ISO 8601');
like($slow[0][3], qr/^\{"rule_id" : .*"operation_filter" : null, "status_filter"/,
    "the worker's keys first, in its order");
ok(!defined $slow[0][4], 'a rule with notify_webhooks: every webhook');
my @tok = alert('tokens');
is($tok[0][0], 'trace_latency_high', "token usage keeps the worker's type");
is($tok[0][2], 'token_usage (sum) is 250.00 > threshold 99.5',
    'the threshold as the worker prints it');
is(decode_json($tok[0][3])->{metric_type}, 'token_usage', 'metadata says what it is');
is($tok[0][4], '{}', 'a rule without notify_webhooks: no webhook');
is(scalar(alert('cooling')), 0, 'in its cooldown: no alert');
is((evals('cooling'))[0][2], 't', 'in its cooldown: triggered all the same');
like((evals('cooling'))[0][3], qr/"cooldown": true/, 'and the row says so');
is_deeply([$t->sql("SELECT trigger_count, last_triggered_at < now() - interval '4 minutes' "
    . "FROM metric_alert_rules WHERE id = '$rule{cooling}'")], [[3, 't']],
    'in its cooldown: no count, last_triggered_at kept');
my @cooled = alert('cooled');
is($cooled[0][0], 'trace_error_rate_high', 'error_rate: trace_error_rate_high');
is($cooled[0][2], 'error_rate (avg) is 33.33 > threshold 30', 'two decimals');
is($t->sql_value("SELECT trigger_count FROM metric_alert_rules "
    . "WHERE id = '$rule{cooled}'"), 4, 'out of its cooldown: counted');
ok($t->sql_value("SELECT last_triggered_at > now() - interval '1 minute' "
    . "FROM metric_alert_rules WHERE id = '$rule{cooled}'") eq 't',
    'and last_triggered_at is now');
is($t->sql_value("SELECT count(*) FROM evalsched_alerts a JOIN metric_alert_rules r "
    . "ON r.id = a.metric_rule_id WHERE r.threshold_value = 1000000"), 0,
    'a rule that does not trigger makes no alert');
is_deeply([map { $_->[0] } $t->sql("SELECT DISTINCT event FROM evalsched_alerts "
    . "ORDER BY 1")], [qw(trace_error_rate_high trace_latency_high trace_throughput_low)],
    'the worker\'s types');
diag sprintf 'arithmetic cases: %d s', time - $start;

# --- two supervisors, once a minute --------------------------------------

$t->sql("UPDATE metric_alert_rules SET enabled = false");
my $hport = $t->start_receiver;
my $D = $t->add_user;
$t->sql("INSERT INTO user_webhooks (user_id, name, url) VALUES "
    . "('$D', 'hook', 'http://127.0.0.1:$hport/hook/hook'), "
    . "('$D', 'off', 'http://127.0.0.1:$hport/hook/off')");
$t->sql("UPDATE user_webhooks SET enabled = false WHERE name = 'off'");
trace($D, 10, duration_ms => 100) for 1 .. 3;
my @many = map { rule("many $_", $D, 'throughput', 'count', '>', 0,
    cooldown_minutes => 0, notify_webhooks => 'true') } 1 .. 40;

for my $name (qw(one two)) {
	$t->start_supervisor(name => $name, wait_ready => 0, config =>
	    $t->write_config(poll_interval => 2, webhook_allow => '127.0.0.1/32'));
}
$t->wait_log(qr/\bready\b/, 30, $_) or BAIL_OUT("$_ not ready") for qw(one two);

# The evaluation rows of the "many" rules, per rule and minute.
sub per_minute {
	return $t->sql("SELECT date_trunc('minute', e.evaluated_at) AS m, "
	    . "count(*), count(DISTINCT e.rule_id) FROM metric_alert_rule_evaluations e "
	    . "JOIN metric_alert_rules r ON r.id = e.rule_id "
	    . "WHERE r.rule_name LIKE 'many %' GROUP BY 1 ORDER BY 1");
}
ok($t->wait_until(sub { my @m = per_minute(); @m && $m[0][2] == 40 }, 15),
    'the supervisors evaluate the rules at start-up');
my $first = (per_minute())[0][0];
# The next minute by the database's clock.
my $wait = $t->sql_value("SELECT ceil(extract(epoch FROM date_trunc('minute', now()) "
    . "+ interval '1 minute' - now()))");
ok($t->wait_until(sub { per_minute() >= 2 && (per_minute())[1][2] == 40 }, $wait + 15),
    'and again at the turn of the minute');
sleep 2;	# stragglers, were there any
my @m = per_minute();
is_deeply([map { [$_->[1], $_->[2]] } @m[0, 1]], [[40, 40], [40, 40]],
    'two supervisors: each rule once per minute');
is($t->sql_value("SELECT count(*) FROM evalsched_alerts a JOIN metric_alert_rules r "
    . "ON r.id = a.metric_rule_id WHERE r.rule_name LIKE 'many %'"), 80,
    'an alert per rule and minute (no cooldown)');
is($t->sql_value("SELECT min(trigger_count) || ' ' || max(trigger_count) "
    . "FROM metric_alert_rules WHERE rule_name LIKE 'many %'"), '2 2',
    'each counted once per minute');
# One notifier at a time for a user: the eighty go one after the other,
# each a sanitized notifier, slow on a busy machine.
ok($t->wait_until(sub { $t->received('hook') >= 80 }, 90),
    'the alerts reach the user\'s enabled webhook');
my @got = $t->received('hook');
is(scalar(@got), 80, 'each once');
my $body = decode_json($got[0]{body});
is($body->{type}, 'trace_throughput_low', 'throughput: trace_throughput_low');
like($body->{title}, qr/^Metric Alert: many \d+$/, 'with its title');
is($body->{message}, 'throughput (count) is 3.00 > threshold 0', 'and message');
is(scalar($t->received('off')), 0, 'a disabled webhook hears nothing');
# A delivery's history row is written when it has ended, after the
# receiver has it.
my $HISTORY = "SELECT count(*) FROM alert_history WHERE alert_type = "
    . "'trace_throughput_low' AND webhook_sent";
$t->wait_until(sub { $t->sql_value($HISTORY) >= 80 }, 10);
is($t->sql_value($HISTORY), 80, 'alert_history has the deliveries');
ok($t->count_log(qr/metric rule "many \d+" .* triggered/, 'one')
    + $t->count_log(qr/metric rule "many \d+" .* triggered/, 'two') == 80,
    'the supervisors log each triggered rule');
is($t->sql_value("SELECT count(*) FROM evalsched_metric_slots s JOIN metric_alert_rules r "
    . "ON r.id = s.rule_id WHERE r.rule_name LIKE 'many %'"), 40, 'one slot per rule');

$t->stop_supervisor($_) for qw(one two);
diag sprintf 'total: %d s', time - $start;
done_testing;
