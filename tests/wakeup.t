# Event-driven dispatch: the supervisor sleeps until the earliest due
# time, wakes at once on a NOTIFY from the schedules table, and with
# listen = no still dispatches by polling.  The jobrunner that takes a
# run was started ahead of time (a spare).
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api(mode => 'never');	# batch tests stay under way

sub request_time {
	my ($id) = @_;
	my ($r) = grep { $_->{headers}{'x-scheduled-evaluation-id'} eq $id } $t->api_requests;
	return $r ? $r->{t_start} : undef;
}

sub due_epoch {
	my ($id) = @_;
	return $t->sql_value("SELECT extract(epoch FROM slot_at) FROM scheduled_evaluation_runs "
	    . "WHERE scheduled_evaluation_id = '$id'");
}

# An hour between polls, twenty minutes between heartbeats: within the
# test, the supervisor claims only on a NOTIFY or at a due time.
my $later = $t->add_schedule(name => 'retimed', next_run_at => \"now() + interval '1 day'");
$t->start_supervisor(config => $t->write_config(poll_interval => 3600,
    lease => 3600, log_level => 'debug'));
ok($t->wait_log(qr/spare jobrunner started/, 30), 'a spare jobrunner is started ahead of time');

# Two schedules due 4 s apart: each must go out at its own due time, the
# first before the second is due.  A supervisor that noticed due times
# only when something else woke it would send both together.  The checks
# below compare times with each other; the gaps they rest on are several
# seconds, not a claim about speed (that is `make bench`'s).
my $soon = $t->add_schedule(name => 'due soon', next_run_at => \"now() + interval '8 seconds'");
my $next = $t->add_schedule(name => 'due next', next_run_at => \"now() + interval '12 seconds'");

# Inserted while the supervisor sleeps: NOTIFY.
my $now = $t->add_schedule(name => 'inserted now');
ok($t->wait_until(sub { defined request_time($now) }, 30), 'a schedule inserted while sleeping is dispatched');

# Re-timed earlier (as evalschedctl trigger does): NOTIFY again.
$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() WHERE id = '$later'");
ok($t->wait_until(sub { defined request_time($later) }, 30), 'a schedule made due sooner is dispatched');

ok($t->wait_until(sub { defined request_time($next) }, 60), 'the schedules due in 8 and 12 s are dispatched')
    or diag $t->supervisor_log;
my ($due1, $due2) = (due_epoch($soon), due_epoch($next));
cmp_ok(request_time($now), '<', $due1, 'the inserted one went out before anything else was due: woken by NOTIFY, not a poll');
cmp_ok(request_time($later), '<', $due1, 'so did the re-timed one');
cmp_ok(request_time($soon), '>=', $due1, 'a due time: not before it');
cmp_ok(request_time($soon), '<', $due2, '... and before the next one: woken by its own due time');
cmp_ok(request_time($next), '>=', $due2, 'the next one not before its own due time either');

# The dispatch went to a jobrunner started before the run was due.
my $log = $t->supervisor_log;
my %spares = map { $_ => 1 } $log =~ /spare jobrunner started \(pid (\d+)\)/g;
my @used = grep { $spares{$_} } $log =~ /dispatched run \S+ \(jobrunner pid (\d+)\)/g;
ok(@used >= 1, 'runs are handed to a spare jobrunner started ahead of time');
is($t->stop_supervisor >> 8, 0, 'clean exit');
is(kill(0, $_) ? 1 : 0, 0, "no jobrunner left behind (pid $_)") for keys %spares;

# listen = no (behind a transaction-mode pooler): polling still works.
$t->start_supervisor(name => 'nolisten', config => $t->write_config(listen => 'no', poll_interval => 2));
like($t->supervisor_log('nolisten'), qr/polling only \(listen = no\)/, 'listen = no says it polls');
my $polled = $t->add_schedule(name => 'polled');
ok($t->wait_until(sub { defined request_time($polled) }, 30), 'listen = no: a new schedule is dispatched by polling');
is($t->sql_value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'evalsched-supervisor' "
    . "AND query ILIKE 'LISTEN%'"), 0, 'listen = no: no LISTEN was issued');
is($t->stop_supervisor('nolisten') >> 8, 0, 'clean exit');
done_testing;
