# What a schedule's owner reads names no address of the deployment.  A
# run's error_message and error_details (the owner reads them through
# the application's row-level security) and its alert (the outbox, the
# owner's alert_history, the webhook's body) carry neither app_url nor
# its host, IP address or port, nor a path, whatever the failure: the
# route's own 500 (three attempts), a gateway's 502 whose page names
# where it was going (unresolved, then failed when no batch test turns
# up), a connection refused.  The supervisor's log keeps all of it.
use strict;
use warnings;
use lib 'tests/lib';
use IO::Socket::INET;
use JSON::PP qw(encode_json);
use Test::More;
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
my $url = $t->start_api;
my ($port) = $url =~ /:(\d+)$/ or die "no port in $url\n";
my $hport = $t->start_receiver;

# A port nobody listens on.
my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Listen => 1) or die "socket: $!";
my $closed = $sock->sockport;
close $sock;
my $refusing = "http://localhost:$closed";

my $user = $t->add_user;
$t->sql("INSERT INTO user_webhooks (user_id, name, url) VALUES ('$user', "
    . "'hook', 'http://127.0.0.1:$hport/hook/owner')");

# Anything that would say where the deployment is.
my $ADDRESS = qr{127\.0\.0\.1|localhost|:(?:$port|$closed)\b
    |\bport\s+(?:$port|$closed)\b|\b(?:$port|$closed)\b|batch-testing|/api/
    |\Q${\ $t->dir}\E|evalsched-jobrunner}x;

# What the owner reads, as the application reads it: their role, their id.
sub as_owner {
	my ($sql) = @_;
	return $t->sql("BEGIN; SET LOCAL ROLE authenticated; SET LOCAL "
	    . "request.jwt.claims = '{\"sub\": \"$user\", \"role\": "
	    . "\"authenticated\"}'; $sql; COMMIT");
}

sub runs_of {
	my ($id) = @_;
	return as_owner("SELECT status, error_message, error_details::text "
	    . "FROM scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$id'");
}

sub failed {
	my ($id) = @_;
	return grep { $_->[0] eq 'failed' } runs_of($id);
}

sub no_address {
	my ($text, $what) = @_;
	unlike($text // '', $ADDRESS, $what) or diag $text;
}

my %case;
my $conf = $t->write_config(run_timeout => 4, poll_interval => 2,
    webhook_allow => '127.0.0.1/32');
$t->start_supervisor(config => $conf);
$case{'the route\'s 500'} = [$t->add_schedule(user_id => $user,
    name => 'route 500', model_id => 'standin:status=500'),
    qr/^HTTP 500 from the application: \{"error": "stand-in error 500"\}$/];
$case{'a gateway\'s 502'} = [$t->add_schedule(user_id => $user,
    name => 'gateway 502', model_id => 'standin:named,status=502'),
    qr/^HTTP 502 from the application: <html> .*upstream \[address\] did not answer.*; no batch test turned up in the 4 s that followed$/];
for my $what (sort keys %case) {
	ok($t->wait_until(sub { failed($case{$what}[0]) == 1 }, 30), "$what: failed")
	    or diag $t->supervisor_log;
}
$t->stop_supervisor;
my $log = $t->supervisor_log;
like($log, qr{HTTP 500 from \Q$url\E/api/batch-testing/run: },
    'the log names the URL the 500 came from');
like($log, qr{HTTP 502 from \Q$url\E/api/batch-testing/run: .*upstream \Q$url\E/api/batch-testing/run did not answer},
    'and the 502, with its page as it came');

$case{'a connection refused'} = [$t->add_schedule(user_id => $user,
    name => 'refused'), qr/^connection refused$/];
$t->start_supervisor(config => $t->write_config(app_url => $refusing,
    run_timeout => 4, poll_interval => 2, webhook_allow => '127.0.0.1/32'));
ok($t->wait_until(sub { failed($case{'a connection refused'}[0]) == 1 }, 30),
    'a connection refused: failed') or diag $t->supervisor_log;
like($t->supervisor_log, qr{connection refused; POST \Q$refusing\E/api/batch-testing/run: .*localhost},
    'the log names the URL refused, with libcurl\'s words');

for my $what (sort keys %case) {
	my ($id, $want) = @{ $case{$what} };
	my ($run) = failed($id);
	like($run->[1], $want, "$what: the error says what happened ($run->[1])");
	no_address($run->[1], "$what: no address in error_message");
	like($run->[2], qr/"blame": "platform"/, "$what: error_details are there");
	no_address($run->[2], "$what: none in error_details");
	my @alerts = $t->sql("SELECT message, metadata::text FROM evalsched_alerts "
	    . "WHERE scheduled_evaluation_id = '$id'");
	is(scalar @alerts, 1, "$what: one alert");
	like($alerts[0][0] // '', qr/^Your scheduled evaluation failed\. /, "$what: the alert tells of it");
	no_address(join("\n", map { $_ // '' } @{ $alerts[0] // [] }),
	    "$what: none in the alert's message and metadata");
}

# The alerts as they reach the owner: their history, their webhook.
ok($t->wait_until(sub { $t->received('owner') == 3 }, 30),
    'the three alerts reached the owner\'s webhook') or diag $t->supervisor_log;
no_address(join("\n", map { $_->{body} // '' } $t->received('owner')),
    'none in what the webhook was sent');
# The history's row of a delivery is written when it has ended, after
# the receiver has it.
my @history;
$t->wait_until(sub { @history = as_owner("SELECT title, message, "
    . "metadata::text FROM alert_history"); @history == 3 }, 10);
is(scalar @history, 3, 'the owner reads the three in their alert history');
no_address(join("\n", map { join "\n", map { $_ // '' } @$_ } @history),
    'none there');
is($t->stop_supervisor >> 8, 0, 'clean exit');
done_testing;
