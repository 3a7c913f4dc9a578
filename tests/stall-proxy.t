# The stall injector itself (tests/stall-proxy, Evalsched::Stall): psql
# through it works; a freeze holds a query (on an open connection and on
# a new one) without closing anything and the thaw lets it finish; drop
# closes; refuse and down turn new connections away; freeze_on,
# stall_on and freeze_after hold the matching statement, unsent.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use IPC::Open3 qw(open3);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);
use Evalsched::Test;
use Evalsched::Stall;

my $t = Evalsched::Test->new;
$t->start_pg(no_schema => 1);
my $p = Evalsched::Stall->start($t, tcp => 1);
my $dir = $t->dir;

# --- a psql session kept open, fed statements one by one ----------------

my $nsess = 0;
sub session {
	my ($p) = @_;
	my $app = 'stall-t-' . ++$nsess;
	local $ENV{PGAPPNAME} = $app;
	my $pid = open3(my $in, my $out, undef, $p->psql_cmd, '-A', '-t');
	$in->autoflush(1);
	my $s = { pid => $pid, in => $in, out => $out, buf => '', app => $app };
	query($s, "SELECT 'hello'");
	expect($s, 'hello', 10) or die "no session through the proxy\n";
	return $s;
}

sub query {
	my ($s, $sql) = @_;
	print { $s->{in} } "$sql;\n";
}

# Whether a line $line came within $timeout seconds.
sub expect {
	my ($s, $line, $timeout) = @_;
	my $deadline = time + $timeout;
	while (1) {
		while ($s->{buf} =~ s/\A(.*)\n//) {
			return 1 if $1 eq $line;
			$s->{seen} .= "$1\n";
		}
		my $left = $deadline - time;
		return 0 if $left <= 0;
		my $rin = '';
		vec($rin, fileno($s->{out}), 1) = 1;
		next unless select(my $rout = $rin, undef, undef, $left);
		my $n = sysread $s->{out}, $s->{buf}, 4096, length $s->{buf};
		return 0 unless $n;	# psql is gone
	}
}

sub session_exited {
	my ($s, $timeout) = @_;
	return $t->wait_until(sub { waitpid($s->{pid}, WNOHANG) == $s->{pid} },
	    $timeout);
}

sub end_session {
	my ($s) = @_;
	close $s->{in};
	session_exited($s, 10) or kill 'KILL', $s->{pid};
	waitpid $s->{pid}, 0;
}

# A one-statement psql in the background; its output goes to a file.
my $nbg = 0;
sub background {
	my ($p, $sql) = @_;
	return background_cmd($p->psql_cmd, '-A', '-t', '-c', $sql);
}

sub background_cmd {
	my (@cmd) = @_;
	my $out = "$dir/bg" . ++$nbg . '.out';
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open STDOUT, '>', $out;
		open STDERR, '>&', \*STDOUT;
		exec @cmd or POSIX::_exit(127);
	}
	return { pid => $pid, out => $out };
}

sub bg_done {
	my ($bg, $timeout) = @_;
	return 1 if exists $bg->{status};
	my $ok = $t->wait_until(sub { waitpid($bg->{pid}, WNOHANG) == $bg->{pid} },
	    $timeout);
	$bg->{status} = $? if $ok;
	return $ok;
}

sub bg_output { $t->slurp($_[0]{out}) }

# Backends of a session, seen directly (not through the proxy).
sub backends {
	my ($app) = @_;
	return $t->sql_value("SELECT count(*) FROM pg_stat_activity "
	    . "WHERE application_name = '$app'");
}

sub backend_query {
	my ($app) = @_;
	return $t->sql_value("SELECT query FROM pg_stat_activity "
	    . "WHERE application_name = '$app'");
}

# --- pass ----------------------------------------------------------------

like($p->conninfo, qr/^host=\S+ port=6432 dbname=postgres user=postgres$/,
    'conninfo names the proxy\'s socket directory and port');
