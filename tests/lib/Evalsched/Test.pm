# The integration-test harness: a throwaway PostgreSQL cluster (a copy of
# one made once: pg_template; Unix socket only, run as an unprivileged
# user when we are root), the stand-in evaluation API, configs, and the
# programs of the installed layout driven from outside.
package Evalsched::Test;

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h setsid);
use Time::HiRes qw(sleep time);
use Exporter 'import';

our @EXPORT_OK = qw(uuid);

my $TOP = abs_path(dirname(__FILE__) . '/../../..');

# libpq's variables of whoever runs the tests would reach the programs
# (and -n warns of them): each test names its cluster itself.
delete @ENV{grep { /^PG/ } keys %ENV};
my @LIVE;	# harnesses to tear down at exit

sub uuid {
	my @b = map { int(rand(256)) } 1 .. 16;
	$b[6] = ($b[6] & 0x0f) | 0x40;
	$b[8] = ($b[8] & 0x3f) | 0x80;
	my $h = join '', map { sprintf '%02x', $_ } @b;
	return join '-', substr($h, 0, 8), substr($h, 8, 4), substr($h, 12, 4),
	    substr($h, 16, 4), substr($h, 20);
}

# Where a program is: the installed tree under test, or the plain build.
sub bin {
	my ($name) = @_;
	my %rel = (
		'evalsched-supervisor' => 'sbin',
		'evalschedctl' => 'bin',
		'evalsched-jobrunner' => 'libexec/evalsched',
		'evalsched-notifier' => 'libexec/evalsched',
	);
	if (defined $ENV{EVALSCHED_ROOT}) {
		my $prefix = $ENV{EVALSCHED_PREFIX} // '/usr/local';
		return "$ENV{EVALSCHED_ROOT}$prefix/$rel{$name}/$name";
	}
	return ($ENV{EVALSCHED_BUILD} // "$TOP/build") . "/$name";
}

sub top { $TOP }

# The output of -n or -t without its list of settings ("key = value  #
# where"), for a test of what it says besides.
sub no_settings {
	my ($text) = @_;
	$text =~ s/^[a-z][a-z_]* =(?: [^\n]*)?  # [^\n]*\n//mg;
	return $text;
}

sub schema_file {
	if (defined $ENV{EVALSCHED_ROOT}) {
		my $prefix = $ENV{EVALSCHED_PREFIX} // '/usr/local';
		return "$ENV{EVALSCHED_ROOT}$prefix/share/evalsched/schema.sql";
	}
	return ($ENV{EVALSCHED_BUILD} // "$TOP/build") . "/schema.sql";
}

sub new {
	my ($class, %opt) = @_;
	my $dir = tempdir('evalsched-test-XXXXXX', TMPDIR => 1,
	    CLEANUP => 0);
	chmod 0755, $dir;
	my $self = bless {
		dir => $dir,
		key => 'sk-test-' . join('', map { ('a'..'z', 0..9)[rand 36] } 1 .. 32),
		pids => {},
		owner_pid => $$,
	}, $class;
	push @LIVE, $self;
	return $self;
}

sub dir { $_[0]{dir} }
sub key { $_[0]{key} }

# --- running things -------------------------------------------------------

sub pg_bindir {
	my $d = `pg_config --bindir 2>/dev/null`;
	chomp $d;
	return $d if $d ne '' && -x "$d/initdb";
	for my $v (17, 16, 15) {
		return "/usr/lib/postgresql/$v/bin"
		    if -x "/usr/lib/postgresql/$v/bin/initdb";
	}
	die "no PostgreSQL server binaries (initdb) found\n";
}

# Runs a command, as the unprivileged database user when we are root.
sub run_as_db_user {
	my ($self, @cmd) = @_;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		if ($> == 0) {
			my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
			die "no postgres user\n" unless defined $uid;
			$( = $) = "$gid $gid";
			$< = $> = $uid;
		}
		open STDOUT, '>>', "$self->{dir}/pg.log";
		open STDERR, '>&', \*STDOUT;
		exec @cmd or POSIX::_exit(127);
	}
	waitpid $pid, 0;
	return $?;
}

sub start_pg {
	my ($self, %opt) = @_;
	my $bindir = pg_bindir();
	my ($data, $sock) = ("$self->{dir}/pgdata", "$self->{dir}/pgsock");
	mkdir $sock;
	if ($> == 0) {
		my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
		chown $uid, $gid, $sock;
		open my $fh, '>', "$self->{dir}/pg.log"; close $fh;
		chown $uid, $gid, "$self->{dir}/pg.log";
	}
	$self->{pgdata} = $data;
	$self->{pgsock} = $sock;
	$self->{pgbin} = $bindir;
	my $template = $self->pg_template($opt{no_schema} ? undef : schema_file());
	system('cp', '-a', $template, $data) == 0
	    or die "cannot copy the cluster $template\n";
	$self->pg_ctl('start') == 0
	    or die "pg_ctl start failed: " . $self->slurp("$self->{dir}/pg.log");
	$self->{pg_started} = 1;
	return $self->conninfo;
}

# A new cluster, with the schema loaded unless $schema is undef, is the
# same for every test: it is made once per server version, user and
# schema text, and each test starts a copy of it.  A test that finds none
# makes it in a directory of its own and renames it into place, so that
# tests running side by side never see half of one.
sub pg_template {
	my ($self, $schema) = @_;
	require Digest::SHA;
	my $sha = Digest::SHA->new(256);
	# Its owner is who runs it: root's is the postgres user's.
	$sha->add($self->{pgbin}, "\0", $> == 0 ? 0 : $>, "\0");
	$sha->addfile($schema) if defined $schema;
	my $cache = "$TOP/build/pg-template";
	my $dest = "$cache/" . substr($sha->hexdigest, 0, 16)
	    . (defined $schema ? '' : '-bare');
	return $dest if -d $dest;
	mkdir $cache;
	my $tmp = tempdir('new-XXXXXX', DIR => $cache, CLEANUP => 0);
	chmod 0700, $tmp;
	if ($> == 0) {
		my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
		chown $uid, $gid, $tmp;
	}
	local $self->{pgdata} = $tmp;
	$self->run_as_db_user("$self->{pgbin}/initdb", '-D', $tmp, '-U',
	    'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8',
	    '--locale=C') == 0
	    or die "initdb failed: " . $self->slurp("$self->{dir}/pg.log");
	if (defined $schema) {
		$self->pg_ctl('start') == 0
		    or die "pg_ctl start failed: "
		    . $self->slurp("$self->{dir}/pg.log");
		$self->psql_file($schema);
		$self->pg_ctl('stop', '-m', 'fast') == 0
		    or die "pg_ctl stop failed\n";
	}
	rename $tmp, $dest or system 'rm', '-rf', $tmp;
	return $dest;
}

sub pg_ctl {
	my ($self, $action, @extra) = @_;
	my $opts = "-k $self->{pgsock} -c listen_addresses='' -c fsync=off "
	    . "-c max_connections=200";
	return $self->run_as_db_user("$self->{pgbin}/pg_ctl", '-D',
	    $self->{pgdata}, '-w', '-t', '60', '-o', $opts, '-l',
	    "$self->{dir}/pg.log", @extra, $action);
}

sub conninfo {
	my ($self) = @_;
	return "host=$self->{pgsock} dbname=postgres user=postgres";
}

sub psql_cmd {
	my ($self) = @_;
	# The server's own psql: Debian's psql is a wrapper script in
	# Perl that picks one, and costs as much again.
	my $psql = defined $self->{pgbin} && -x "$self->{pgbin}/psql"
	    ? "$self->{pgbin}/psql" : 'psql';
	return ($psql, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h',
	    $self->{pgsock}, '-U', 'postgres', '-d', 'postgres');
}

sub psql_file {
	my ($self, $file) = @_;
	local $ENV{PGOPTIONS} = "-c client_min_messages=warning";
	system($self->psql_cmd, '-f', $file, '-o', '/dev/null') == 0
	    or die "psql -f $file failed\n";
}

# Statements whose effect outlives them in their session.
my $SESSION_STATE = qr/(?:\A|;)\s*(?:BEGIN|START\s+TRANSACTION|SET|RESET|
    LISTEN|PREPARE|DECLARE|CREATE\s+(?:LOCAL\s+)?TEMP|LOAD|DISCARD)\b/xi;

# Rows of a query, each an array ref; NULL comes back as undef.  It is
# what psql -c does: the text is sent as one query (several statements
# run in one implicit transaction unless they say otherwise), the rows
# of every statement come back, as PostgreSQL's text, and an error
# dies.
#
# A harness keeps one connection for its queries, speaking PostgreSQL's
# protocol itself: a psql for each query cost as much CPU as the programs
# under test, and the tests ask the database over and over while they
# wait.  A query that leaves something behind in its session (BEGIN
# without an end, SET, LISTEN, a temporary table...) gets a connection of
# its own, closed after it, as psql's would be.
sub sql {
	my ($self, $query) = @_;
	utf8::encode($query) if utf8::is_utf8($query);
	if ($query =~ $SESSION_STATE) {
		my $c = $self->pg_connect;
		my @rows = eval { pg_query($c, $query) };
		my $err = $@;
		pg_close($c);
		die $err if $err;
		return @rows;
	}
	my $c = $self->{conn};
	undef $c if $c && ($c->{pid} != $$ || !pg_idle($c));
	return pg_query($self->{conn} = $c // $self->pg_connect, $query);
}

sub sql_value {
	my ($self, $query) = @_;
	my @rows = $self->sql($query);
	return @rows ? $rows[0][0] : undef;
}

# --- PostgreSQL's frontend protocol, as much as sql needs -----------------
#
# Version 3.0 over the cluster's Unix socket, trust authentication (as
# the cluster is made), the simple query protocol: every value is text.

sub pg_connect {
	my ($self) = @_;
	require IO::Socket::UNIX;
	my $path = "$self->{pgsock}/.s.PGSQL.5432";
	my $sock = IO::Socket::UNIX->new(Peer => $path)
	    or die "cannot connect to $path: $!\n";
	my $params = join('', map { "$_\0" } user => 'postgres',
	    database => 'postgres', application_name => 'test-harness') . "\0";
	my $c = { sock => $sock, pid => $$ };
	pg_send($c, pack('NN', 8 + length $params, 196608) . $params);
	while (1) {
		my ($type, $body) = pg_read($c);
		die "PostgreSQL: " . pg_error($body) . "\n" if $type eq 'E';
		die "PostgreSQL asks for a password\n"
		    if $type eq 'R' && unpack('N', $body) != 0;
		return $c if $type eq 'Z';
	}
}

sub pg_close {
	my ($c) = @_;
	local $SIG{PIPE} = 'IGNORE';
	syswrite $c->{sock}, pack('aN', 'X', 4);
	close $c->{sock};
}

# Whether an idle connection is still one: the server has said nothing
# since its last ReadyForQuery, unless that it is going (it was stopped
# or restarted, or the backend terminated).
sub pg_idle {
	my ($c) = @_;
	my $bits = '';
	vec($bits, fileno $c->{sock}, 1) = 1;
	while (select(my $r = $bits, undef, undef, 0) > 0) {
		my ($type) = eval { pg_read($c) } or return 0;
		return 0 if $type eq 'E';
	}
	return 1;
}

sub pg_send {
	my ($c, $msg) = @_;
	local $SIG{PIPE} = 'IGNORE';
	while (length $msg) {
		my $n = syswrite $c->{sock}, $msg;
		die "PostgreSQL: write: $!\n" unless defined $n;
		substr($msg, 0, $n, '');
	}
}

sub pg_read_bytes {
	my ($c, $n) = @_;
	my $buf = '';
	while (length $buf < $n) {
		my $got = sysread $c->{sock}, $buf, $n - length $buf, length $buf;
		die "PostgreSQL: the connection was closed\n" unless $got;
	}
	return $buf;
}

# One message: its type and its body.
sub pg_read {
	my ($c) = @_;
	my ($type, $len) = unpack 'aN', pg_read_bytes($c, 5);
	return ($type, pg_read_bytes($c, $len - 4));
}

# An ErrorResponse's severity and message, as psql prints them.
sub pg_error {
	my ($body) = @_;
	my %f;
	$f{$1} = $2 while $body =~ /\G([^\0])([^\0]*)\0/gc;
	return ($f{S} // 'ERROR') . ":  " . ($f{M} // '?');
}

sub pg_query {
	my ($c, $query) = @_;
	pg_send($c, pack('aN', 'Q', 5 + length $query) . "$query\0");
	my (@rows, $err);
	while (1) {
		my ($type, $body) = pg_read($c);
		if ($type eq 'D') {
			my $n = unpack 'n', $body;
			my ($pos, @row) = (2);
			for (1 .. $n) {
				my $len = unpack 'l>', substr($body, $pos, 4);
				$pos += 4;
				if ($len < 0) {
					push @row, undef;
					next;
				}
				push @row, substr($body, $pos, $len);
				$pos += $len;
			}
			push @rows, \@row;
		} elsif ($type eq 'E') {
			$err //= pg_error($body);
		} elsif ($type eq 'G') {
			my $why = "sql() has no data to copy\0";
			pg_send($c, pack('aN', 'f', 4 + length $why) . $why);
		} elsif ($type eq 'Z') {
			last;
		}
		# Else a row description, a command's end, a notice, a
		# notification, a parameter, COPY TO's data: nothing to keep.
	}
	die "query failed ($err) on: $query\n" if defined $err;
	return @rows;
}

# Starts the stand-in API.  It has the application's database side effects
# when this harness started PostgreSQL (unless no_db => 1), and accepts only
# $self->key, from service.key (unless any_key => 1).
sub start_api {
	my ($self, %opt) = @_;
	my $n = ++$self->{napi};
	my $portfile = "$self->{dir}/api$n.port";
	my $log = "$self->{dir}/api$n.log";
	my @cmd = ("$TOP/tests/stand-in-api", '--port-file', $portfile,
	    '--log', $log);
	push @cmd, '--mode', $opt{mode} if $opt{mode};
	push @cmd, '--port', $opt{port} if $opt{port};
	push @cmd, '--database', $self->conninfo
	    if $self->{pg_started} && !$opt{no_db};
	unless ($opt{any_key}) {
		my $keyfile = "$self->{dir}/service.key";
		unless (-e $keyfile) {
			$self->spew($keyfile, "$self->{key}\n");
			chmod 0600, $keyfile;
		}
		push @cmd, '--service-key-file', $keyfile;
	}
	# api_keys => ["wak_... USER_ID", ...]: the valid per-user API keys.
	if ($opt{api_keys}) {
		my $file = "$self->{dir}/api$n.keys";
		$self->spew($file, join('', map { "$_\n" } @{ $opt{api_keys} }));
		push @cmd, '--api-keys-file', $file;
	}
	my $pid = $self->spawn("api$n", \@cmd, "$self->{dir}/api$n.err");
	$self->wait_until(sub { -s $portfile }, 15)
	    or die "stand-in API did not start\n";
	my $port = $self->slurp($portfile);
	chomp $port;
	$self->{api} = { pid => $pid, log => $log, port => $port,
	    url => "http://127.0.0.1:$port" };
	return $self->{api}{url};
}

sub api_url { $_[0]{api}{url} }

# The stand-in's log lines, as hash refs.
sub api_log {
	my ($self) = @_;
	return $self->json_lines($self->{api}{log});
}

# The JSON lines of a log that only grows (the stand-in's, the
# receiver's), as hash refs, each line read and parsed once: the tests
# read these logs over and over while they wait, and JSON::PP is slow.
# A line is taken once it has its newline.
sub json_lines {
	my ($self, $file) = @_;
	require JSON::PP;
	my $c = $self->{json_lines}{$file} //= { pos => 0, lines => [] };
	open my $fh, '<', $file or return ();
	if ((stat $fh)[7] < $c->{pos}) {
		@$c{qw(pos lines)} = (0, []);	# a new file in its place
	}
	seek $fh, $c->{pos}, 0;
	local $/ = "\n";
	while (my $line = <$fh>) {
		last unless $line =~ /\n\z/;
		$c->{pos} += length $line;
		my $r = eval { JSON::PP::decode_json($line) } or next;
		push @{ $c->{lines} }, $r;
	}
	return @{ $c->{lines} };
}

# The requests the stand-in API has recorded, as hash refs.
sub api_requests {
	my ($self) = @_;
	return grep { defined $_->{path} } $self->api_log;
}

# The batch tests the stand-in has ended (its "batch_end" lines).
sub api_batch_ends {
	my ($self) = @_;
	return grep { ($_->{event} // '') eq 'batch_end' } $self->api_log;
}

# Waits until the stand-in has ended $n batch tests; true if it has.
sub wait_batch_ends {
	my ($self, $n, $timeout) = @_;
	return $self->wait_until(sub { $self->api_batch_ends >= $n },
	    $timeout // 30);
}

# Sets the stand-in's mode (a behaviour, as --mode) from now on; without
# $text, reads it.  Returns the mode; dies if the stand-in refuses.
sub api_mode {
	my ($self, $text) = @_;
	require HTTP::Tiny;
	require JSON::PP;
	my $http = HTTP::Tiny->new(timeout => 10);
	my $url = "$self->{api}{url}/_standin/mode";
	my $r = defined $text
	    ? $http->post($url, { content => $text,
		headers => { 'content-type' => 'text/plain' } })
	    : $http->get($url);
	die "stand-in mode: $r->{status} $r->{content}\n" unless $r->{success};
	return JSON::PP::decode_json($r->{content})->{mode};
}

# Starts the webhook receiver (tests/webhook-receiver); returns its port.
sub start_receiver {
	my ($self) = @_;
	my $dir = $self->{dir};
	$self->spawn('receiver', ["$TOP/tests/webhook-receiver", '--port-file',
	    "$dir/hooks.port", '--log', "$dir/hooks.log"], "$dir/hooks.err");
	$self->wait_until(sub { -s "$dir/hooks.port" }, 15)
	    or die "no webhook receiver\n";
	chomp(my $port = $self->slurp("$dir/hooks.port"));
	return $port;
}

# The deliveries the webhook receiver has logged, as hash refs; with a
# name, those to the webhook of that name only.
sub received {
	my ($self, $name) = @_;
	return grep { !defined $name || ($_->{name} // '') eq $name }
	    $self->json_lines("$self->{dir}/hooks.log");
}

sub stop_api {
	my ($self) = @_;
	$self->stop("api$self->{napi}") if $self->{napi};
}

# Starts a program in its own process group, output to a file.
sub spawn {
	my ($self, $name, $cmd, $out, %opt) = @_;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		setsid();
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', $out or die;
		open STDERR, '>&', \*STDOUT;
		# child: runs in the child before exec; with wrap, it is
		# handed the command and execs it itself (a wrapper).
		$opt{child}->(@$cmd) if $opt{child};
		exec @$cmd or POSIX::_exit(127);
	}
	$self->{pids}{$name} = $pid;
	return $pid;
}

sub stop {
	my ($self, $name, $sig) = @_;
	my $pid = delete $self->{pids}{$name} or return;
	kill $sig // 'TERM', $pid;
	my $deadline = time + 60;
	while (time < $deadline) {
		return $? if waitpid($pid, WNOHANG) == $pid;
		sleep 0.05;
	}
	kill 'KILL', -$pid, $pid;
	waitpid $pid, 0;
	return $?;
}

# --- the daemon -----------------------------------------------------------

# No webhook_allow by default: a test that delivers to a receiver on
# 127.0.0.1 allows it itself, and every other supervisor runs with the
# policy as it ships.
sub write_config {
	my ($self, %over) = @_;
	my $n = ++$self->{nconf};
	my $keyfile = "$self->{dir}/service.key";
	$self->spew($keyfile, "$self->{key}\n");
	chmod 0600, $keyfile;
	mkdir "$self->{dir}/spool";
	my %conf = (
		database => $self->{pgsock} ? $self->conninfo : undef,
		app_url => $self->{api} ? $self->{api}{url} : 'http://127.0.0.1:9',
		service_role_key_file => $keyfile,
		jobrunner => bin('evalsched-jobrunner'),
		notifier => bin('evalsched-notifier'),
		pidfile => "$self->{dir}/supervisor$n.pid",
		spool_dir => "$self->{dir}/spool",
		poll_interval => 60,
		lease => 30,
		node_name => 'test-node',
		%over,
	);
	my $text = '';
	for my $k (sort keys %conf) {
		next unless defined $conf{$k};
		$text .= "$k = \"$conf{$k}\"\n";
	}
	my $path = "$self->{dir}/evalsched$n.conf";
	$self->spew($path, $text);
	return $path;
}

# Starts the supervisor in the foreground; returns its pid once it has
# logged that it is ready (unless wait_ready => 0).
sub start_supervisor {
	my ($self, %opt) = @_;
	my $conf = $opt{config} // $self->write_config;
	my $n = ++$self->{nsup};
	my $log = "$self->{dir}/supervisor$n.log";
	my $name = $opt{name} // 'supervisor';
	$self->{sup_log}{$name} = $log;
	my @cmd = (bin('evalsched-supervisor'), '-f', '-c', $conf,
	    @{ $opt{args} // [] });
	my $pid = $self->spawn($name, \@cmd, $log, child => $opt{child});
	if ($opt{wait_ready} // 1) {
		$self->wait_log(qr/\bready\b/, 30, $name)
		    or die "supervisor did not get ready:\n" . $self->slurp($log);
	}
	return $pid;
}

sub supervisor_pid { $_[0]{pids}{ $_[1] // 'supervisor' } }
sub supervisor_log {
	my ($self, $name) = @_;
	return $self->slurp($self->{sup_log}{ $name // 'supervisor' });
}

sub stop_supervisor {
	my ($self, $name) = @_;
	return $self->stop($name // 'supervisor', 'TERM');
}

# Waits for a process we started to exit on its own.
sub wait_exit {
	my ($self, $name, $timeout) = @_;
	my $pid = $self->{pids}{$name} or return undef;
	my $deadline = time + ($timeout // 30);
	while (time < $deadline) {
		if (waitpid($pid, WNOHANG) == $pid) {
			delete $self->{pids}{$name};
			return $?;
		}
		sleep 0.05;
	}
	return undef;
}

sub wait_log {
	my ($self, $re, $timeout, $name) = @_;
	my $file = $self->{sup_log}{ $name // 'supervisor' };
	return $self->wait_until(sub { $self->slurp($file) =~ $re }, $timeout);
}

sub wait_until {
	my ($self, $cond, $timeout) = @_;
	my $deadline = time + ($timeout // 30);
	while (time < $deadline) {
		return 1 if $cond->();
		sleep 0.05;
	}
	return $cond->() ? 1 : 0;
}

# How many lines of a supervisor's log match.
sub count_log {
	my ($self, $re, $name) = @_;
	return scalar(() = $self->supervisor_log($name) =~ /$re/mg);
}

# Waits until a supervisor's log has $n lines matching; true if it has.
sub wait_log_count {
	my ($self, $re, $n, $timeout, $name) = @_;
	return $self->wait_until(sub { $self->count_log($re, $name) >= $n },
	    $timeout);
}

# --- conditions to wait on instead of the clock ---------------------------

# The figures of a SIGUSR1 status line: running, max, dispatched,
# accepted, failed, pending, database (up, unreachable...), next_due
# (now, later, never).  Each is read alone, so that a line which gains a
# figure still parses.
sub parse_status {
	my ($line) = @_;
	my %st = (line => $line);
	@st{qw(running max)} = $line =~ m{(\d+)/(\d+) running};
	for my $k (qw(dispatched accepted failed)) {
		($st{$k}) = $line =~ /\b(\d+) $k\b/;
	}
	($st{pending}) = $line =~ /(\d+) outcome\(s\) pending/;
	($st{database}) = $line =~ /\bdatabase (\w+)/;
	($st{next_due}) = $line =~ /\bnext due (\w+)/;
	return \%st;
}

# Sends a supervisor SIGUSR1 and returns its status line's figures (see
# parse_status) once it has logged them, or undef.  A status line is
# written by the loop itself, so it also shows that the loop goes on.
sub supervisor_status {
	my ($self, $name, $timeout) = @_;
	$name //= 'supervisor';
	my $re = qr/status: supervisor (.*)$/m;
	my $before = $self->count_log($re, $name);
	my $pid = $self->{pids}{$name} or return undef;
	kill 'USR1', $pid or return undef;
	my $line;
	$self->wait_until(sub {
		my @lines = $self->supervisor_log($name) =~ /$re/mg;
		$line = $lines[$before];
		return defined $line;
	}, $timeout // 30) or return undef;
	return parse_status($line);
}

# Waits until a supervisor is idle: no run in flight, no outcome waiting
# to be written, nothing due now.  Whatever it was going to do with what
# was due has been done then.  Returns the idle status, or undef.
sub wait_idle {
	my ($self, $name, $timeout) = @_;
	my $st;
	$self->wait_until(sub {
		$st = $self->supervisor_status($name, 10);
		return $st && ($st->{running} // -1) == 0 &&
		    ($st->{pending} // -1) == 0 &&
		    ($st->{next_due} // 'now') ne 'now';
	}, $timeout // 30) or return undef;
	return $st;
}

# The runs of a schedule that have left 'triggered': their jobrunners
# have ended and their outcomes are written.
sub runs_done {
	my ($self, $id) = @_;
	return $self->sql_value("SELECT count(*) FROM "
	    . "scheduled_evaluation_runs WHERE scheduled_evaluation_id = "
	    . quote($id) . " AND status <> 'triggered'");
}

# The stand-in's requests for the schedules given.
sub requests_for {
	my ($self, @ids) = @_;
	my %want = map { $_ => 1 } @ids;
	return grep { $want{ $_->{headers}{'x-scheduled-evaluation-id'} // '' } }
	    $self->api_requests;
}

# A sentinel: a schedule made due now, after anything made due before
# it, so that a claim takes it no earlier than those.  Waits until its
# outcome is written and, with a stand-in API, its request was logged.
# Whatever the supervisor was to do with what was due before is then
# done, or under way in the same claim; to show that something did NOT
# happen, check after this.  With all_done => 1 it also waits until no
# run at all is left 'triggered', so that what that same claim took has
# ended too.  Returns its id, or undef on a timeout.
sub run_sentinel {
	my ($self, %opt) = @_;
	my $id = $self->add_schedule(name => 'sentinel ' . ++$self->{nsentinel},
	    next_run_at => \'now()');
	$self->wait_until(sub {
		$self->runs_done($id) > 0 &&
		    (!$self->{api} || $self->requests_for($id) > 0) &&
		    (!$opt{all_done} || $self->sql_value("SELECT count(*) "
		    . "FROM scheduled_evaluation_runs WHERE status = "
		    . "'triggered'") == 0);
	}, $opt{timeout} // 30) or return undef;
	return $id;
}

# Inserts a schedule; returns its id.  Defaults make it due now.
sub add_schedule {
	my ($self, %col) = @_;
	my %row = (
		id => uuid(),
		user_id => uuid(),
		name => 'schedule ' . ++$self->{nsched},
		# Due once, now, and then not before next New Year: an
		# hourly default fires again when a test spans the hour.
		schedule_type => 'custom',
		cron_expression => '0 0 1 1 *',
		timezone => 'UTC',
		test_suite_id => uuid(),
		model_id => 'gpt-test',
		batch_test_config => '{}',
		next_run_at => \"now() - interval '1 second'",
		%col,
	);
	my (@names, @values);
	for my $k (sort keys %row) {
		push @names, $k;
		my $v = $row{$k};
		push @values, !defined $v ? 'NULL' : ref $v ? $$v : quote($v);
	}
	# The application's foreign keys: the owner and its test suite
	# exist first, in the same transaction.
	$self->sql(owner_sql($row{user_id}, $row{test_suite_id})
	    . sprintf('INSERT INTO scheduled_evaluations (%s) VALUES (%s)',
	    join(', ', @names), join(', ', @values)));
	return $row{id};
}

# SQL that makes a user (auth.users) and, given one, a test suite of
# theirs (of a new user when there is none), unless they exist.  Values
# that are not plain text (undef, an SQL expression) are left alone.
sub owner_sql {
	my ($user, $suite) = @_;
	my $plain = sub { defined $_[0] && !ref $_[0] };
	my $owner = $plain->($user) ? $user : $plain->($suite) ? uuid() : undef;
	return '' unless defined $owner;
	# No address: an owner's email is a channel of its own, given one
	# by the tests about it (UPDATE auth.users SET email ...).
	my $sql = "INSERT INTO auth.users (id) VALUES (" . quote($owner)
	    . ") ON CONFLICT DO NOTHING;\n";
	$sql .= "INSERT INTO test_suites (id, user_id, name) VALUES ("
	    . quote($suite) . ", " . quote($owner) . ", 'suite') "
	    . "ON CONFLICT DO NOTHING;\n" if $plain->($suite);
	return $sql;
}

# Makes a user of the application (an auth.users row) and, given its id,
# a test suite of theirs, unless they exist; returns the user's id.
sub add_user {
	my ($self, $user, $suite) = @_;
	$user //= uuid();
	$self->sql(owner_sql($user, $suite));
	return $user;
}

sub quote {
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

# --- files ----------------------------------------------------------------

# Runs a program of ours: stdin from a file (or /dev/null), stdout and
# stderr kept, %env set for it alone.  Returns status, out, err, secs.
sub run_program {
	my ($self, $cmd, %opt) = @_;
	my $n = ++$self->{nprog};
	my ($out, $err) = map { "$self->{dir}/prog$n.$_" } qw(out err);
	my $start = time;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		$ENV{$_} = $opt{env}{$_} for keys %{ $opt{env} // {} };
		open STDIN, '<', $opt{stdin} // '/dev/null' or POSIX::_exit(126);
		open STDOUT, '>', $out or POSIX::_exit(126);
		open STDERR, '>', $err or POSIX::_exit(126);
		exec @$cmd or POSIX::_exit(127);
	}
	waitpid $pid, 0;
	return { status => $? >> 8, secs => time - $start,
	    out => $self->slurp($out) // '', err => $self->slurp($err) // '' };
}

# Runs evalschedctl; returns (exit status, stdout, stderr).
sub ctl {
	my ($self, @args) = @_;
	my $r = $self->run_program([bin('evalschedctl'), @args]);
	return ($r->{status}, $r->{out}, $r->{err});
}

# The live (not zombie) jobrunners a process has exec'ed: pid => [argv,
# environment], as /proc shows them.  A child between fork and exec
# still shows its parent's; it is not a jobrunner yet.
sub jobrunners_of {
	my ($self, $ppid) = @_;
	my %kids;
	for my $stat (glob '/proc/[0-9]*/stat') {
		next unless ($self->slurp($stat) // '') =~ /^(\d+) \(.*\) [^Z] (\d+) /
		    && $2 == $ppid;
		my $pid = $1;
		my $cmdline = $self->slurp("/proc/$pid/cmdline") // next;
		$kids{$pid} = [$cmdline, $self->slurp("/proc/$pid/environ")]
		    if $cmdline =~ /^evalsched-jobrunner/;
	}
	return %kids;
}

# A schedule's runs, oldest first: the columns asked for, as rows.
sub runs_of {
	my ($self, $id, $cols) = @_;
	return $self->sql("SELECT $cols FROM scheduled_evaluation_runs "
	    . "WHERE scheduled_evaluation_id = '$id' ORDER BY triggered_at");
}

# How many runs a schedule has, with an extra condition if given.
sub count_runs {
	my ($self, $id, $where) = @_;
	return $self->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
	    . "WHERE scheduled_evaluation_id = '$id'" . ($where ? " AND $where" : ''));
}

# The CPU seconds a process has used, user and system.
sub cpu_seconds {
	my ($self, $pid) = @_;
	my @f = split ' ', ($self->slurp("/proc/$pid/stat") =~ s/^.*\) //sr);
	return ($f[11] + $f[12]) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

sub slurp {
	my ($self, $file) = @_;
	open my $fh, '<', $file or return '';
	local $/;
	return <$fh> // '';
}

sub spew {
	my ($self, $file, $text) = @_;
	open my $fh, '>', $file or die "$file: $!";
	print $fh $text;
	close $fh;
}

# --- teardown -------------------------------------------------------------

sub teardown {
	my ($self) = @_;
	return if $self->{torn} || $$ != $self->{owner_pid};
	$self->{torn} = 1;
	for my $name (keys %{ $self->{pids} }) {
		my $pid = $self->{pids}{$name};
		kill 'CONT', $pid;
		kill 'KILL', -$pid, $pid;
		waitpid $pid, 0;
	}
	$self->pg_ctl('stop', '-m', 'immediate') if $self->{pg_started};
	if ($ENV{EVALSCHED_KEEP}) {
		print STDERR "# kept $self->{dir}\n";
	} else {
		system 'rm', '-rf', $self->{dir};
	}
}

END {
	my $status = $?;
	$_->teardown for @LIVE;
	$? = $status;
}

1;
