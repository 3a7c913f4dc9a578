#!/usr/bin/perl
# The container image, where there is no docker: make deb builds the
# package as the Dockerfile's first stage does (or has, for
# tests/package.t, from the same tree), and etc/image-setup.sh
# installs it into a scratch Debian root as its second stage does (this
# machine's Debian 12 in the place of debian:12-slim, seen through
# overlays, so that nothing of it changes).  There, as the unprivileged
# user of the Dockerfile's USER, with its ENV and CMD and nothing else
# but environment variables and a database: evalsched-supervisor -n and
# evalschedctl next answer, and the supervisor, PID 1 of a PID namespace
# of its own as in a container, dispatches a run that completes, reaps a
# grandchild orphaned to it, passes the HEALTHCHECK and stops within
# shutdown_grace on SIGTERM.  make image says which of docker and podman
# it uses, or that it has neither.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evalsched::Test;
use Test::More;
use Time::HiRes qw(time sleep);

plan skip_all => 'the scratch root needs root (mount namespaces, chroot, '
    . 'apt-get)' unless $> == 0;

my $t = Evalsched::Test->new;
my $top = Evalsched::Test::top();
my $dir = $t->dir;

sub sh {
	my ($cmd) = @_;
	my $out = `$cmd 2>&1`;
	return ($? >> 8, $out);
}

# --- make image ----------------------------------------------------------------

# With stand-ins for docker and podman that log how they were called.
{
	my $bin = "$dir/bin";
	mkdir $bin;
	my ($make) = grep { -x } map { "$_/make" } split /:/, $ENV{PATH};
	my $make_image = sub {
		my ($st, $out) = sh("PATH='$bin' '$make' -s -C '$top' image IMAGE=evalsched:test");
		my $calls = -e "$bin/calls" ? $t->slurp("$bin/calls") : '';
		unlink "$bin/calls";
		return ($st, $out, $calls);
	};
	my ($st, $out, $calls) = $make_image->();
	isnt($st, 0, 'make image with neither docker nor podman: fails');
	like($out, qr/^make image: neither docker nor podman is installed/m, '... saying so');

	$t->spew("$bin/docker", "#!/bin/sh\necho \"docker \$*\" >>'$bin/calls'\n"
	    . "[ \"\$1\" != info ] || exit \${DOCKER_INFO:-1}\n");
	chmod 0755, "$bin/docker";
	($st, $out, $calls) = $make_image->();
	isnt($st, 0, 'docker whose daemon does not answer, no podman: fails');
	like($out, qr/docker is installed but its daemon does not answer/, '... saying so');
	unlike($calls, qr/build/, '... building nothing');

	$t->spew("$bin/podman", "#!/bin/sh\necho \"podman \$*\" >>'$bin/calls'\n");
	chmod 0755, "$bin/podman";
	($st, $out, $calls) = $make_image->();
	is($st, 0, 'with podman: make image succeeds') or diag $out;
	like($calls, qr/^podman build -t evalsched:test \.$/m, '... running podman build');

	{
		local $ENV{DOCKER_INFO} = 0;
		($st, $out, $calls) = $make_image->();
	}
	like($calls, qr/^docker build -t evalsched:test \.$/m,
	    'with docker\'s daemon answering: docker build');
	unlike($calls, qr/podman/, '... and not podman');
}

# --- the Dockerfile ----------------------------------------------------------------