ok(-S $p->dir . '/.s.PGSQL.6432', 'it listens on a socket named as PostgreSQL\'s');
{
	my $bg = background($p, 'SELECT 6 * 7');
	ok(bg_done($bg, 15), 'psql through the proxy finishes');
	is($bg->{status}, 0, '... successfully');
	is(bg_output($bg), "42\n", '... with the answer');
	ok($p->wait_for(sub { $_[0]{open} == 0 }, 10),
	    'the connection is closed when psql quits');
	is($p->accepted, 1, 'one connection accepted');
}
{
	local $ENV{PGCONNECT_TIMEOUT} = 10;
	my $r = `psql -X -A -t -d '@{[ $p->tcp_conninfo ]}' -c 'SELECT 1+1' 2>&1`;
	is($r, "2\n", 'psql through the TCP listener');
}

# --- freeze and thaw, an open connection -----------------------------------

{
	my $s = session($p);
	is(backends($s->{app}), 1, 'a session has its backend');
	my $st = $p->freeze;
	is($st->{mode}, 'freeze', 'freeze: the mode');
	query($s, "SELECT 'two'");
	ok(!expect($s, 'two', 1.5), 'frozen: a query on an open connection hangs');
	ok(waitpid($s->{pid}, WNOHANG) == 0, '... psql is still there');
	$st = $p->status;
	is($st->{open}, 1, '... the connection stays open');
	is($st->{frozen}, 1, '... and frozen');
	is(backends($s->{app}), 1, '... and so does its backend');
	like(backend_query($s->{app}), qr/'hello'/,
	    '... which never saw the query');
	$p->thaw;
	ok(expect($s, 'two', 10), 'thawed: the held query is answered');
	query($s, "SELECT 'three'");
	ok(expect($s, 'three', 10), '... and the connection goes on');
	end_session($s);
}

# --- freeze and thaw, a new connection -------------------------------------

{
	$p->freeze;
	my $before = $p->accepted;
	my $bg = background($p, "SELECT 'late'");
	ok(!bg_done($bg, 1.5), 'frozen: a new connection\'s query does not finish');
	my $st = $p->status;
	is($st->{accepted}, $before + 1, '... it was accepted');
	is($st->{pending}, 1, '... with no upstream connection yet');
	is($st->{open}, 1, '... and is open');
	$p->thaw;
	ok(bg_done($bg, 15), 'thawed: it finishes');
	is(bg_output($bg), "late\n", '... with its answer');
}

# --- drop --------------------------------------------------------------------

