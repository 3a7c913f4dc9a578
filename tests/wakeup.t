# Event-driven dispatch: the supervisor sleeps until the earliest due
# time, wakes at once on a NOTIFY from the schedules table, and with
# listen = no still dispatches by polling.  The jobrunner that takes a
# run was started ahead of time (a spare).
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Time::HiRes qw(time sleep);
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

my $pid = $t->start_supervisor(config => $t->write_config(poll_interval => 60, log_level => 'debug'));
sleep 0.5;

# Inserted while the supervisor sleeps (poll_interval 60 s): NOTIFY.
my $t0 = time;
my $now = $t->add_schedule(name => 'inserted now');
ok($t->wait_until(sub { defined request_time($now) }, 5), 'a schedule inserted while sleeping is dispatched');
cmp_ok(request_time($now) - $t0, '<', 2, 'within a couple of seconds, not at the next poll');

# Due in two seconds: it fires at its time, not before.
my $soon = $t->add_schedule(name => 'due soon', next_run_at => \"now() + interval '2 seconds'");
ok($t->wait_until(sub { defined request_time($soon) }, 10), 'a schedule due in 2 s is dispatched');
my $lag = request_time($soon) - due_epoch($soon);
cmp_ok($lag, '>=', 0, 'not before its due time');
cmp_ok($lag, '<', 1, 'and well within a second of it (woken by its due time, not by polling)');

# Re-timed earlier (as evalschedctl trigger does): NOTIFY again.
my $later = $t->add_schedule(name => 'retimed', next_run_at => \"now() + interval '1 day'");
sleep 0.3;
$t0 = time;
$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() WHERE id = '$later'");
ok($t->wait_until(sub { defined request_time($later) }, 5), 'a schedule made due sooner is dispatched');
cmp_ok(request_time($later) - $t0, '<', 2, 'at once');

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
ok($t->wait_until(sub { defined request_time($polled) }, 10), 'listen = no: a new schedule is dispatched by polling');
is($t->sql_value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'evalsched-supervisor' "
    . "AND query ILIKE 'LISTEN%'"), 0, 'listen = no: no LISTEN was issued');
is($t->stop_supervisor('nolisten') >> 8, 0, 'clean exit');
done_testing;
