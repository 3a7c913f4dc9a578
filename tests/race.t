# Several supervisors on one database: hundreds of due schedules, each
# slot POSTed once and one run row each, whatever the number of
# supervisors racing for them.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;

# Fifty schedules a supervisor, all due at once: with eight slots each,
# every supervisor claims again each time a run of its own ends, a few
# dozen times while the others claim too, and a claim that two could both
# take shows in those overlaps (a run posted twice, two run rows).  More
# schedules repeat the same overlaps: 150 a supervisor made this the
# costliest test of the suite, each run a jobrunner under the sanitizers.
my $EACH = 50;
for my $n (2, 3) {
	$t->sql('UPDATE scheduled_evaluations SET is_active = false');
	my $tag = "race$n";
	# Owners of 25 schedules each, with a test suite: the application
	# allows a user 50 active schedules.
	my $owner = "md5('$tag user ' || i / 25)::uuid";
	my $suite = "md5('$tag suite ' || i / 25)::uuid";
	$t->sql("INSERT INTO auth.users (id) SELECT DISTINCT $owner "
	    . "FROM generate_series(1, $EACH * $n) i;\n"
	    . "INSERT INTO test_suites (id, user_id, name) SELECT DISTINCT $suite, "
	    . "$owner, 'suite' FROM generate_series(1, $EACH * $n) i;\n"
	    . "INSERT INTO scheduled_evaluations (user_id, name, schedule_type, test_suite_id, "
	    . "model_id, next_run_at, cron_expression) SELECT $owner, '$tag ' || i, 'custom', "
	    . "$suite, 'gpt-test', now() - (i || ' ms')::interval, '0 0 1 1 *' "
	    . "FROM generate_series(1, $EACH * $n) i");
	my @names = map { "$tag-s$_" } 1 .. $n;
	$t->start_supervisor(name => $_, wait_ready => 0, config => $t->write_config(
	    node_name => $_, max_concurrent => 8)) for @names;
	my $total = $EACH * $n;
	ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
	    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
	    . "WHERE s.name LIKE '$tag %' AND r.status IN ('running', 'completed')") == $total }, 120),
	    "$n supervisors: all $total schedules ran");
	# A duplicate would be dispatched while something is still due or
	# in flight: wait until every supervisor says it has neither.
	my @idle = map { $t->wait_idle($_, 60) } @names;
	is((grep { defined } @idle), $n, "$n supervisors: all idle");
	my $dispatched = 0;
	$dispatched += $_->{dispatched} // 0 for grep { defined } @idle;
	is($dispatched, $total, "$n supervisors: $total dispatches between them");
	is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
	    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
	    . "WHERE s.name LIKE '$tag %'"), $total, "$n supervisors: one run row each");
	my %posts;
	for my $req ($t->api_requests) {
		$posts{ $req->{headers}{'x-scheduled-evaluation-id'} }++;
	}
	my @ours = map { $_->[0] } $t->sql("SELECT id FROM scheduled_evaluations WHERE name LIKE '$tag %'");
	is((grep { ($posts{$_} // 0) == 1 } @ours), $total, "$n supervisors: each slot POSTed exactly once");
	my @by = $t->sql("SELECT v.node, count(*) FROM scheduled_evaluation_runs r "
	    . "JOIN evalsched_supervisors v ON v.id = r.supervisor_id "
	    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
	    . "WHERE s.name LIKE '$tag %' GROUP BY 1 ORDER BY 1");
	is(scalar @by, $n, "$n supervisors: every one of them took a share ("
	    . join(', ', map { "$_->[0]: $_->[1]" } @by) . ')');
	is($t->stop_supervisor($_) >> 8, 0, "$_ exits cleanly") for @names;
}
done_testing;
