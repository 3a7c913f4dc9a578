# The service key stays secret: never in a child's argv or environment,
# never in the log, never in an error, even when it reaches the supervisor
# through its own environment.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
my $key = $t->key;

$t->add_schedule(name => "hung $_", model_id => 'standin:hang') for 1 .. 2;
$t->add_schedule(name => 'refused', model_id => 'standin:status=401');
$t->add_schedule(name => 'broken', model_id => 'standin:badjson');
# The key comes from the environment here, as the previous worker took it.
my $conf = $t->write_config(service_role_key_file => undef, max_concurrent => 4,
    run_timeout => 30, shutdown_grace => 0);
$t->start_supervisor(config => $conf, child => sub {
	$ENV{SUPABASE_SERVICE_ROLE_KEY} = $key;
	$ENV{PGPASSWORD} = 'db-secret';
});
ok($t->wait_until(sub { scalar($t->api_requests) == 4 }, 20), 'four requests made');
is((grep { ($_->{headers}{'x-service-role-key'} // '') eq $key } $t->api_requests), 4,
    'the key from the environment reached the API in the header');

my %kids = $t->jobrunners_of($t->supervisor_pid);
cmp_ok(scalar keys %kids, '>=', 2, 'the hung jobrunners are alive (and perhaps a spare)');
for my $pid (sort keys %kids) {
	my ($cmdline, $environ) = @{ $kids{$pid} };
	unlike($cmdline, qr/\Q$key\E/, "jobrunner $pid: the key is not in its argv");
	unlike($environ, qr/\Q$key\E/, "jobrunner $pid: the key is not in its environment");
	unlike($environ, qr/SUPABASE_SERVICE_ROLE_KEY|PGPASSWORD|EVALSCHED_DATABASE/,
	    "jobrunner $pid: no key or database credential variable at all");
}
is($t->stop_supervisor >> 8, 0, 'stopped');
my $log = $t->supervisor_log;
like($log, qr/HTTP 401/, 'the refusal is logged');
unlike($log, qr/\Q$key\E/, 'the key is not in the log');
unlike(join("\n", map { @$_ } map { [ map { $_ // '' } @$_ ] }
    $t->sql('SELECT error_message, error_details::text FROM scheduled_evaluation_runs')),
    qr/\Q$key\E/, 'the key is not in any recorded error');
done_testing;