{
	my $s = session($p);
	$p->freeze;
	my $st = $p->drop;
	is($st->{mode}, 'pass', 'drop: then passing');
	is($st->{open}, 0, '... no connection open');
	ok($t->wait_until(sub { backends($s->{app}) == 0 }, 10),
	    '... the backend saw its connection close');
	query($s, "SELECT 'after drop'");
	ok(session_exited($s, 10), '... psql saw it too');
	like($s->{buf} . ($s->{seen} // '') . do { local $/; my $o = $s->{out}; <$o> // '' },
	    qr/closed the connection|connection to server was lost|terminat/i,
	    '... as a lost connection') or diag $s->{buf};
	my $bg = background($p, "SELECT 'new'");
	ok(bg_done($bg, 15) && bg_output($bg) eq "new\n",
	    'a new connection after the drop works');
}

# --- refuse and down ------------------------------------------------------------

{
	my $s = session($p);
	$p->refuse;
	my $bg = background($p, "SELECT 'refused'");
	ok(bg_done($bg, 10), 'refuse: psql ends at once');
	isnt($bg->{status}, 0, '... failing');
	is($p->status->{refused}, 1, '... one refused');
	query($s, "SELECT 'still'");
	ok(expect($s, 'still', 10), '... an open connection goes on');

	$p->down;
	$bg = background($p, "SELECT 'down'");
	ok(bg_done($bg, 10), 'down: psql ends at once');
	like(bg_output($bg), qr/refused/i, '... connection refused');
	query($s, "SELECT 'still up'");
	ok(expect($s, 'still up', 10), '... an open connection goes on');

	$p->pass;
	$bg = background($p, "SELECT 'back'");
	ok(bg_done($bg, 15) && bg_output($bg) eq "back\n",
	    'pass again: new connections work');
	end_session($s);
}

# --- freeze_on: everything freezes at the matching statement -------------------

{
	my $s = session($p);
	$p->freeze_on('stall_me');
	query($s, "SELECT 'before'");
	ok(expect($s, 'before', 10), 'freeze_on: other statements pass');
	query($s, "SELECT 'stall_me'");
	ok($p->wait_tripped(10), '... the matching one trips it');
	is($p->mode, 'freeze', '... everything is frozen');
	is($p->last_trip->{query}, "SELECT 'stall_me';", '... the statement is known');
	ok(!expect($s, 'stall_me', 1), '... and held');
	like(backend_query($s->{app}), qr/'before'/, '... never sent to the server');
	my $bg = background($p, "SELECT 'other'");
	ok(!bg_done($bg, 1), '... a new connection is frozen too');
	$p->thaw;
	ok(expect($s, 'stall_me', 10), 'thawed: the held statement is answered');
	ok(bg_done($bg, 15) && bg_output($bg) eq "other\n", '... and the other one');
	query($s, "SELECT 'stall_me again'");
	ok(expect($s, 'stall_me again', 10), '... the trigger fired once only');
	end_session($s);
}

# --- stall_on: only the matching connection freezes ----------------------------

{
	my $s = session($p);
	my $s2 = session($p);
	$p->stall_on('FOR UPDATE SKIP LOCKED');
	query($s, "SELECT 'locked' FROM (SELECT 1) x FOR UPDATE SKIP LOCKED");
	ok($p->wait_tripped(10), 'stall_on: the matching statement trips it');
	my $st = $p->status;
	is($st->{mode}, 'pass', '... the mode is still pass');
	is($st->{frozen}, 1, '... one connection is frozen');
	ok(!expect($s, 'locked', 1), '... its statement is held');
	query($s2, "SELECT 'free'");
	ok(expect($s2, 'free', 10), '... another connection goes on');
	my $bg = background($p, "SELECT 'new'");
	ok(bg_done($bg, 15) && bg_output($bg) eq "new\n", '... so does a new one');
	$p->thaw;
	ok(expect($s, 'locked', 10), 'thawed: the held statement is answered');
	end_session($_) for $s, $s2;
}

# --- freeze_after ------------------------------------------------------------

{
	my $s = session($p);
	$p->freeze_after(2);
	query($s, "SELECT 'a'");
	query($s, "SELECT 'b'");
	ok(expect($s, 'a', 10) && expect($s, 'b', 10),
	    'freeze_after 2: two statements pass');
	query($s, "SELECT 'c'");
	ok($p->wait_tripped(10), '... the third trips it');
	ok(!expect($s, 'c', 1), '... and is held');
	$p->thaw;
	ok(expect($s, 'c', 10), 'thawed: answered');
	end_session($s);
}

# --- extended protocol (Parse) and signals ---------------------------------------

SKIP: {
	skip 'no pgbench for the extended protocol', 4
	    unless system('pgbench --version >/dev/null 2>&1') == 0;
	$t->spew("$dir/extended.sql", "SELECT 'extended_me';\n");
	$p->freeze_on('extended_me');
	my $bg = background_cmd('pgbench', '-n', '-M', 'extended', '-t', '1',
	    '-f', "$dir/extended.sql", '-h', $p->dir, '-p', $p->port,
	    '-U', 'postgres', 'postgres');
	ok($p->wait_tripped(10), 'freeze_on matches a Parse message');
	like($p->last_trip->{query}, qr/^SELECT 'extended_me'/, '... that one');
	ok(!bg_done($bg, 1), '... held');
	kill 'USR2', $p->pid;
	ok(bg_done($bg, 15) && $bg->{status} == 0, 'SIGUSR2 thaws')
	    or diag bg_output($bg);
}
kill 'USR1', $p->pid;
ok($p->wait_for(sub { $_[0]{mode} eq 'freeze' }, 10), 'SIGUSR1 freezes');
$p->thaw;

# --- stop ----------------------------------------------------------------------

{
	my $sock = $p->dir . '/.s.PGSQL.6432';
	$p->stop;
	ok(!-e $sock, 'stop: the socket file is gone');
}

done_testing;
