# Regression detection: each completed run with results is compared, once
# its quality has settled, with its baseline, the most recent earlier
# settled completed run with results that was not itself a regression
# (so a regression never becomes the new normal), unless a baseline is
# pinned.  The sequence 0.90 -> 0.88 -> 0.70 -> 0.72 with a threshold of
# 10 % makes the last two regressions, both against the 0.88 run; a
# pinned baseline changes what is compared.  As the application's form
# says, a regression is a drop of the quality; the success rate's change
# is recorded beside it.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use JSON::PP qw(decode_json);
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
$t->start_supervisor(config => $t->write_config(poll_interval => 2, quality_settle => 1));
my $ctl = join ' ', Evalsched::Test::bin('evalschedctl'), '-c', $t->write_config;

my $id = $t->add_schedule(name => 'quality watch', regression_threshold_percent => 10,
    alert_on_regression => 'false', next_run_at => \"now() + interval '1 hour'");

sub runs {
	return $t->sql("SELECT id, avg_quality_score::float8, regression_detected, "
	    . "baseline_run_id, regression_details FROM scheduled_evaluation_runs "
	    . "WHERE scheduled_evaluation_id = '$id' AND status = 'completed' "
	    . 'AND evalsched_settle_at IS NULL ORDER BY triggered_at');
}

sub run_with {
	my ($quality, $n) = @_;
	$t->sql("UPDATE scheduled_evaluations SET model_id = 'standin:quality=$quality', "
	    . "next_run_at = now() WHERE id = '$id'");
	ok($t->wait_until(sub { scalar(runs()) == $n }, 20), "run $n (quality $quality) completed")
	    or diag $t->supervisor_log;
}

run_with('0.90', 1);
is(decode_json(($t->sql("SELECT regression_details FROM scheduled_evaluation_runs "
    . "WHERE scheduled_evaluation_id = '$id'"))[0][0])->{quality_source}, 'rule',
    'the quality came from the heuristic judge: said so');
run_with('0.88', 2);
run_with('0.70', 3);
run_with('0.72', 4);
my @r = runs();
is_deeply([map { $_->[1] } @r], [0.9, 0.88, 0.7, 0.72], 'the four qualities');
is_deeply([map { $_->[2] } @r], ['f', 'f', 't', 't'], 'only the last two are regressions');
is($r[0][3], undef, 'the first run has no baseline');
is($r[1][3], $r[0][0], 'run 2 is compared with run 1');
is($r[2][3], $r[1][0], 'run 3 is compared with run 2 (0.88)');
is($r[3][3], $r[1][0], 'run 4 too: a regression never becomes the baseline');
my $d = decode_json($r[2][4]);
is($d->{avg_quality_score}{baseline}, 0.88, 'details: baseline quality');
is($d->{avg_quality_score}{current}, 0.7, 'details: current quality');
is($d->{avg_quality_score}{change_percent}, -20.45, 'details: change in percent');
is($d->{avg_quality_score}{threshold_percent}, 10, 'details: threshold');
is($d->{success_rate}{change_percent}, 0, 'details: success rate compared too');
ok($t->wait_log(qr/"quality watch": run \S+ is a regression against run \Q$r[1][0]\E: quality -20\.45%/, 5),
    'the regression is logged');
is($t->sql_value("SELECT count(*) FROM evalsched_alerts"), 0,
    'alert_on_regression false: detected, but no alert');

# A pinned baseline: the next run is compared with it.
my $out = `$ctl baseline 'quality watch' $r[0][0] 2>&1`;
is($? >> 8, 0, 'evalschedctl baseline pins run 1') or diag $out;
run_with('0.80', 5);
@r = runs();
is($r[4][3], $r[0][0], 'run 5 is compared with the pinned run 1');
is($r[4][2], 't', '0.80 against 0.90 is a drop of 11 %: a regression');
$out = `$ctl baseline --clear 'quality watch' 2>&1`;
is($? >> 8, 0, 'evalschedctl baseline --clear') or diag $out;
run_with('0.86', 6);
@r = runs();
is($r[5][3], $r[1][0], 'unpinned: compared with the latest good run again (0.88)');
is($r[5][2], 'f', '0.86 against 0.88 is no regression');

# A success rate drop is recorded, and is no regression by itself.
$t->sql("UPDATE scheduled_evaluations SET model_id = 'standin:quality=0.86,prompts=10,fail=2', "
    . "next_run_at = now() WHERE id = '$id'");
ok($t->wait_until(sub { scalar(runs()) == 7 }, 20), 'run 7 completed');
@r = runs();
is($r[6][2], 'f', 'success rate 80 % against 100 %, the same quality: no regression');
is(decode_json($r[6][4])->{success_rate}{change_percent}, -20, 'details: success rate change');
is($t->stop_supervisor >> 8, 0, 'clean exit');
done_testing;
