# Numbers users can trust, on the application's schema and with a route
# that behaves like the real one.  Quality is the LLM judge's mean when
# the batch test has LLM judgments, else the heuristic's, and it is final
# quality_settle seconds after the batch test ends: judgments that land
# late count.  A regression is decided on settled values as stored
# (NUMERIC(5,2)), against a baseline of the same source.  A user's
# cancel ends the run cancelled with the final counts.  The application's
# ON DELETE SET NULL of a deleted baseline goes through.  A NULL
# batch_test_config runs as {}.  A schedule a person paused is never
# called auto-disabled.  Each run updates its schedule twice at most.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json);
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
my $conf = $t->write_config(poll_interval => 2, quality_settle => 5, max_concurrent => 6);

sub runs {
	my ($id) = @_;
	return $t->sql("SELECT id, status, avg_quality_score::text, regression_detected, "
	    . "baseline_run_id, regression_details, evalsched_settle_at IS NULL, "
	    . "total_prompts, successful_prompts, error_message, error_details "
	    . "FROM scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$id' "
	    . "ORDER BY triggered_at");
}

sub settled {
	my ($id, $n) = @_;
	return (grep { $_->[1] eq 'completed' && $_->[6] eq 't' } runs($id)) >= $n;
}

sub again {
	my ($id, $model) = @_;
	$t->sql("UPDATE scheduled_evaluations SET next_run_at = now()"
	    . (defined $model ? ", model_id = '$model'" : '') . " WHERE id = '$id'");
}

sub sched {
	my ($id, $cols) = @_;
	return @{ ($t->sql("SELECT $cols FROM scheduled_evaluations WHERE id = '$id'"))[0] };
}

# --- settled quality: the LLM judge's, landing late -------------------------

my $late = $t->add_schedule(name => 'late judges', regression_threshold_percent => 10,
    model_id => 'standin:route,prompts=3,quality=0.5,llm=0.8,judge_late=2500,duration=200');
# Identical batch tests whose quality does not fit two decimals.
my $same = $t->add_schedule(name => 'twins', regression_threshold_percent => 0.5,
    model_id => 'standin:route,prompts=3,quality=0.5567,duration=200');
# A person pauses it while its third failure in a row is in flight.
my $paused = $t->add_schedule(name => 'paused meanwhile', consecutive_failures => 2,
    alert_on_failure => 'true', model_id => 'standin:route,slow=3000,status=404');
my $null = $t->add_schedule(name => 'null config', batch_test_config => undef,
    model_id => 'standin:route,prompts=2,duration=200');
my $cancel = $t->add_schedule(name => 'cancelled',
    model_id => 'standin:route,prompts=3,cancel=300,duration=2500');

$t->start_supervisor(config => $conf);

# --- paused by a person ---------------------------------------------------------------

ok($t->wait_until(sub { grep { $_->[1] eq 'triggered' } runs($paused) }, 20),
    'paused: its dispatch is in flight');
$t->sql("UPDATE scheduled_evaluations SET is_active = false WHERE id = '$paused'");

ok($t->wait_until(sub { grep { $_->[1] eq 'completed' } runs($late) }, 20),
    'late judges: the run completed when its batch test ended');
my ($r) = runs($late);
is($r->[6], 'f', '... its quality not yet final');
is($r->[2], '0.50', '... provisional: the heuristic\'s, as the LLM judge has not written yet');
is(decode_json($r->[5])->{settled}, JSON::PP::false, '... and it says so');
ok($t->wait_until(sub { settled($late, 1) }, 20), 'late judges: settled');
($r) = runs($late);
is($r->[2], '0.80', '... at the LLM judge\'s mean, the late judgments counted');
is(decode_json($r->[5])->{quality_source}, 'llm', '... whose source is recorded');

# A run of another source is not compared with it.
again($late, 'standin:route,prompts=3,quality=0.4,duration=200');
ok($t->wait_until(sub { settled($late, 2) }, 30), 'late judges: a heuristic-only run settled');
$r = (runs($late))[1];
is_deeply([@{$r}[2, 3, 4]], ['0.40', 'f', undef],
    '... 0.40 from the heuristic: no baseline of its source, no regression');
