# A stall injector (tests/stall-proxy) between the programs under test and
# the harness's PostgreSQL: it forwards, or freezes without closing (a
# stuck pooler, a hung server, a full pool), drops every connection,
# refuses new ones, or freezes when a given statement comes.
#
#   my $t = Evalsched::Test->new;
#   $t->start_pg;
#   my $p = Evalsched::Stall->start($t);
#   $t->start_supervisor(config => $t->write_config(database => $p->conninfo));
#   $p->freeze_on('FOR UPDATE SKIP LOCKED');
#   $p->wait_tripped(30) or die;	# the claim is held, unsent
#   ...
#   $p->thaw;
#
# Every control method waits for the proxy's answer, so the mode is in
# force when it returns, and returns the status (a hash ref; see
# tests/stall-proxy).  The proxy is stopped by ->stop, when the object
# goes away, or at the latest by the harness's teardown.
package Evalsched::Stall;

use strict;
use warnings;
use IO::Socket::UNIX;
use JSON::PP ();
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(sleep time);
use Evalsched::Test;

my $N = 0;

# Options: port (in the socket's name, default 6432), tcp => 1 (also on
# 127.0.0.1, see tcp_conninfo), mode (the initial one: pass, freeze,
# refuse or down), upstream (a server socket other than the harness's).
sub start {
	my ($class, $t, %opt) = @_;
	my $upstream = $opt{upstream}
	    // ($t->{pgsock} && "$t->{pgsock}/.s.PGSQL.5432")
	    // die "Evalsched::Stall->start: start_pg first\n";
	my $n = ++$N;
	my $name = "stall$n";
	my $base = $t->dir . "/$name";
	my $port = $opt{port} // 6432;
	my @cmd = (Evalsched::Test::top() . '/tests/stall-proxy',
	    '--dir', $base, '--port', $port, '--upstream', $upstream,
	    '--control', "$base.ctl", '--ready-file', "$base.ready",
	    '--log', "$base.log");
	push @cmd, '--tcp' if $opt{tcp};
	push @cmd, '--mode', $opt{mode} if $opt{mode};
	$t->spawn($name, \@cmd, "$base.err");
	$t->wait_until(sub { -s "$base.ready" }, 15)
	    or die "stall-proxy did not start:\n" . $t->slurp("$base.err");
	my $info = JSON::PP::decode_json($t->slurp("$base.ready"));
	return bless {
		t => $t,
		name => $name,
		dir => $base,
		port => $port,
		tcp_port => $info->{tcp_port},
		control => "$base.ctl",
		log => "$base.log",
		owner_pid => $$,
		armed_trips => 0,
	}, $class;
}

sub dir { $_[0]{dir} }
sub port { $_[0]{port} }
sub tcp_port { $_[0]{tcp_port} }
sub pid { $_[0]{t}{pids}{ $_[0]{name} } }

sub conninfo {
	my ($self) = @_;
	return "host=$self->{dir} port=$self->{port} dbname=postgres user=postgres";
}

sub tcp_conninfo {
	my ($self) = @_;
	die "the stall proxy was started without tcp => 1\n"
	    unless $self->{tcp_port};
	return "host=127.0.0.1 port=$self->{tcp_port} dbname=postgres "
	    . "user=postgres sslmode=disable";
}

# psql through the proxy, as Evalsched::Test's psql_cmd.
sub psql_cmd {
	my ($self) = @_;
	return ('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h',
	    $self->{dir}, '-p', $self->{port}, '-U', 'postgres', '-d',
	    'postgres');
}

# Sends one command; returns the status after it.  Dies when the proxy
# refuses it or does not answer.
sub control {
	my ($self, $cmd, $arg) = @_;
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM,
	    Peer => $self->{control}, Timeout => 10)
	    or die "stall-proxy control: $!\n";
	my $req = { cmd => $cmd };
	$req->{arg} = "$arg" if defined $arg;
	print $s JSON::PP->new->canonical->encode($req), "\n";
	$s->flush;
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	select(my $rout = $rin, undef, undef, 10)
	    or die "stall-proxy control: no answer to $cmd\n";
	my $line = <$s>;
	close $s;
	die "stall-proxy control: no answer to $cmd\n" unless defined $line;
	my $r = JSON::PP::decode_json($line);
	die "stall-proxy: $cmd: $r->{error}\n" unless $r->{ok};
	return $r;
}

sub status { $_[0]->control('status') }
sub mode { $_[0]->status->{mode} }

sub pass { $_[0]->control('pass') }
sub thaw { $_[0]->control('thaw') }
sub freeze { $_[0]->control('freeze') }
sub refuse { $_[0]->control('refuse') }
sub down { $_[0]->control('down') }
sub disarm { $_[0]->control('disarm') }

# Closes every connection; then the mode is $mode (default pass).
sub drop {
	my ($self, $mode) = @_;
	return $self->control('drop', $mode);
}

# Arms a trigger: the next query message containing $text (freeze_on:
# everything freezes; stall_on: only that connection), or the query
# message after the next $n (freeze_after, stall_after).  The message
# and what follows it are held until the thaw.
sub freeze_on { $_[0]->_arm('freeze_on', $_[1]) }
sub stall_on { $_[0]->_arm('stall_on', $_[1]) }
sub freeze_after { $_[0]->_arm('freeze_after', $_[1]) }
sub stall_after { $_[0]->_arm('stall_after', $_[1]) }

sub _arm {
	my ($self, $cmd, $arg) = @_;
	my $r = $self->control($cmd, $arg);
	$self->{armed_trips} = $r->{trips};
	return $r;
}

# Whether the trigger armed last has fired, waiting up to $timeout
# seconds (default 30) for it.
sub wait_tripped {
	my ($self, $timeout) = @_;
	return $self->wait_for(sub { $_[0]{trips} > $self->{armed_trips} },
	    $timeout);
}

# The last trip: { conn => N, query => the SQL text }, or undef.
sub last_trip { $_[0]->status->{last_trip} }

# Client connections open now; accepted ever.
sub connections { $_[0]->status->{open} }
sub accepted { $_[0]->status->{accepted} }

# Waits until $cond->(status) is true; whether it became so.
sub wait_for {
	my ($self, $cond, $timeout) = @_;
	my $deadline = time + ($timeout // 30);
	while (1) {
		return 1 if $cond->($self->status);
		return 0 if time >= $deadline;
		sleep 0.05;
	}
}

# The proxy's event log (accepts, closes, modes, trips).
sub log_text { $_[0]{t}->slurp($_[0]{log}) }

sub stop {
	my ($self) = @_;
	return if $self->{stopped} || $$ != $self->{owner_pid} || !$self->{t};
	$self->{stopped} = 1;
	$self->{t}->stop($self->{name}, 'TERM');
}

sub DESTROY {
	my ($self) = @_;
	local ($@, $!, $?);
	$self->stop;
}

1;
