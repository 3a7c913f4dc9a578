# Signals: SIGHUP rereads the configuration (a bad new one is logged and
# the old one kept), SIGUSR1 logs a status summary, and a storm of both
# changes nothing.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use File::Copy qw(copy);
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
my $url1 = $t->start_api(mode => 'never');
my $conf = $t->write_config(max_concurrent => 2);
my $pid = $t->start_supervisor(config => $conf);

sub ran {
	my ($name) = @_;
	return $t->wait_until(sub { $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
	    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
	    . "WHERE s.name = '$name' AND r.status = 'running'") == 1 }, 15);
}

$t->add_schedule(name => 'before');
ok(ran('before'), 'dispatches before any reload');

# A good new configuration: a second API and a new limit take effect.
my $url2 = $t->start_api(mode => 'never');
copy($t->write_config(max_concurrent => 5), $conf) or die;
kill 'HUP', $pid;
ok($t->wait_log(qr/reload: configuration reread/, 10), 'SIGHUP: rereads the configuration');
$t->add_schedule(name => 'after good reload');
ok(ran('after good reload'), 'dispatches after the reload');
is(scalar($t->api_requests), 1, 'SIGHUP: the new app_url is used');
ok($t->wait_until(sub { `ps -o args= -p $pid` =~ m{/5 running} }, 5),
    'SIGHUP: the new max_concurrent shows in the process title');

# A bad new configuration: logged, the old one kept.
$t->spew($conf, $t->slurp($conf) . "max_concurrent = lots\nnot a line\n");
kill 'HUP', $pid;
ok($t->wait_log(qr/reload: \S+:\d+: duplicate key 'max_concurrent'/, 10),
    'SIGHUP with a bad file: the error is logged as file:line');
ok($t->wait_log(qr/reload: configuration unchanged/, 5), 'and the old configuration is kept');
ok(kill(0, $pid), 'the supervisor keeps running');
$t->add_schedule(name => 'after bad reload');
ok(ran('after bad reload'), 'and keeps dispatching with the old configuration');

# SIGUSR1: a status summary.
kill 'USR1', $pid;
ok($t->wait_log(qr/status: supervisor \S+ on test-node, database up, 0\/5 running, 3 dispatched/, 10),
    'SIGUSR1: logs a status summary');

# A storm of SIGHUP and SIGUSR1 while schedules are due.
my @storm = map { $t->add_schedule(name => "storm $_", model_id => 'standin:slow=200,never') } 1 .. 10;
for (1 .. 300) {
	kill 'HUP', $pid;
	kill 'USR1', $pid;
}
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
    . "WHERE s.name LIKE 'storm %' AND r.status <> 'triggered'") == 10 }, 30),
    'storm: every due schedule still ran');
is($t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs r "
    . "JOIN scheduled_evaluations s ON s.id = r.scheduled_evaluation_id "
    . "WHERE s.name LIKE 'storm %'"), 10, 'storm: nothing fired twice');
ok(kill(0, $pid), 'storm: the supervisor is alive');
is($t->stop_supervisor >> 8, 0, 'storm: and exits cleanly on SIGTERM');
done_testing;