again($late, 'standin:route,prompts=3,quality=0.5,llm=0.6,duration=200');
ok($t->wait_until(sub { settled($late, 3) }, 30), 'late judges: another LLM-judged run settled');
$r = (runs($late))[2];
my @all = runs($late);
is($r->[4], $all[0][0], '... compared with the LLM-judged run, not the newer heuristic one');
is_deeply([$r->[3], decode_json($r->[5])->{avg_quality_score}{change_percent}], ['t', -25],
    '... 0.60 against 0.80: a regression of 25 %');

# --- compared as stored ------------------------------------------------------

ok($t->wait_until(sub { settled($same, 1) }, 30), 'twins: the first settled');
again($same);
ok($t->wait_until(sub { settled($same, 2) }, 30), 'twins: the second settled');
my @tw = runs($same);
is_deeply([$tw[0][2], $tw[1][2]], ['0.56', '0.56'], 'twins: 0.5567 stored as 0.56 both times');
is_deeply([$tw[1][3], decode_json($tw[1][5])->{avg_quality_score}{change_percent}],
    ['f', 0], 'twins: no change, no regression');

# --- the ON DELETE SET NULL of a deleted baseline ------------------------------

$t->sql("DELETE FROM scheduled_evaluation_runs WHERE id = '$tw[0][0]'");
is($t->sql_value("SELECT baseline_run_id FROM scheduled_evaluation_runs WHERE id = '$tw[1][0]'"),
    undef, 'a deleted baseline: the application\'s ON DELETE SET NULL went through');

# --- a user's cancel -------------------------------------------------------------

ok($t->wait_until(sub { grep { $_->[1] ne 'running' && $_->[1] ne 'triggered' } runs($cancel) }, 30),
    'cancel: the run ended');
my ($c) = runs($cancel);
is_deeply([@{$c}[1, 7, 8, 9]], ['cancelled', 3, 3, 'Cancelled by user'],
    'cancel: cancelled, with the final counts the application wrote after it');
is_deeply([sched($cancel, 'consecutive_failures, last_run_status')], [0, 'cancelled'],
    'cancel: not a failure');
is($t->sql_value("SELECT public.evalsched_baseline('$cancel', 'infinity', NULL)"), undef,
    'cancel: not a baseline');

# --- a NULL batch_test_config ------------------------------------------------------

ok($t->wait_until(sub { grep { $_->[1] eq 'completed' } runs($null) }, 20),
    'null config: the run completed');
my ($req) = $t->requests_for($null);
is_deeply([sort keys %{ decode_json($req->{body})->{config} }],
    [qw(model_id test_run_name test_suite_id)], 'null config: sent as {}');
is((sched($null, 'is_active'))[0], 't', 'null config: not disabled');

# --- paused by a person, continued ---

ok($t->wait_until(sub { grep { $_->[1] eq 'failed' } runs($paused) }, 20), 'paused: the run failed');
is_deeply([sched($paused, 'consecutive_failures, is_active, evalsched_disabled_at IS NULL')],
    [3, 'f', 't'], 'paused: counted, but not disabled by evalsched');
ok($t->run_sentinel, 'a sentinel ran after it');
is($t->sql_value("SELECT count(*) FROM evalsched_alerts WHERE scheduled_evaluation_id = '$paused' "
    . "AND event = 'scheduled_eval_disabled'"), 0, 'paused: no "disabled" alert');
my (undef, $show) = $t->ctl('-c', $conf, 'show', 'paused meanwhile');
like($show, qr/^active\s+no, paused$/m, 'paused: evalschedctl show says paused') or diag $show;

# --- two updates of a schedule per run ----------------------------------------------

for my $case ([$late, 'a completed run'], [$paused, 'a failed dispatch'],
    [$cancel, 'a cancelled run']) {
	my ($id, $what) = @$case;
	my $updates = $t->sql_value("SELECT count(*) FROM scheduled_evaluation_audit "
	    . "WHERE scheduled_evaluation_id = '$id' AND action = 'updated'");
	my $runs = $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
	    . "WHERE scheduled_evaluation_id = '$id'");
	# The test's own updates (made due again, paused) are one each.
	my $ours = $id eq $late ? 2 : $id eq $paused ? 1 : 0;
	is($updates - $ours, 2 * $runs,
	    "$what: two audited updates of its schedule per run, its claim and its end");
}
my $nochange = $t->sql_value("SELECT count(*) FROM scheduled_evaluation_audit "
    . "WHERE action = 'updated' AND old_values - 'updated_at' = new_values - 'updated_at'");
is($nochange, 0, 'no update of a schedule that changes nothing');

$t->stop_supervisor;
done_testing;
