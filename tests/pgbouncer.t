# The database as Supabase hands it out, through Debian's PgBouncer: in
# transaction mode on port 6543, where LISTEN is never answered and a
# statement prepared in one transaction is unknown in the next, and in
# session mode on 5432.  -n tells listen = yes through transaction mode
# apart (exit 78, saying to set listen = no) and is content otherwise;
# the supervisor dispatches and completes runs either way, polling in
# transaction mode and woken by NOTIFY in session mode.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test;

my ($pgbouncer) = grep { -x } '/usr/sbin/pgbouncer', map { "$_/pgbouncer" }
    split /:/, $ENV{PATH} // '';
plan skip_all => 'no pgbouncer (tests/install-deps.sh installs Debian\'s)'
    unless $pgbouncer;
plan skip_all => 'PgBouncer will not run as root, and there is no postgres user'
    if $> == 0 && !defined getpwnam('postgres');

my $t = Evalsched::Test->new;
my $dir = $t->dir;
my $sup = Evalsched::Test::bin('evalsched-supervisor');
$t->start_pg;
$t->start_api;

# A PgBouncer in front of the cluster, on a Unix socket of its own, as
# the unprivileged postgres user when we are root; returns its conninfo.
sub bouncer {
	my ($mode, $port) = @_;
	my $d = "$dir/bouncer-$mode";
	mkdir $d;
	my ($uid, $gid) = $> == 0 ? (getpwnam('postgres'))[2, 3] : ($>, $));
	chown $uid, $gid, $d;
	$t->spew("$d/userlist.txt", "\"postgres\" \"\"\n");
	$t->spew("$d/pgbouncer.ini", <<"EOF");
[databases]
postgres = host=$dir/pgsock port=5432 dbname=postgres user=postgres

[pgbouncer]
unix_socket_dir = $d
listen_port = $port
auth_type = trust
auth_file = $d/userlist.txt
pool_mode = $mode
default_pool_size = 4
max_client_conn = 50
EOF
	$t->spawn("bouncer-$mode", [$pgbouncer, "$d/pgbouncer.ini"], "$d/log",
	    child => sub {
		return unless $> == 0;
		$( = $) = "$gid $gid";
		$< = $> = $uid;
	    });
	$t->wait_until(sub { -S "$d/.s.PGSQL.$port" }, 15)
	    or die "pgbouncer ($mode) did not start:\n" . $t->slurp("$d/log");
	return "host=$d port=$port dbname=postgres user=postgres";
}

sub check {
	my ($conf) = @_;
	my $r = $t->run_program([$sup, '-n', '-c', $conf]);
	return ($r->{status}, $r->{err});
}

# A due schedule, run by a supervisor of its own through the pooler;
# true once its run has completed.
sub completes {
	my ($name, $timeout, %conf) = @_;
	mkdir "$dir/spool-$name";
	$t->start_supervisor(name => $name, config => $t->write_config(%conf,
	    node_name => $name, spool_dir => "$dir/spool-$name"));
	my $id = $t->add_schedule(name => "through $name");
	my $ok = $t->wait_until(sub { $t->sql_value("SELECT status FROM "
	    . "scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$id'")
	    // '' eq 'completed' }, $timeout);
	diag $t->supervisor_log($name) unless $ok;
	return $ok;
}

# --- transaction mode, Supabase's port 6543 ----------------------------------

my $txn = bouncer('transaction', 6543);
my $listening = $t->write_config(database => $txn, listen => 'yes');
my ($st, $err) = check($listening);
is($st, 78, 'transaction mode, listen = yes: -n exits 78');
like($err, qr/^\S+: listen: yes, but notifications do not come back through this database connection .*; port 6543 is Supabase's pooler in transaction mode; the server's process is not the one the connection was given .*: it goes through a pooler in transaction mode, .* set listen = no \(runs then wait up to poll_interval, 60 s, for their batch tests' ends\), or connect directly or through the pooler's session mode/m,
    '... and says to set listen = no, naming the signs') or diag $err;
unlike($err, qr/configuration OK/, '... not OK');
my $r = $t->run_program([$sup, '-t', '-c', $listening]);
is($r->{status}, 0, '-t, without the database: exit 0');
like($r->{err}, qr/^\S+: warning: listen: yes, and the database's port is 6543, Supabase's pooler in transaction mode, .*set listen = no/m,
    '... but the port alone draws a warning');

my $polling = $t->write_config(database => $txn, listen => 'no', poll_interval => 2);
($st, $err) = check($polling);
is($st, 0, 'transaction mode, listen = no: -n exits 0') or diag $err;
is($err, '', '... saying nothing');

my %polling = (database => $txn, listen => 'no', poll_interval => 2);
ok(completes('txn', 30, %polling),
    'transaction mode, listen = no: a run is dispatched and completes');
ok(completes('txn2', 30, %polling), '... and one of a second supervisor, '
    . 'sharing the pool with the first');
is($t->stop_supervisor('txn') >> 8, 0, '... the supervisors stop cleanly');
is($t->stop_supervisor('txn2') >> 8, 0, '...');
unlike($t->supervisor_log('txn') . $t->supervisor_log('txn2'),
    qr/prepared statement|refuses|ERROR/i, '... no statement failed on the way');

# --- session mode, 5432 ---------------------------------------------------------

my $session = bouncer('session', 5432);
my $woken = $t->write_config(database => $session, listen => 'yes', poll_interval => 600);
($st, $err) = check($woken);
is($st, 0, 'session mode, listen = yes: -n exits 0') or diag $err;
is($err, '', '... with no advice');
ok(completes('session', 20, database => $session, listen => 'yes',
    poll_interval => 600),
    'session mode: a run completes long before poll_interval (600 s): NOTIFY came through');
is($t->stop_supervisor('session') >> 8, 0, '... and the supervisor stops cleanly');

done_testing;
