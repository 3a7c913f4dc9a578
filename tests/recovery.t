# A supervisor that dies or stalls: its in-flight runs are taken over,
# left unresolved naming it (by its id: its node, a host name, and pid
# are in the log and in evalsched_supervisors, not in what the run's
# owner reads; their requests may have gone out: never sent again),
# without counting toward auto-disable; a run gets the batch test its
# request started; no slot fires twice, and a stalled supervisor's late
# outcomes are refused.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api(mode => 'never');	# batch tests stay under way

sub runs {
	my ($like) = @_;
	return $t->sql("SELECT r.status, r.error_message, s.consecutive_failures, s.is_active, "
	    . "r.id, r.batch_test_run_id "
	    . "FROM scheduled_evaluation_runs r JOIN scheduled_evaluations s "
	    . "ON s.id = r.scheduled_evaluation_id WHERE s.name LIKE '$like' ORDER BY s.name");
}

# What the owner reads of a lost run names the supervisor, not its host;
# the operator finds the host from the id.
sub names_no_host {
	my ($like, $node, $pid, $what) = @_;
	my @rows = $t->sql("SELECT r.error_message, r.error_details->>'lost_supervisor', "
	    . "r.error_details::text, (SELECT v.node || ' ' || v.pid FROM evalsched_supervisors v "
	    . "WHERE v.id::text = r.error_details->>'lost_supervisor') "
	    . "FROM scheduled_evaluation_runs r JOIN scheduled_evaluations s "
	    . "ON s.id = r.scheduled_evaluation_id WHERE s.name LIKE '$like' "
	    . "AND r.error_message LIKE 'lost:%'");
	ok(@rows > 0, "$what: lost runs to look at");
	for my $r (@rows) {
		my ($msg, $id, $details, $found) = @$r;
		like($msg, qr/^lost: supervisor \Q$id\E /, "$what: the error names the supervisor's id");
		unlike("$msg $details", qr/\Q$node\E|pid \d|"(?:node|pid)"/,
		    "$what: neither the error nor its details name its node or pid");
		is($found, "$node $pid", "$what: the id finds them in evalsched_supervisors");
	}
}

sub no_doubles {
	my ($what) = @_;
	is($t->sql_value("SELECT count(*) FROM (SELECT scheduled_evaluation_id, slot_at FROM "
	    . "scheduled_evaluation_runs GROUP BY 1, 2 HAVING count(*) > 1) d"), 0,
	    "$what: no slot fired twice");
	my %posts;
	$posts{ $_->{headers}{'x-scheduled-evaluation-id'} }++ for $t->api_requests;
	is(scalar(grep { $_ > 1 } values %posts), 0, "$what: no schedule POSTed twice");
}

# kill -9 with three runs in flight; a new supervisor on the same node
# closes them at once, then records the real outcomes the orphaned
# jobrunners leave in the spool.
my @k = map { $t->add_schedule(name => "killed $_", model_id => 'standin:slow=5000,never') } 1 .. 2;
push @k, $t->add_schedule(name => 'killed 3', model_id => 'standin:slow=5000,status=404');
my $conf = $t->write_config(lease => 6);
my $old = $t->start_supervisor(config => $conf, name => 'old');
ok($t->wait_until(sub { (grep { $_->[0] eq 'triggered' } runs('killed %')) == 3 }, 10),
    'kill -9: three runs in flight');
kill 'KILL', $old;
$t->wait_exit('old', 5);
$t->start_supervisor(config => $conf, name => 'new');
ok($t->wait_until(sub { !grep { $_->[0] eq 'triggered' } runs('killed %') }, 10),
    'kill -9: the new supervisor took over the dead one\'s runs at once (lease is 6 s)');
my @r = runs('killed %');
is(scalar @r, 3, 'kill -9: one run per schedule');
is((grep { $_->[0] eq 'running' } @r), 3, 'kill -9: left unresolved, not closed');
like($r[0][1], qr/^lost: supervisor [0-9a-f-]{36} exited without closing its runs/,
    "kill -9: the error names the lost supervisor ($r[0][1])");
names_no_host('killed %', 'test-node', $old, 'kill -9');
is((grep { $_->[2] == 0 && $_->[3] eq 't' } @r), 3,
    'kill -9: failure counts untouched, schedules active');
ok($t->wait_until(sub { scalar($t->api_requests) == 3 }, 15),
    'kill -9: the orphaned jobrunners finished their calls');
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id WHERE s.name LIKE 'killed %' "
    . "AND r.status = 'running' AND r.batch_test_run_id IS NOT NULL") == 2
    && (grep { $_->[0] eq 'failed' } runs('killed %')) == 1 }, 15),
    'kill -9: the real outcomes replace the losses: two accepted, one refused')
    or diag $t->supervisor_log('new');
