#!/usr/bin/perl
# evalschedctl metrics: the output is the Prometheus text exposition
# format, as a small parser here reads it (every line a comment, blank or
# a sample; every sample's family with HELP and TYPE; histogram buckets
# cumulative up to le="+Inf" = _count), and its numbers are those of the
# database, for rows inserted by SQL.  Its counters are running totals:
# a change of a run or an alert counts once, deleting rows (as
# run_retention does) lowers none, a database from before them is
# seeded from its history once, and two sessions counting at once
# neither wait for each other nor lose a count.  The etc/ samples for
# node_exporter's textfile collector write a whole file, atomically.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evalsched::Test;
use File::Basename qw(dirname);
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use Test::More;

$ENV{TZ} = 'UTC';
my $t = Evalsched::Test->new;
$t->start_pg;
my $conf = $t->write_config;
my $ctl = Evalsched::Test::bin('evalschedctl');
my $top = Evalsched::Test::top();

sub ctl { $t->ctl(@_) }

# --- the exposition format -------------------------------------------------

my $NAME = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $FLOAT = qr/[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|Inf|NaN)/;
my %UNESCAPE = ('\\' => '\\', '"' => '"', n => "\n");

# The labels of a sample, "{a="x",b="y"}", as a hash; undef if malformed.
sub parse_labels {
	my ($text) = @_;
	my %l;
	return \%l if !defined $text || $text eq '{}';
	pos($text) = 1;
	while ($text =~ /\G([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"([,}])/gc) {
		my ($k, $v, $end) = ($1, $2, $3);
		return undef if exists $l{$k};
		$v =~ s/\\([\\"n])/$UNESCAPE{$1}/g;
		$l{$k} = $v;
		return pos($text) == length($text) ? \%l : undef if $end eq '}';
	}
	return undef;
}

# The family a sample belongs to, given the TYPE lines seen.
sub family_of {
	my ($name, $type) = @_;
	return $1 if $name =~ /^(.+)_(?:bucket|sum|count)$/
	    && ($type->{$1} // '') eq 'histogram';
	return $name;
}

sub series_key {
	my ($s) = @_;
	return join "\0", $s->{name}, map { "$_=$s->{labels}{$_}" }
	    sort keys %{ $s->{labels} };
}

# Histograms: per series (labels but le), buckets in increasing le,
# cumulative, the last le="+Inf" equal to _count, and a _sum.
sub check_histograms {
	my ($type, $samples, $err) = @_;
	for my $fam (grep { $type->{$_} eq 'histogram' } sort keys %$type) {
		my (%buckets, %count, %sum);
		for my $s (grep { family_of($_->{name}, $type) eq $fam } @$samples) {
			my %l = %{ $s->{labels} };
			my $le = delete $l{le};
			my $key = join "\0", map { "$_=$l{$_}" } sort keys %l;
			if ($s->{name} eq "${fam}_bucket") {
				push @$err, "$fam: a bucket without le"
				    unless defined $le;
				push @{ $buckets{$key} }, [$le, $s->{value}];
			} elsif ($s->{name} eq "${fam}_count") {
				$count{$key} = $s->{value};
			} elsif ($s->{name} eq "${fam}_sum") {
				$sum{$key} = $s->{value};
			} else {
				push @$err, "$fam: a sample named $s->{name}";
			}
		}
		for my $key (sort keys %buckets) {
			my @b = @{ $buckets{$key} };
			push @$err, "$fam: no _sum" unless defined $sum{$key};
			push @$err, "$fam: the last bucket is not +Inf"
			    unless $b[-1][0] eq '+Inf';
			push @$err, "$fam: +Inf is not _count" unless
			    defined $count{$key} && $b[-1][1] == $count{$key};
			for my $i (1 .. $#b) {
				my ($p, $c) = ($b[$i - 1], $b[$i]);
				my $cle = $c->[0] eq '+Inf' ? 9**9**9 : $c->[0];
				push @$err, "$fam: le $c->[0] after $p->[0]"
				    unless $cle > $p->[0];
				push @$err, "$fam: le $c->[0] counts less than "
				    . "le $p->[0]" unless $c->[1] >= $p->[1];
			}
		}
	}
}

# Parses a document; returns (\%type, \%help, \@samples, \@errors).
sub parse_exposition {
	my ($text) = @_;
	my (%help, %type, @samples, @err, %seen, %done, $cur);
	push @err, 'the last line has no newline'
	    if $text ne '' && $text !~ /\n\z/;
	my $n = 0;
	for my $line (split /\n/, $text) {
		$n++;
		next if $line eq '';
		if ($line =~ /^#\s*HELP\s+($NAME)\s(.*)$/) {
			push @err, "line $n: a second HELP for $1"
			    if exists $help{$1};
			$help{$1} = $2;
		} elsif ($line =~ /^#\s*TYPE\s+($NAME)\s+(counter|gauge|histogram|summary|untyped)$/) {
			push @err, "line $n: a second TYPE for $1"
			    if exists $type{$1};
			push @err, "line $n: TYPE for $1 after its samples"
			    if $done{$1} || (defined $cur && $cur eq $1);
			$type{$1} = $2;
		} elsif ($line =~ /^#/) {
			push @err, "line $n: a malformed HELP or TYPE"
			    if $line =~ /^#\s*(?:HELP|TYPE)\b/;
		} elsif ($line =~ /^($NAME)(\{.*\})?[ \t]+($FLOAT)(?:[ \t]+-?\d+)?$/) {
			my ($name, $value) = ($1, $3);
			my $labels = parse_labels($2);
			if (!defined $labels) {
				push @err, "line $n: malformed labels: $line";
				next;
			}
			my $s = { name => $name, labels => $labels,
			    value => $value, line => $n };
			my $fam = family_of($name, \%type);
			push @err, "line $n: $fam has no HELP"
			    unless exists $help{$fam};
			push @err, "line $n: $fam has no TYPE"
			    unless exists $type{$fam};
			if (!defined $cur || $cur ne $fam) {
				push @err, "line $n: $fam is not all in one "
				    . "group" if $done{$fam};
				$done{$cur} = 1 if defined $cur;
				$cur = $fam;
			}
			push @err, "line $n: a second series $line"
			    if $seen{ series_key($s) }++;
			push @samples, $s;
		} else {
			push @err, "line $n: neither a comment, blank, nor a "
			    . "sample: $line";
		}
	}
	check_histograms(\%type, \@samples, \@err);
	return (\%type, \%help, \@samples, \@err);
}

# The parser itself, on good and bad documents.
{
	my $good = <<'EOT';
# HELP a_total Things.
# TYPE a_total counter
a_total{x="q\"\\\n",y=""} 3
a_total 1e3

# TYPE h histogram
# HELP h Lag.
h_bucket{le="0.5"} 1
h_bucket{le="+Inf"} 2
h_sum 0.7
h_count 2
EOT
	my ($type, $help, $s, $err) = parse_exposition($good);
	is_deeply($err, [], 'parser: a good document');
	is_deeply($s->[0]{labels}, { x => "q\"\\\n", y => '' },
	    'parser: label values unescaped');
	my @bad = (
	    ["a 1\n", qr/has no HELP/],
	    ["# HELP a A.\n# TYPE a gauge\na{x=\"1\"\n", qr/neither/],
	    ["# HELP a A.\n# TYPE a gauge\na{x=\"\\t\"} 1\n", qr/malformed labels/],
	    ["# HELP a A.\n# TYPE a gauge\na 1\na 2\n", qr/second series/],
	    ["# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
	     . "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
	     qr/counts less/],
	    ["# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
	     . "h_sum 1\nh_count 1\n", qr/not \+Inf/],
	    ["# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
	     . "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n",
	     qr/\+Inf is not _count/],
	);
	for my $b (@bad) {
		my (undef, undef, undef, $e) = parse_exposition($b->[0]);
		like(join("\n", @$e), $b->[1], "parser: refuses $b->[1]");
	}
}

# --- command line ----------------------------------------------------------

{
	my @r = ctl('-c', $conf, 'metrics', 'extra');
	is_deeply(\@r, [64, '', "usage: evalschedctl metrics\n"],
	    'metrics with an operand: usage');
	@r = ctl('-h');
	like($r[1], qr/^  metrics\b.*Prometheus text format/m,
	    'the usage lists metrics');
	my $down = $t->write_config(database =>
	    'host=' . $t->dir . '/nosock user=postgres');
	@r = ctl('-c', $down, 'metrics');
	is($r[0], 69, 'database unreachable: 69');
	is($r[1], '', '... and nothing on stdout');
	like($r[2], qr/^evalschedctl: database: /, '... libpq says why');
}

# Runs metrics with a config; parses; returns (output, samples, types).
sub metrics {
	my ($config, @opt) = @_;
	my @r = ctl('-c', $config // $conf, @opt, 'metrics');
	is($r[0], 0, 'metrics: exit 0') or diag $r[2];
	is($r[2], '', '... nothing on stderr');
	my ($type, $help, $s, $err) = parse_exposition($r[1]);
	is_deeply($err, [], '... the output is the exposition format')
	    or diag $r[1];
	return ($r[1], $s, $type, $help);
}

# The value of the sample with exactly these labels; undef if none.
sub value {
	my ($samples, $name, %labels) = @_;
	my $want = series_key({ name => $name, labels => \%labels });
	my @m = grep { series_key($_) eq $want } @$samples;
	return @m ? $m[0]{value} : undef;
}

# The samples of a name, as { "k=v,k=v" => value }.
sub by_labels {
	my ($samples, $name) = @_;
	return { map { my $s = $_; (join(',', map { "$_=$s->{labels}{$_}" }
	    sort keys %{ $s->{labels} }) => $s->{value} + 0) }
	    grep { $_->{name} eq $name } @$samples };
}

my @FAMILIES = qw(evalsched_runs_total evalsched_runs_in_flight
    evalsched_runs_awaiting_completion evalsched_regressions_total
    evalsched_dispatch_lag_seconds evalsched_due_schedules
    evalsched_oldest_due_seconds evalsched_schedules
    evalsched_supervisors_live evalsched_circuit_open
    evalsched_circuit_open_seconds evalsched_alerts_total
    evalsched_alerts_pending evalsched_alert_deliveries_total
    evalsched_metric_rule_evaluations_total);
my @EVENTS = qw(scheduled_eval_disabled scheduled_eval_failed
    scheduled_eval_regression trace_latency_high trace_error_rate_high
    trace_cost_high trace_throughput_low trace_ttft_high anomaly_critical);

# --- an empty database -------------------------------------------------------

{
	my ($out, $s, $type) = metrics();
	is_deeply([sort keys %$type], [sort @FAMILIES],
	    'empty: every family has its HELP and TYPE');
	like($out, qr/^# TYPE evalsched_runs_total counter$/m,
	    '... counters are counters');
	like($out, qr/^# TYPE evalsched_dispatch_lag_seconds histogram$/m,
	    '... the lag a histogram');
	for my $f (grep { /_total$/ } @FAMILIES) {
		is($type->{$f}, 'counter', "... $f is a counter");
	}
	is_deeply(by_labels($s, 'evalsched_runs_total'), {
	    'blame=,status=completed' => 0, 'blame=,status=failed' => 0,
	    'blame=schedule,status=failed' => 0,
	    'blame=platform,status=failed' => 0,
	    'blame=,status=cancelled' => 0 },
	    '... the known outcomes are there at 0');
	is_deeply(by_labels($s, 'evalsched_schedules'), { 'state=active' => 0,
	    'state=paused' => 0, 'state=auto_disabled' => 0 },
	    '... every schedule state at 0');
	is(scalar(grep { $_->{name} eq 'evalsched_alerts_total' } @$s), 18,
	    '... alerts: 9 events (the schedules\' and the metric rules\') '
	    . 'x 2 states');
	is_deeply(by_labels($s, 'evalsched_metric_rule_evaluations_total'),
	    { 'triggered=true' => 0, 'triggered=false' => 0 },
	    '... rule evaluations, triggered or not, at 0');
	is_deeply([map { $_->{labels}{le} } grep {
	    $_->{name} eq 'evalsched_dispatch_lag_seconds_bucket' } @$s],
	    [qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60 +Inf)],
	    '... the lag buckets, 5 ms to 60 s');
	is(scalar(grep { $_->{name} =~ /^evalsched_circuit_open/ } @$s), 0,
	    '... no supervisor, no circuit');
	is(value($s, 'evalsched_oldest_due_seconds'), 0,
	    '... nothing due is 0 s');
}

# --- rows of every kind --------------------------------------------------------

my %sched = (
	due_old => [1, 0, "now() - interval '10 minutes'"],
	due_new => [1, 0, "now() - interval '30 seconds'"],
	busy => [1, 0, "now() - interval '5 minutes'"],
	later => [1, 0, "now() + interval '1 hour'"],
	paused => [0, 0, "now() - interval '1 hour'"],
	# Paused by a person after three failures: not evalsched's doing.
	paused_failing => [0, 3, "now() - interval '1 hour'"],
	disabled => [0, 3, "now() - interval '1 hour'", '3 consecutive failures'],
	broke => [0, 5, "now() - interval '1 hour'", 'bad schedule: no fire time'],
);
my %id;
for my $name (sort keys %sched) {
	my ($active, $fails, $next, $why) = @{ $sched{$name} };
	$id{$name} = $t->add_schedule(name => $name,
	    is_active => $active ? 'true' : 'false',
	    consecutive_failures => $fails, next_run_at => \$next,
	    $why ? (evalsched_disabled_at => \'now()', evalsched_disabled_reason => $why) : ());
}

# [status, blame (undef: no error_details), regression, lag in seconds]
my $ODD = "cosmic \"ray\"\\";
my @runs = (
	['completed', undef, 0, 0.001],
	['completed', undef, 1, 0.005],
	['completed', undef, 0, 0.02],
	['failed', 'schedule', 0, 0.3],
	['failed', 'schedule', 0, 1],
	['failed', 'platform', 0, 7],
	['failed', undef, 0, 45],
	['failed', $ODD, 0, 0],
	['cancelled', undef, 0, 120],
	['running', undef, 0, 0.5],
	['running', undef, 0, 2.5],
);
{
	my $h = 0;
	my @values = map {
		my ($st, $blame, $reg, $lag) = @$_;
		$h++;
		my $details = defined $blame ? Evalsched::Test::quote(
		    JSON::PP->new->encode({ blame => $blame })) : 'NULL';
		"('$id{later}', '$st', now() - interval '$h hours', "
		. "now() - interval '$h hours' + interval '$lag seconds', "
		. "$details, " . ($reg ? 'true' : 'false') . ")"
	} @runs;
	$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, "
	    . "status, slot_at, triggered_at, error_details, regression_detected) "
	    . "VALUES " . join(', ', @values));
	# In flight: its schedule is due but not counted as due.
	$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, "
	    . "status, slot_at, triggered_at) VALUES ('$id{busy}', 'triggered', "
	    . "now() - interval '5 minutes', now() - interval '5 minutes' + "
	    . "interval '0.05 seconds')");
	# The application's own rows (no slot_at) are not evalsched's runs.
	$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, "
	    . "status, regression_detected, error_details) VALUES "
	    . "('$id{later}', 'completed', true, NULL), "
	    . "('$id{later}', 'failed', false, '{\"blame\": \"platform\"}')");
}
my $WEIRD = "we\"ird\\node\nx";
{
	# A lease of ten minutes: a slow machine does not expire them.
	my @sup = (
		# node, heartbeat age, stopped, circuit open for (s)
		['node-a', 0, 0, 120],
		['node-a', 0, 0, undef],
		['node-a', 0, 0, 60],
		['node-b', 0, 0, undef],
		[$WEIRD, 0, 0, undef],
		['node-c', 3600, 0, 30],	# expired
		['node-d', 0, 1, 30],		# stopped
	);
	my $pid = 100;
	for my $s (@sup) {
		my ($node, $age, $stopped, $open) = @$s;
		$pid++;
		$t->sql("INSERT INTO evalsched_supervisors (node, pid, version, "
		    . "lease_seconds, max_concurrent, heartbeat_at, stopped_at, "
		    . "circuit_open_since, circuit_reason) VALUES ("
		    . Evalsched::Test::quote($node) . ", $pid, '0.1.0', 600, 3, "
		    . "now() - interval '$age seconds', "
		    . ($stopped ? 'now()' : 'NULL') . ", "
		    . (defined $open ? "now() - interval '$open seconds', "
		    . "'HTTP 503 from the API'" : 'NULL, NULL') . ")");
	}
}

{
	my $user = $t->add_user;
	my %alerts = (
		scheduled_eval_failed => { delivered => 2, failed => 1,
		    pending => 1 },
		scheduled_eval_disabled => { delivered => 1 },
		scheduled_eval_regression => { pending => 2 },
		trace_latency_high => { delivered => 1, pending => 1 },
		anomaly_critical => { failed => 1 },
	);
	for my $ev (sort keys %alerts) {
		for my $st (sort keys %{ $alerts{$ev} }) {
			$t->sql("INSERT INTO evalsched_alerts (event, user_id, "
			    . "title, message, state) SELECT '$ev', '$user', "
			    . "'t', 'm', '$st' FROM generate_series(1, "
			    . "$alerts{$ev}{$st})");
		}
	}
	# [alert_type, webhook_sent]: the application's completion alerts
	# count, other alerts and a look-alike do not.
	my @hist = (
		['scheduled_eval_failed', 'true'],
		['scheduled_eval_failed', 'true'],
		['scheduled_eval_failed', 'false'],
		['scheduled_eval_completed', 'true'],
		['scheduled_eval_regression', 'NULL'],
		['job_failed', 'true'],
		['scheduledXevalXodd', 'true'],
	);
	$t->sql("INSERT INTO alert_history (user_id, alert_type, title, "
	    . "message, webhook_sent) VALUES " . join(', ', map {
	    "('$user', '$_->[0]', 't', 'm', $_->[1])" } @hist));
	# Evaluations of a metric rule: evalsched's (two triggered, one
	# not) and one the application's worker made.
	my $rule = $t->sql_value("INSERT INTO metric_alert_rules (user_id, "
	    . "rule_name, metric_type, threshold_value, comparison_operator, "
	    . "aggregation_method, enabled) VALUES ('$user', 'r', 'latency', "
	    . "1, '>', 'avg', false) RETURNING id");
	$t->sql("INSERT INTO metric_alert_rule_evaluations (rule_id, user_id, "
	    . "metric_value, threshold_value, triggered, time_window_start, "
	    . "time_window_end, metadata) SELECT '$rule', '$user', 2, 1, "
	    . "t, now(), now(), m::jsonb FROM (VALUES (true, "
	    . "'{\"evaluated_by\": \"evalsched\"}'), (true, "
	    . "'{\"evaluated_by\": \"evalsched\"}'), (false, "
	    . "'{\"evaluated_by\": \"evalsched\"}'), (true, '{}')) v(t, m)");
}

# --- the numbers ---------------------------------------------------------------

my ($out, $s) = metrics();

is_deeply(by_labels($s, 'evalsched_runs_total'), {
    'blame=,status=completed' => 3, 'blame=schedule,status=failed' => 2,
    'blame=platform,status=failed' => 1, 'blame=,status=failed' => 2,
    'blame=,status=cancelled' => 1 },
    'runs_total: by status and blame; a blame a row writer made up labels no series of its own');
{
	my %db = map { ("blame=$_->[1],status=$_->[0]" => $_->[2]) } $t->sql(
	    "SELECT status, CASE WHEN error_details->>'blame' IN ('schedule', "
	    . "'platform') THEN error_details->>'blame' ELSE '' END, count(*) "
	    . "FROM scheduled_evaluation_runs WHERE slot_at IS NOT NULL AND "
	    . "status NOT IN ('triggered', 'running') GROUP BY 1, 2");
	my $m = by_labels($s, 'evalsched_runs_total');
	is_deeply({ map { $_ => $m->{$_} } keys %db }, \%db,
	    '... as the database counts them');
}
unlike($out, qr/cosmic/, '... and its text appears nowhere');
is(value($s, 'evalsched_runs_in_flight'), 1, 'runs_in_flight');
is(value($s, 'evalsched_runs_awaiting_completion'), 2,
    'runs_awaiting_completion');
is(value($s, 'evalsched_regressions_total'), $t->sql_value("SELECT count(*) "
    . "FROM scheduled_evaluation_runs WHERE slot_at IS NOT NULL "
    . "AND regression_detected"), 'regressions_total: evalsched\'s runs');
is(value($s, 'evalsched_regressions_total'), 1, '... one');

# The lag histogram against the lags the database holds.
{
	my @lags = map { $_->[0] } $t->sql("SELECT extract(epoch FROM "
	    . "triggered_at - slot_at) FROM scheduled_evaluation_runs "
	    . "WHERE slot_at IS NOT NULL");
	is(scalar @lags, 12, 'lag: twelve runs of evalsched');
	my @b = grep { $_->{name} eq 'evalsched_dispatch_lag_seconds_bucket' }
	    @$s;
	for my $bucket (@b) {
		my $le = $bucket->{labels}{le};
		my $want = grep { $le eq '+Inf' || $_ <= $le } @lags;
		is($bucket->{value}, $want, "lag: le=\"$le\" counts $want");
	}
	is(value($s, 'evalsched_dispatch_lag_seconds_count'), 12,
	    'lag: _count');
	my $sum = 0;
	$sum += $_ for @lags;
	ok(abs(value($s, 'evalsched_dispatch_lag_seconds_sum') - $sum) < 1e-6,
	    "lag: _sum is $sum");
	is(value($s, 'evalsched_dispatch_lag_seconds_bucket', le => '0.005'),
	    3, '... a lag on a bound is in its bucket');
	is(value($s, 'evalsched_dispatch_lag_seconds_bucket', le => '60'), 11,
	    '... one past 60 s only in +Inf');
}

is(value($s, 'evalsched_due_schedules'), 2,
    'due: two, not the one with a run in flight nor the inactive');
{
	my $age = value($s, 'evalsched_oldest_due_seconds');
	ok($age >= 600 && $age < 720, "oldest_due_seconds: ten minutes ($age)");
}
is_deeply(by_labels($s, 'evalsched_schedules'), { 'state=active' => 4,
    'state=paused' => 2, 'state=auto_disabled' => 2 },
    'schedules: auto_disabled, as evalsched recorded it; paused, whatever the failure count');

is(value($s, 'evalsched_supervisors_live'), 5,
    'supervisors_live: not the expired nor the stopped');
is_deeply(by_labels($s, 'evalsched_circuit_open'), { 'node=node-a' => 1,
    'node=node-b' => 0, "node=$WEIRD" => 0 },
    'circuit_open: per node of live supervisors, open when any is');
like($out, qr/^evalsched_circuit_open\{node="we\\"ird\\\\node\\nx"\} 0$/m,
    '... a node\'s quote, backslash and newline escaped');
{
	my $open = by_labels($s, 'evalsched_circuit_open_seconds');
	is_deeply([sort keys %$open], [sort 'node=node-a', 'node=node-b',
	    "node=$WEIRD"], 'circuit_open_seconds: the same nodes');
	ok($open->{'node=node-a'} >= 120 && $open->{'node=node-a'} < 240,
	    "... the longest open ($open->{'node=node-a'} s)");
	is($open->{'node=node-b'}, 0, '... 0 when closed');
}

{
	my %db;
	$db{"event=$_->[0],state=$_->[1]"} = $_->[2] for $t->sql("SELECT "
	    . "event, state, count(*) FROM evalsched_alerts GROUP BY 1, 2");
	my $m = by_labels($s, 'evalsched_alerts_total');
	is_deeply($m, { map { my $e = $_; map { ("event=$e,state=$_" =>
	    $db{"event=$e,state=$_"} // 0) } qw(delivered failed) } @EVENTS },
	    'alerts_total: every event by delivered and failed, as the '
	    . 'database counts them');
	is($m->{'event=scheduled_eval_failed,state=delivered'}, 2, '... two');
	is_deeply(by_labels($s, 'evalsched_alerts_pending'), { map { ("event=$_"
	    => $db{"event=$_,state=pending"} // 0) } @EVENTS },
	    'alerts_pending: by event');
	is(value($s, 'evalsched_alerts_pending', event =>
	    'scheduled_eval_regression'), 2, '... two regressions');
	is($m->{'event=trace_latency_high,state=delivered'}, 1,
	    '... a metric rule\'s alert too');
	is($m->{'event=anomaly_critical,state=failed'}, 1, '... and an '
	    . 'anomaly\'s');
}
is_deeply(by_labels($s, 'evalsched_metric_rule_evaluations_total'),
    { 'triggered=true' => 2, 'triggered=false' => 1 },
    'metric_rule_evaluations_total: evalsched\'s, by triggered');
{
	my %db = map { (($_->[0] eq 't' ? 'result=sent' : 'result=failed')
	    => $_->[1]) } $t->sql("SELECT coalesce(webhook_sent, false), "
	    . "count(*) FROM alert_history WHERE left(alert_type, 15) = "
	    . "'scheduled_eval_' GROUP BY 1");
	is_deeply(by_labels($s, 'evalsched_alert_deliveries_total'), \%db,
	    'alert_deliveries_total: scheduled_eval_* rows by result');
	is_deeply(\%db, { 'result=sent' => 3, 'result=failed' => 2 },
	    '... three sent, two failed');
}

# --json changes nothing.
{
	my ($json) = metrics(undef, '--json');
	(my $a = $json) =~ s/^(evalsched_(?:oldest_due|circuit_open)_seconds\S*) .*$/$1/mg;
	(my $b = $out) =~ s/^(evalsched_(?:oldest_due|circuit_open)_seconds\S*) .*$/$1/mg;
	is($a, $b, '--json: the same text format') or diag "$a\n---\n$b";
}

# --- counters: running totals, never lowered -----------------------------------

# The counters of a document (every _total and the lag histogram), as
# { series => value }.
sub counters {
	my ($samples) = @_;
	return { map { (series_key($_) => $_->{value} + 0) } grep {
	    $_->{name} =~ /_total$|^evalsched_dispatch_lag_seconds_/ }
	    @$samples };
}

# What one document adds to another: the counters that moved, by how much.
sub added {
	my ($before, $after) = @_;
	my %d;
	for my $k (keys %$after) {
		my $n = $after->{$k} - ($before->{$k} // 0);
		(my $name = $k) =~ s/\0/ /g;
		$d{$name} = sprintf('%g', $n) if $n != 0;
	}
	return \%d;
}

# A write to a run of ours as the supervisor makes it: a new revision.
sub run_write {
	my ($run, $set) = @_;
	$t->sql("UPDATE scheduled_evaluation_runs SET $set, evalsched_rev = "
	    . "coalesce(evalsched_rev, 0) + 1 WHERE id = '$run'");
}

my $counted = counters($s);
{
	# A run's life: dispatched 0.2 s after its slot, accepted,
	# completed, found a regression, written again; an alert delivered
	# and written again.
	my $run = $t->sql_value("INSERT INTO scheduled_evaluation_runs "
	    . "(scheduled_evaluation_id, status, slot_at, triggered_at) "
	    . "VALUES ('$id{later}', 'triggered', now() - interval '3 days', "
	    . "now() - interval '3 days' + interval '0.2 s') RETURNING id");
	run_write($run, "status = 'running'");
	run_write($run, "status = 'completed'");
	run_write($run, "regression_detected = true");
	run_write($run, "completed_at = now()");
	run_write($run, "status = 'completed', regression_detected = true");
	# The application's own row is not one of ours.
	$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, "
	    . "status) VALUES ('$id{later}', 'failed')");
	$t->sql("UPDATE evalsched_alerts SET state = 'delivered' WHERE id = "
	    . "(SELECT id FROM evalsched_alerts WHERE state = 'pending' AND "
	    . "event = 'trace_latency_high')");
	$t->sql("UPDATE evalsched_alerts SET attempts = 2 WHERE state <> "
	    . "'pending'");
	my (undef, $s2) = metrics();
	my $now = counters($s2);
	is_deeply(added($counted, $now), {
	    'evalsched_runs_total blame= status=completed' => 1,
	    'evalsched_regressions_total' => 1,
	    (map { ("evalsched_dispatch_lag_seconds_bucket le=$_" => 1) }
	    qw(0.25 0.5 1 2.5 5 10 30 60 +Inf)),
	    'evalsched_dispatch_lag_seconds_count' => 1,
	    'evalsched_dispatch_lag_seconds_sum' => 0.2,
	    'evalsched_alerts_total event=trace_latency_high state=delivered'
	    => 1 }, 'a run\'s life counts once each: its lag, its end, its '
	    . 'regression; an alert\'s end once');
	$counted = $now;
}
{
	# What run_retention deletes (old runs, alerts long done, rule
	# evaluations), a deleted schedule's runs, the application's alert
	# history: all gone.
	$t->sql("DELETE FROM scheduled_evaluation_runs WHERE status IN "
	    . "('cancelled', 'completed')");
	$t->sql("DELETE FROM evalsched_alerts WHERE state <> 'pending'");
	$t->sql("DELETE FROM alert_history");
	$t->sql("DELETE FROM metric_alert_rule_evaluations");
	$t->sql("DELETE FROM scheduled_evaluations WHERE id = '$id{later}'");
	is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
	    . "WHERE status NOT IN ('triggered', 'running')"), 0,
	    'deleted: no ended run is left');
	my (undef, $s2) = metrics();
	is_deeply(counters($s2), $counted, '... and no counter went down');
	is(value($s2, 'evalsched_runs_total', status => 'cancelled',
	    blame => ''), 1, '... a pruned run stays counted');
	is(value($s2, 'evalsched_runs_awaiting_completion'), 0,
	    '... while the gauges say what is there');
}

# The installed schema additions.
sub additions {
	my $prefix = $ENV{EVALSCHED_PREFIX} // '/usr/local';
	return defined $ENV{EVALSCHED_ROOT} ? "$ENV{EVALSCHED_ROOT}$prefix/"
	    . 'share/evalsched/schema-additions.sql'
	    : "$top/etc/schema-additions.sql";
}

# A database from before the counters: a history, and no counter.
{
	$t->sql("SET client_min_messages = warning; "
	    . "DROP FUNCTION evalsched_count_runs, evalsched_count_alerts, "
	    . "evalsched_count_deliveries, evalsched_count_rule_evaluations "
	    . "CASCADE; DROP TABLE evalsched_counters; DELETE FROM "
	    . "evalsched_meta WHERE key = 'counters_seeded_at'");
	my $sid = $t->add_schedule(name => 'old history',
	    next_run_at => \"now() + interval '1 day'");
	$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, "
	    . "status, slot_at, triggered_at, error_details, regression_detected) "
	    . "SELECT '$sid', (ARRAY['completed', 'failed', 'cancelled', "
	    . "'running'])[1 + i % 4], now() - i * interval '1 hour', now() - "
	    . "i * interval '1 hour' + i * interval '0.01 s', CASE WHEN i % 8 = 1 "
	    . "THEN '{\"blame\": \"platform\"}'::jsonb END, i % 16 = 0 "
	    . "FROM generate_series(1, 40) i");
	my $user = $t->add_user;
	$t->sql("INSERT INTO evalsched_alerts (event, user_id, title, message, "
	    . "state) VALUES ('scheduled_eval_failed', '$user', 't', 'm', "
	    . "'delivered'), ('trace_cost_high', '$user', 't', 'm', 'failed')");
	$t->sql("INSERT INTO alert_history (user_id, alert_type, title, message, "
	    . "webhook_sent) VALUES ('$user', 'scheduled_eval_failed', 't', 'm', "
	    . "true)");
	$t->psql_file(additions());
	my (undef, $s2) = metrics();
	my %db = map { ("blame=$_->[1],status=$_->[0]" => $_->[2]) } $t->sql(
	    "SELECT status, CASE WHEN error_details->>'blame' IN ('schedule', "
	    . "'platform') THEN error_details->>'blame' ELSE '' END, count(*) "
	    . "FROM scheduled_evaluation_runs WHERE slot_at IS NOT NULL AND "
	    . "status NOT IN ('triggered', 'running') GROUP BY 1, 2");
	my $m = by_labels($s2, 'evalsched_runs_total');
	is_deeply($m, { %db, map { ($_ => $db{$_} // 0) } keys %$m },
	    'upgrade: runs_total seeded from the runs the database holds');
	cmp_ok($db{'blame=platform,status=failed'} // 0, '>=', 5,
	    '... blame included');
	my @lags = map { $_->[0] } $t->sql("SELECT extract(epoch FROM "
	    . "triggered_at - slot_at) FROM scheduled_evaluation_runs "
	    . "WHERE slot_at IS NOT NULL");
	cmp_ok(scalar @lags, '>=', 40, '... of a history of runs');
	is(value($s2, 'evalsched_dispatch_lag_seconds_count'), scalar @lags,
	    '... the lag histogram from every run held');
	is(value($s2, 'evalsched_dispatch_lag_seconds_bucket', le => '0.1'),
	    scalar(grep { $_ <= 0.1 } @lags), '... bucket by bucket');
	is(value($s2, 'evalsched_regressions_total'), $t->sql_value("SELECT "
	    . "count(*) FROM scheduled_evaluation_runs WHERE slot_at IS NOT "
	    . "NULL AND regression_detected"), '... regressions held');
	is_deeply([map { value($s2, 'evalsched_alerts_total', event => $_->[0],
	    state => $_->[1]) } ['scheduled_eval_failed', 'delivered'],
	    ['trace_cost_high', 'failed']], [1, 1], '... alerts held');
	is_deeply(by_labels($s2, 'evalsched_alert_deliveries_total'),
	    { 'result=sent' => 1, 'result=failed' => 0 },
	    '... deliveries held');
	$t->psql_file(additions());
	my (undef, $s3) = metrics();
	is_deeply(counters($s3), counters($s2), 'applied again: seeded once');
	$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, "
	    . "status, slot_at) VALUES ('$sid', 'failed', now())");
	my (undef, $s4) = metrics();
	is(value($s4, 'evalsched_runs_total', status => 'failed', blame => '')
	    - value($s3, 'evalsched_runs_total', status => 'failed',
	    blame => ''), 1, '... and counting from then on');
}

# Two sessions counting the same key at once, as two supervisors do: the
# one in another shard does not wait for the other's transaction, and
# both counts land.
{
	my $sid = $t->add_schedule(name => 'two writers',
	    next_run_at => \"now() + interval '1 day'");
	my $insert = "INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, "
	    . "status, slot_at) VALUES ('$sid', 'completed', now() - "
	    . "interval '%d minutes')";
	my $before = $t->sql_value("SELECT sum(value) FROM evalsched_counters "
	    . "WHERE name = 'runs' AND k1 = 'completed' AND k2 = ''") // 0;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open STDOUT, '>', '/dev/null';
		exec $t->psql_cmd, '-c', "SET application_name = 'writer-a'; "
		    . "BEGIN; " . sprintf($insert, 1) . "; SELECT pg_sleep(3); "
		    . "COMMIT;" or POSIX::_exit(127);
	}
	my $shard;
	$t->wait_until(sub { $shard = $t->sql_value("SELECT pid % 8 FROM "
	    . "pg_stat_activity WHERE application_name = 'writer-a' AND "
	    . "wait_event = 'PgSleep'"); defined $shard }, 10);
	ok(defined $shard, 'writer A holds its count in an open transaction');
	# Writer B, in a session of another shard.
	my ($rc, $secs);
	for my $try (1 .. 8) {
		my $t0 = Time::HiRes::time();
		my $r = $t->run_program([$t->psql_cmd, '-c', "SET lock_timeout "
		    . "= '2s'; DO \$\$ BEGIN IF pg_backend_pid() % 8 = $shard "
		    . "THEN RAISE EXCEPTION 'same shard'; END IF; END \$\$; "
		    . sprintf($insert, 2 + $try)]);
		($rc, $secs) = ($r->{status}, Time::HiRes::time() - $t0);
		last unless $r->{err} =~ /same shard/;
	}
	is($rc, 0, 'writer B counts the same key meanwhile');
	cmp_ok($secs, '<', 1.5, '... without waiting for A');
	waitpid $pid, 0;
	is($?, 0, 'writer A commits');
	is($t->sql_value("SELECT sum(value) FROM evalsched_counters WHERE "
	    . "name = 'runs' AND k1 = 'completed' AND k2 = ''") - $before, 2,
	    '... and both counts are there');
	cmp_ok($t->sql_value("SELECT count(*) FROM evalsched_counters WHERE "
	    . "name = 'runs' AND k1 = 'completed' AND k2 = ''"), '>=', 2,
	    '... in rows of their own');
}

# --- output ------------------------------------------------------------------

SKIP: {
	skip 'no /dev/full', 2 unless -c '/dev/full';
	my $pid = fork // die;
	if ($pid == 0) {
		open STDOUT, '>', '/dev/full' or die;
		open STDERR, '>', $t->dir . '/full.err' or die;
		exec $ctl, '-c', $conf, 'metrics' or POSIX::_exit(127);
	}
	waitpid $pid, 0;
	is($? >> 8, 74, 'a failed write: 74, so "&& mv" publishes nothing');
	like($t->slurp($t->dir . '/full.err'), qr/No space left/,
	    '... and says why');
}

# A node's text is anyone's: exact in a file, escaped on a terminal.
$t->sql("INSERT INTO evalsched_supervisors (node, pid, version, "
    . "lease_seconds, max_concurrent) VALUES "
    . "(E'esc\\x1b[2Jnode', 9, '0.1.0', 600, 3)");
{
	my @r = ctl('-c', $conf, 'metrics');
	like($r[1], qr/^evalsched_circuit_open\{node="esc\e\[2Jnode"\} 0$/m,
	    'a pipe gets the exact label value');
}
SKIP: {
	my $script = `command -v script 2>/dev/null`;
	chomp $script;
	skip 'no script(1) for a pseudo-terminal', 2 unless $script;
	my $cmd = join ' ', map { "'$_'" } $ctl, '-c', $conf, 'metrics';
	my $tty = `$script -qec "$cmd" /dev/null`;
	$tty =~ s/\r//g;
	like($tty, qr/^evalsched_circuit_open\{node="esc\\x1b\[2Jnode"\} 0$/m,
	    'a terminal gets it escaped');
	unlike($tty, qr/\e/, '... and no escape character at all');
}

# --- the etc/ samples ----------------------------------------------------------

# A sample's command with the installed paths of this test, writing to dir.
sub sample_command {
	my ($cmd, $config, $dir) = @_;
	$cmd =~ s/\@BINDIR\@/dirname($ctl)/ge;
	$cmd =~ s/\@SYSCONFDIR\@\/evalsched\/evalsched\.conf/$config/g;
	$cmd =~ s{/var/lib/prometheus/node-exporter}{$dir}g;
	return $cmd;
}

# Runs a sample's command in a fresh directory: the exit status, the
# .prom file's text, and the other files left behind.
sub run_sample {
	my ($cmd, $config, $dir) = @_;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open STDERR, '>', "$dir.err" or die;
		exec '/bin/sh', '-c', sample_command($cmd, $config, $dir)
		    or POSIX::_exit(127);
	}
	waitpid $pid, 0;
	my $rc = $? >> 8;
	opendir my $dh, $dir or die;
	my @left = sort grep { !/^\.\.?$/ && $_ ne 'evalsched.prom' }
	    readdir $dh;
	return ($rc, $t->slurp("$dir/evalsched.prom"), \@left);
}

my $down = $t->write_config(database => 'host=' . $t->dir . '/nosock');
{
	my $cron = $t->slurp("$top/etc/evalsched-metrics.cron");
	my @lines = grep { /^\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+root\s/ }
	    split /\n/, $cron;
	is(scalar @lines, 1, 'cron: one line, for cron.d (with a user)');
	my ($cmd) = $lines[0] =~ /^(?:\S+\s+){5}root\s+(.*)$/;
	like($lines[0], qr/^\* \* \* \* \* /, '... every minute');
	unlike($cmd, qr/%/, '... no % (cron makes it a newline)');
	my $dir = $t->dir . '/textfile-cron';
	mkdir $dir;
	my ($rc, $prom, $left) = run_sample($cmd, $conf, $dir);
	is($rc, 0, 'cron: the command works');
	my (undef, undef, $ps, $err) = parse_exposition($prom);
	ok(@$ps > 0 && !@$err, '... the file is the exposition format');
	is_deeply($left, [], '... and nothing else is left');
	($rc, my $prom2, $left) = run_sample($cmd, $down, $dir);
	isnt($rc, 0, 'cron: the database down fails');
	is($prom2, $prom, '... and the last good file stays');
	is_deeply($left, [], '... with no temporary file left');
}
{
	my $unit = $t->slurp("$top/etc/evalsched-metrics.service");
	like($unit, qr/^Type=oneshot$/m, 'service: a oneshot');
	my ($cmd) = $unit =~ m{^ExecStart=/bin/sh -c '([^']*)'$}m;
	ok(defined $cmd, '... a shell command line');
	unlike($cmd // '', qr/[\$%]/, '... with nothing systemd would expand');
	my $dir = $t->dir . '/textfile-systemd';
	mkdir $dir;
	my ($rc, $prom, $left) = run_sample($cmd // 'false', $conf, $dir);
	is($rc, 0, 'service: the command works');
	my (undef, undef, $ps, $err) = parse_exposition($prom);
	ok(@$ps > 0 && !@$err, '... the file is the exposition format');
	is_deeply($left, [], '... nothing else is left');
	like($unit, qr{^ReadWritePaths=/var/lib/prometheus/node-exporter$}m,
	    '... it may write only the textfile directory');
	($rc, my $prom2) = run_sample($cmd // 'false', $down, $dir);
	isnt($rc, 0, 'service: the database down fails');
	is($prom2, $prom, '... and the last good file stays');
	my $timer = $t->slurp("$top/etc/evalsched-metrics.timer");
	like($timer, qr/^OnUnitActiveSec=1min$/m, 'timer: every minute');
	like($timer, qr/^WantedBy=timers\.target$/m, '... enabled with timers');
}

done_testing;