# Its instructions, continuation lines joined, comments dropped.
my @instr;
{
	(my $text = $t->slurp("$top/Dockerfile")) =~ s/\\\n\s*/ /g;
	for (split /\n/, $text) {
		next if /^\s*(?:#|$)/;
		my ($op, $arg) = /^\s*(\w+)\s+(.*?)\s*$/ or next;
		push @instr, [uc $op, $arg];
	}
}
my @from = grep { $instr[$_][0] eq 'FROM' } 0 .. $#instr;
is(scalar @from, 2, 'Dockerfile: two stages');
like($instr[$from[0]][1], qr/^debian:12-slim AS build$/, '... the first from debian:12-slim');
ok((grep { $_->[0] eq 'RUN' && $_->[1] =~ /\bmake deb\b/ } @instr[$from[0] .. $from[1]]),
    '... where make deb builds the package');
is($instr[$from[1]][1], 'debian:12-slim', '... the second from debian:12-slim too');
my @final = @instr[$from[1] .. $#instr];
my %last = map { $_->[0] => $_->[1] } @final;
like($last{RUN} // '', qr{sh /tmp/image-setup\.sh /tmp/evalsched_\*\.deb},
    '... which installs the .deb with etc/image-setup.sh');
like($last{USER} // '', qr/^999:999$/, '... runs as 999, not root');
is($last{VOLUME} // '', '/var/lib/evalsched', '... keeps the spool in a volume');
like($last{HEALTHCHECK} // '', qr/^.*CMD .*\bevalschedctl status\b/, '... checks its health with evalschedctl status');
is($last{CMD} // '', '["evalsched-supervisor", "-f"]', '... and runs evalsched-supervisor -f');
my %image_env = map { /^(\w+)=(.*)$/ } map { split ' ', $_->[1] }
    grep { $_->[0] eq 'ENV' } @final;
my ($health) = ($last{HEALTHCHECK} // '') =~ /\bCMD\s+(.*)$/;

# --- the package and the scratch root ---------------------------------------------

# The package tests/package.t has just built, if no file of the tree is
# newer (make check runs that first), else make deb's.
my ($deb) = grep { !/-dbgsym_/ } glob("$top/build/deb/evalsched_*_*.deb");
my ($st, $out) = (0, '');
if (!defined $deb || `find '$top' -path '$top/build' -prune -o -path '$top/.git' -prune -o -type f -newer '$deb' -print | head -n 1` ne '') {
	($st, $out) = sh("make -s -C '$top' deb");
	($deb) = grep { !/-dbgsym_/ } glob("$top/build/deb/evalsched_*_*.deb");
}
is($st, 0, 'make deb builds the package (or it is built from this tree)') or diag $out;
ok(defined $deb, '... into build/deb') or BAIL_OUT('no package');

my $root = "$dir/root";
my $upper = "$dir/upper";
mkdir $_ for $root, $upper, map { "$root/$_" } qw(usr etc var proc dev run tmp root);
symlink "usr/$_", "$root/$_" for grep { -l "/$_" } qw(bin sbin lib lib32 lib64 libx32);

# Enters the root as a container would: a mount and PID namespace, this
# machine's /usr, /etc and /var under overlays that take the writes, a
# fresh /proc, /run and /tmp, the test's directory (its database socket,
# the package) at its own path.
$t->spew("$dir/enter", <<'EOF');
set -e
root=$1 upper=$2 dir=$3 user=$4
shift 4
mount --make-rprivate /
for d in usr etc var; do
	mkdir -p "$upper/$d" "$upper/work-$d"
	mount -t overlay overlay \
	    -o "lowerdir=/$d,upperdir=$upper/$d,workdir=$upper/work-$d" "$root/$d"
done
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mkdir -p "$root$dir"
mount --bind "$dir" "$root$dir"
exec chroot --userspec="$user" "$root" "$@"
EOF

# The command line that runs a command in the root as user, with only
# the environment given (docker's PATH and HOME, the Dockerfile's ENV).
sub in_root {
	my ($user, $env, @cmd) = @_;
	my %e = (PATH => '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
	    HOME => '/root', %$env);
	return ('env', '-i', map({ "$_=$e{$_}" } sort keys %e), 'unshare', '--mount', '--pid', '--fork', '--kill-child', 'sh', "$dir/enter",
	    $root, $upper, $dir, $user, @cmd);
}

sub shq { join ' ', map { my $s = $_; $s =~ s/'/'\\''/g; "'$s'" } @_ }

($st, $out) = sh(shq(in_root('0:0', {}, 'true')));
plan skip_all => "cannot make the scratch root here (mount namespaces and "
    . "overlays): $out" if $st != 0;

# The Dockerfile's id, unless this machine has it: the root shares its
# accounts.
my $id = 999;
$id-- while $id > 100 && (defined getpwuid($id) || defined getgrgid($id));
system('cp', $deb, "$top/etc/image-setup.sh", $dir) == 0 or die;
(my $debname = $deb) =~ s{.*/}{};
($st, $out) = sh(shq(in_root('0:0', {}, 'sh', "$dir/image-setup.sh", "$dir/$debname", $id)));
is($st, 0, "image-setup.sh installs the package in the root (user id $id)") or diag $out;
unlike($out, qr/^E: /m, '... apt-get complaining of nothing');
($st, $out) = sh(shq(in_root('0:0', {}, 'sh', '-c',
    'getent passwd evalsched; stat -c "%u:%g %a" /var/lib/evalsched')));
like($out, qr/^evalsched:x:$id:$id:[^:]*:\/var\/lib\/evalsched:/m, '... the user evalsched, its id fixed');
like($out, qr/^$id:$id 750$/m, '... and its spool, 0750');

# --- at work, from the environment alone ----------------------------------------------

$t->start_pg;
my $api = $t->start_api;
my $drop = "$dir/drop";
mkdir $drop;
chown $id, $id, $drop;
# An alert command that leaves a grandchild behind, orphaned.
$t->spew("$dir/alert", "#!/bin/sh\ncat >/dev/null\nsleep 3.1415 </dev/null >/dev/null 2>&1 &\nexit 0\n");
chmod 0755, "$dir/alert";
my %env = (%image_env, HOME => '/var/lib/evalsched', HOSTNAME => 'evalsched-test',
	EVALSCHED_DATABASE => $t->conninfo,
	NEXT_PUBLIC_APP_URL => $api,
	SUPABASE_SERVICE_ROLE_KEY => $t->key,
	EVALSCHED_NODE_NAME => 'image-1',
	EVALSCHED_POLL_INTERVAL => 5,
	EVALSCHED_ALERT_COMMAND => "$dir/alert",
);
my $user = "$id:$id";

($st, $out) = sh(shq(in_root($user, \%env, 'evalsched-supervisor', '-n')));
is($st, 0, 'evalsched-supervisor -n: exit 0, configuration from the environment') or diag $out;
like($out, qr/^configuration OK$/m, '... configuration OK');
like($out, qr/^service_role_key = \*{8}  # environment: SUPABASE_SERVICE_ROLE_KEY$/m,
    '... the key from the environment, masked');
like($out, qr{^pidfile = /var/lib/evalsched/evalsched-supervisor\.pid  # /etc/evalsched/conf\.d/00-container\.conf:\d+$}m,
    '... the image\'s settings from its drop-in');
like($out, qr{^user = evalsched  # /etc/evalsched/evalsched\.conf:\d+$}m, '... the user from the package\'s file');
unlike($out, qr/warning/, '... and no warning');
unlike($out, qr/\Q${\ $t->key }\E/, '... nor the key');

($st, $out) = sh(shq(in_root($user, \%env, 'evalschedctl', 'next', '-n', '2', 'hourly')));
is($st, 0, 'evalschedctl next -n 2 hourly: exit 0') or diag $out;
is(scalar(() = $out =~ /^\d{4}-\d\d-\d\dT\d\d:00:00/mg), 2, '... two times on the hour')
    or diag $out;

# The image's CMD, PID 1 of its namespace.
my $cmd = $last{CMD} =~ s/^\[|\]$//gr;
my @cmd = map { s/^\s*"|"\s*$//gr } split /,/, $cmd;
my $log = "$dir/image.log";
my $unshare = $t->spawn('image', [in_root($user, \%env, @cmd)], $log);
my $sup;
$t->wait_until(sub {
	my $kids = `cat /proc/$unshare/task/*/children 2>/dev/null`;
	($sup) = $kids =~ /(\d+)/;
	return defined $sup && (`cat /proc/$sup/comm 2>/dev/null` =~ /^evalsched-super/);
}, 20);
ok($sup, "the supervisor runs (pid $sup here)") or diag $t->slurp($log);
$t->{sup_log}{image} = $log;
ok($t->wait_log(qr/\bready\b/, 30, 'image'), '... and gets ready') or diag $t->slurp($log);
my $status = $t->slurp("/proc/$sup/status");
like($status, qr/^NSpid:\s+$sup\s+1$/m, '... as PID 1 of its namespace');
like($status, qr/^Uid:\s+$id\s+$id\s+$id\s+$id$/m, "... as user $id");
unlike($t->slurp($log), qr/warning|ignoring user/, '... with nothing to warn of');

my $good = $t->add_schedule(name => 'from the image');
ok($t->wait_until(sub { ($t->sql_value("SELECT status FROM scheduled_evaluation_runs "
    . "WHERE scheduled_evaluation_id = '$good'") // '') eq 'completed' }, 30),
    'it dispatches a due schedule, and the run completes') or diag $t->slurp($log);
my ($req) = $t->requests_for($good);
is($req && $req->{headers}{'x-service-role-key'}, $t->key, '... with the key of the environment');

# A failed dispatch runs the alert command, whose child is orphaned to
# PID 1: the supervisor must reap it, or it stays a zombie.
my $bad = $t->add_schedule(name => 'refused', model_id => 'standin:status=400');
my $orphan;
$t->wait_until(sub {
	for my $p (glob '/proc/[0-9]*') {
		next unless ($t->slurp("$p/cmdline") // '') eq "sleep\0003.1415\0";
		my ($ppid) = ($t->slurp("$p/status") // '') =~ /^PPid:\s+(\d+)/m;
		($orphan) = $p =~ /(\d+)$/ if ($ppid // 0) == $sup;
	}
	return defined $orphan;
}, 30);
ok($orphan, 'the alert command\'s child, orphaned, is the supervisor\'s') or diag $t->slurp($log);
ok($t->wait_until(sub { !-e "/proc/$orphan" }, 15),
    '... and once it ends it is reaped, not left a zombie');

# The HEALTHCHECK, as docker exec runs it: in the container's namespaces.
($st, $out) = sh(shq('env', '-i', map({ "$_=$env{$_}" } sort keys %env),
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'nsenter', "--target=$sup", '--mount', '--pid', '--', 'chroot', "--userspec=$user",
    $root, 'sh', '-c', $health));
is($st, 0, 'the HEALTHCHECK passes') or diag $out;
like($out, qr/^status: ok: 1 live supervisor$/, '... its one line: status ok');

# SIGTERM, as docker stop sends it, while a dispatch hangs: the image's
# shutdown_grace (7 s) and the 2 s of SIGKILL grace fit docker's default
# 10 s before its SIGKILL.
my $slow = $t->add_schedule(name => 'hanging', model_id => 'standin:slow=60000');
ok($t->wait_until(sub { ($t->sql_value("SELECT status FROM scheduled_evaluation_runs "
    . "WHERE scheduled_evaluation_id = '$slow'") // '') eq 'triggered' }, 30),
    'a dispatch hangs') or diag $t->slurp($log);
sleep 0.5;	# its request on the way
my $start = time;
kill 'TERM', $sup;
my $exit = $t->wait_exit('image', 30);
my $took = time - $start;
is($exit, 0, 'SIGTERM: the supervisor exits 0');
cmp_ok($took, '<', 10, sprintf('... within docker\'s 10 s: %.1f s', $took));
like($t->slurp($log), qr/\bterminating\b/, '... saying so');
is($t->sql_value("SELECT status FROM scheduled_evaluation_runs WHERE "
    . "scheduled_evaluation_id = '$slow'"), 'running',
    '... the run cut short left unresolved, to be looked up, not lost');

# --- the blueprints' environments ---------------------------------------------------

# Every variable of the Render entry and of the Compose service, their
# values filled in where the dashboard or the shell gives them, is read:
# -n in the root names each as where a setting came from.
sub blueprint_check {
	my ($what, %vars) = @_;
	my %fill = (SUPABASE_SERVICE_ROLE_KEY => $t->key, ENCRYPTION_KEY => 'ek-test',
	    EVALSCHED_DATABASE => $t->conninfo);
	for my $k (keys %vars) {
		$vars{$k} = $fill{$k} if !defined $vars{$k} || $vars{$k} =~ /^\$\{/;
		my ($secret) = ($vars{$k} // '') =~ m{^/run/secrets/(\w+)$} or next;
		$t->spew("$drop/$secret", ($secret =~ /encryption/ ? 'ek-test' : $t->key) . "\n");
		chown $id, $id, "$drop/$secret";
		chmod 0400, "$drop/$secret";
		$vars{$k} = "$drop/$secret";
	}
	my ($st, $out) = sh(shq(in_root($user, { %image_env, HOME => '/var/lib/evalsched',
	    %vars }, 'evalsched-supervisor', '-n')));
	is($st, 0, "$what: -n exits 0 in the image") or diag $out;
	my @unread = grep { $out !~ /  # environment: \Q$_\E$/m } sort keys %vars;
	is_deeply(\@unread, [], "... and every one of its variables is read: "
	    . join(', ', sort keys %vars));
}
{
	my (%render, $key);
	for (split /\n/, $t->slurp("$top/examples/render-worker.yaml")) {
		if (/^\s*- key: (\S+)/) { $key = $1; $render{$key} = undef; }
		elsif (defined $key && /^\s*value: (.*?)\s*$/) { $render{$key} = $1 =~ s/^"|"$//gr; }
	}
	blueprint_check('the Render entry', %render);
	my (%compose, $in);
	for (split /\n/, $t->slurp("$top/examples/compose-service.yml")) {
		if (/^(\s*)environment:$/) { $in = length $1; next; }
		next unless defined $in;
		last if /^(\s*)\S/ && length($1) <= $in;
		$compose{$1} = $2 =~ s/^"|"$//gr if /^\s+([A-Z_]+): (.*?)\s*$/;
	}
	blueprint_check('the Compose service', %compose);
}

done_testing;