my %btr = map { $_->[0] => $_->[1] } $t->sql("SELECT r.id, r.batch_test_run_id FROM "
    . "scheduled_evaluation_runs r JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
    . "WHERE s.name LIKE 'killed %' AND r.status = 'running'");
my %answered = map { ($_->{headers}{'x-scheduled-evaluation-run-id'}, $_->{answered}) } $t->api_requests;
is((grep { defined $btr{$_} } keys %answered), 2, 'kill -9: with the test run ids the API gave');
@r = runs('killed 3');
like($r[0][1], qr/^HTTP 404 .*\(recorded after its supervisor was lost\)$/,
    "kill -9: and one refused, with the API's answer ($r[0][1])");
is($t->sql_value("SELECT last_run_status FROM scheduled_evaluations WHERE name = 'killed 1'"),
    'success', 'kill -9: the schedule shows the success');
ok(!glob($t->dir . '/spool/*.result'), 'kill -9: the spool is emptied');
no_doubles('kill -9');
$t->stop_supervisor('new');

# SIGSTOP past the lease, then SIGCONT: another supervisor takes over
# the stalled one's runs, which get the batch tests their requests
# started; its late outcomes are refused; nothing doubles.  The route
# answers after 8 s: the takeover (2 s of lease, and a start-up on a
# busy machine) is looked at before the batch tests bind.
$t->sql('UPDATE scheduled_evaluations SET is_active = false');
my @s = map { $t->add_schedule(name => "stalled $_", model_id => 'standin:route,slow=8000,never') } 1 .. 2;
my $a = $t->start_supervisor(name => 'a',
    config => $t->write_config(lease => 2, node_name => 'node-a'));
ok($t->wait_until(sub { (grep { $_->[0] eq 'triggered' } runs('stalled %')) == 2 }, 10),
    'SIGSTOP: two runs in flight');
kill 'STOP', $a;
$t->start_supervisor(name => 'b', config => $t->write_config(lease => 2, node_name => 'node-b'));
ok($t->wait_until(sub { !grep { $_->[0] eq 'triggered' } runs('stalled %') }, 15),
    'SIGSTOP: the live supervisor took over the stalled one\'s runs after the lease');
@r = runs('stalled %');
like($r[0][1], qr/^lost: supervisor [0-9a-f-]{36} stopped renewing its lease/,
    "SIGSTOP: the error names the lost supervisor ($r[0][1])");
# (A run may get its batch test, and lose that error, any moment now: the
# error read above is the one to look at.)
unlike($r[0][1], qr/node-a|\b$a\b/, 'SIGSTOP: the error names neither its node nor its pid');
ok($t->wait_log(qr/run \S+ (left unresolved|goes on): its supervisor [0-9a-f-]{36} \(pid $a on node-a\)/, 5, 'b'),
    'SIGSTOP: the live supervisor logs what it took over');
# Its jobrunners have their answers by the time it wakes: their outcomes
# are late, not merely slow.
ok($t->wait_until(sub { $t->requests_for(@s) == 2 }, 15),
    'SIGSTOP: the stalled one\'s jobrunners got their answers meanwhile');
kill 'CONT', $a;
ok($t->wait_log(qr/declared lost by another/, 10, 'a'), 'SIGCONT: it learns it was declared lost');
ok($t->wait_log(qr/outcome of run \S+ was refused/, 10, 'a'), 'SIGCONT: its late outcomes are refused');
@r = runs('stalled %');
is(scalar @r, 2, 'SIGCONT: one run per schedule');
my %started = map { ($_->{headers}{'x-scheduled-evaluation-run-id'}, $_->{test_run_id}) }
    $t->requests_for(@s);
is((grep { $_->[0] eq 'running' && defined $started{ $_->[4] }
    && ($_->[5] // '') eq $started{ $_->[4] } } @r), 2,
    'SIGCONT: the runs have the batch tests their requests started');
is((grep { $_->[2] == 0 } @r), 2, 'SIGCONT: failure counts untouched');
ok($t->wait_log(qr/registered as supervisor/, 5, 'a') && kill(0, $a), 'SIGCONT: it carries on under a new identity');
no_doubles('SIGSTOP');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs WHERE status = 'triggered'"), 0,
    'no run left triggered');
is($t->stop_supervisor('a') >> 8, 0, 'a exits cleanly');
is($t->stop_supervisor('b') >> 8, 0, 'b exits cleanly');
done_testing;
