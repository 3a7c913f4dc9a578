#!/usr/bin/perl
# The Debian package: `make deb` builds it (lintian finding no errors),
# dpkg-deb shows the installed layout, the conffiles and the maintainer
# scripts, which are run against a scratch root with the system's tools
# stubbed out (an upgrade restarts a running service, enabled or not);
# dpkg itself installs it into a scratch root and upgrades it to a
# version with a changed sample, asking nothing while the operator's
# settings are in conf.d; its contents, extracted into a temporary root,
# check a configuration against a throwaway cluster, compute a
# schedule's next runs, and complete evalschedctl's command line.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evalsched::Test;
use Test::More;

plan skip_all => 'building and inspecting the package needs root '
    . '(apt-get for the build dependencies)' unless $> == 0;

my $t = Evalsched::Test->new;
my $top = Evalsched::Test::top();
my $dir = $t->dir;

system("sh '$top/tests/install-deps.sh' >'$dir/deps.log' 2>&1");
plan skip_all => 'dpkg-buildpackage is not available (tests/install-deps.sh: '
    . ($? == 0 ? 'ok' : 'failed') . ')'
    unless system('command -v dpkg-buildpackage >/dev/null 2>&1') == 0;

# Output and exit status of a shell command.
sub sh {
	my ($cmd) = @_;
	my $out = `$cmd 2>&1`;
	return ($? >> 8, $out);
}

# --- make deb ---------------------------------------------------------------

my ($st, $out) = sh("make -s -C '$top' deb");
is($st, 0, 'make deb builds the package and lintian finds no errors')
    or diag($out);
my ($deb) = grep { !/-dbgsym_/ } glob("$top/build/deb/evalsched_*_*.deb");
ok(defined $deb && -f $deb, 'the .deb is in build/deb')
    or BAIL_OUT('no package built');
like($deb, qr{/evalsched_0\.1\.0-1_[a-z0-9]+\.deb\z},
    '... named evalsched_VERSION-REVISION_ARCH.deb');
unlike($out, qr/^E: /m, 'lintian: no errors');

# --- the files --------------------------------------------------------------

my %mode;
for (split /\n/, `dpkg-deb -c '$deb'`) {
	my ($perm, $owner, $path) = (split ' ', $_)[0, 1, 5];
	$path =~ s{^\.}{};
	$path =~ s{/\z}{} unless $path eq '/';
	$mode{$path} = "$perm $owner";
}
my @files = qw(
	/usr/sbin/evalsched-supervisor
	/usr/libexec/evalsched/evalsched-jobrunner
	/usr/libexec/evalsched/evalsched-notifier
	/usr/bin/evalschedctl
	/usr/share/evalsched/schema.sql
	/usr/share/evalsched/schema-additions.sql
	/usr/share/evalsched/grants.sql
	/usr/share/evalsched/policies.sql
	/usr/share/man/man5/evalsched.conf.5.gz
	/usr/share/man/man5/evalsched-schedule.5.gz
	/usr/share/man/man8/evalsched-supervisor.8.gz
	/usr/share/man/man8/evalsched-jobrunner.8.gz
	/usr/share/man/man8/evalsched-notifier.8.gz
	/usr/share/man/man8/evalschedctl.8.gz
	/etc/evalsched/evalsched.conf
	/etc/evalsched/conf.d/README
	/etc/default/evalsched
	/etc/init.d/evalsched
	/etc/logrotate.d/evalsched
	/lib/systemd/system/evalsched.service
	/usr/share/bash-completion/completions/evalschedctl
	/usr/share/evalsched/examples/render-worker.yaml
	/usr/share/evalsched/examples/compose-service.yml
	/usr/share/doc/evalsched/copyright
	/usr/share/doc/evalsched/README.Debian
);
ok(exists $mode{$_}, "installs $_") for @files;
for my $prog (qw(/usr/sbin/evalsched-supervisor /usr/bin/evalschedctl
    /usr/libexec/evalsched/evalsched-jobrunner
    /usr/libexec/evalsched/evalsched-notifier /etc/init.d/evalsched)) {
	like($mode{$prog} // '', qr{^-rwxr-xr-x root/root}, "$prog: 0755, root's");
}
like($mode{'/etc/evalsched/evalsched.conf'} // '', qr{^-rw-r----- root/root},
    'the configuration: 0640 (postinst gives it to group evalsched)');
ok(!exists $mode{'/var/lib/evalsched'}, '/var/lib/evalsched is postinst\'s');
ok(!(grep { m{^/usr/local/} } keys %mode), 'nothing under /usr/local');

my %field = map { $_ => scalar `dpkg-deb -f '$deb' $_` } qw(Package Version
    Depends Pre-Depends);
s/\s+\z// for values %field;
is($field{Package}, 'evalsched', 'package evalsched');
is($field{Version}, '0.1.0-1', 'version 0.1.0-1');
# ca-certificates: the job runner and the notifier verify https against
# the system's store, which libcurl4 only recommends (and the image
# installs no recommends); tzdata: the schedules' zones.
for my $dep (qw(adduser ca-certificates tzdata libpq5 libcurl4 libjson-c5 libbsd0 libssl3)) {
	like($field{Depends}, qr/(?:^|, )\Q$dep\E\b/, "depends on $dep");
}

# --- conffiles and maintainer scripts ----------------------------------------

my $ctrl = "$dir/control";
system('dpkg-deb', '-e', $deb, $ctrl) == 0 or BAIL_OUT('dpkg-deb -e failed');
my %conffile = map { $_ => 1 } split /\n/, $t->slurp("$ctrl/conffiles");
ok($conffile{$_}, "conffile $_") for qw(/etc/evalsched/evalsched.conf
    /etc/evalsched/conf.d/README /etc/default/evalsched /etc/init.d/evalsched
    /etc/logrotate.d/evalsched);
for my $s (qw(preinst postinst prerm postrm)) {
	ok(-x "$ctrl/$s", "$s is there, executable");
	is(system('sh', '-n', "$ctrl/$s"), 0, "... and parses");
}
my $postinst = $t->slurp("$ctrl/postinst");
like($postinst, qr/adduser\b[^\n]*--system[^\n]*--group[^\n]*\n?[^\n]*--home \/var\/lib\/evalsched/,
    'postinst: adduser --system --group --home /var/lib/evalsched');
like($postinst, qr{install -d -o evalsched -g evalsched -m 0750 (?:\\\n\s*)?"\$root/var/lib/evalsched"},
    'postinst: /var/lib/evalsched, evalsched\'s, 0750');
like($postinst, qr/update-rc\.d evalsched defaults-disabled/,
    'postinst: the init script is installed disabled');
like($t->slurp("$ctrl/postrm"), qr{"\$1" = purge.*\n\s*rm -rf "\$\{DPKG_ROOT:-\}/var/lib/evalsched" "\$\{DPKG_ROOT:-\}/var/log/evalsched"}s,
    'postrm: purge removes /var/lib/evalsched and /var/log/evalsched');
like($t->slurp("$ctrl/prerm"), qr/invoke-rc\.d [^\n]*evalsched stop/,
    'prerm: removal stops the service');

# The scripts, run for real against a scratch root: the commands that
# would change the system are stubs that log their arguments.
my $fake = "$dir/fakeroot";
my $stubs = "$dir/stubs";
my $log = "$dir/stubs.log";
system('mkdir', '-p', "$fake/etc/evalsched", "$fake/etc/init.d",
    "$fake/run/systemd/system", "$fake/var/lib", $stubs) == 0 or die;
$t->spew("$fake/etc/evalsched/evalsched.conf", "# sample\n");
chmod 0644, "$fake/etc/evalsched/evalsched.conf";
$t->spew("$fake/etc/init.d/evalsched", "#!/bin/sh\necho \"init.d \$*\" >>'$log'\n");
chmod 0755, "$fake/etc/init.d/evalsched";
my %stub = (
	getent => 'exit 2',
	'dpkg-statoverride' => 'exit 1',
	'deb-systemd-helper' => 'case $1 in was-enabled|debian-installed|--quiet) exit 1;; esac',
	install => 'for a; do last=$a; done; mkdir -p "$last"',
	rm => "for a; do case \$a in -*) ;; '$fake'/*) /bin/rm -rf \"\$a\";; esac; done",
	# What invoke-rc.d would do: 104 allowed, 101 not (a disabled
	# service, or policy-rc.d).
	'invoke-rc.d' => '[ "$1" != --query ] || exit ${INVOKE_QUERY:-104}',
	map { $_ => '' } qw(adduser deluser chown update-rc.d
	    deb-systemd-invoke systemctl),
);
for my $name (keys %stub) {
	$t->spew("$stubs/$name", "#!/bin/sh\necho \"$name \$*\" >>'$log'\n"
	    . "$stub{$name}\nexit 0\n");
	chmod 0755, "$stubs/$name";
}
sub maint {
	my ($script, @args) = @_;
	(my $text = $t->slurp("$ctrl/$script"))
	    =~ s{(?<![\w.-])/(etc|var/lib|var/log|run)/}{$fake/$1/}g;
	$text =~ s{\$root/}{\$root$fake/}g;
	$text =~ s{/usr/sbin/policy-rc\.d}{$fake/usr/sbin/policy-rc.d}g;
	$t->spew("$dir/$script", $text);
	unlink $log;
	local $ENV{PATH} = "$stubs:/usr/sbin:/usr/bin:/sbin:/bin";
	my ($status, $output) = sh("sh '$dir/$script' @args");
	is($status, 0, "$script @args exits 0") or diag($output);
	return -e $log ? $t->slurp($log) : '';
}
my $calls = maint('postinst', 'configure', "''");
like($calls, qr{^adduser .*--system .*--group .*--home \S*/var/lib/evalsched .*evalsched$}m,
    'postinst configure: creates the system user evalsched');
like($calls, qr{^install -d -o evalsched -g evalsched -m 0750 \S*/var/lib/evalsched$}m,
    '... and /var/lib/evalsched, its own, 0750');
ok(-d "$fake/var/lib/evalsched", '... which is there');
like($calls, qr{^chown root:evalsched \S*/etc/evalsched/evalsched\.conf$}m,
    '... gives the configuration to group evalsched');
is((stat "$fake/etc/evalsched/evalsched.conf")[2] & 07777, 0640,
    '... mode 0640');
like($calls, qr/^update-rc\.d evalsched defaults-disabled$/m,
    '... installs the init script disabled');
unlike($calls, qr/\benable\b/, '... enables nothing');
like($calls, qr{^install -d -o evalsched -g adm -m 2750 \S*/var/log/evalsched$}m,
    '... makes /var/log/evalsched, evalsched\'s, for the group adm');
unlike($calls, qr/restart/, '... and restarts nothing on a first install');

# An upgrade restarts a running service, enabled or not: invoke-rc.d
# does where it is enabled, the init script's try-restart (a no-op when
# it is not running) where it is not, unless policy-rc.d forbids it.
rmdir "$fake/run/systemd/system" or die;
{
	local $ENV{INVOKE_QUERY} = 101;
	$calls = maint('postinst', 'configure', '0.1.0-1');
	like($calls, qr/^invoke-rc\.d .*evalsched restart$/m,
	    'postinst upgrade, sysvinit, service disabled: invoke-rc.d is asked')
	    or diag $calls;
	like($calls, qr/^init\.d try-restart$/m,
	    '... and, as it declines, the init script restarts it if it runs');
	system('mkdir', '-p', "$fake/usr/sbin") == 0 or die;
	$t->spew("$fake/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n");
	chmod 0755, "$fake/usr/sbin/policy-rc.d";
	$calls = maint('postinst', 'configure', '0.1.0-1');
	unlike($calls, qr/try-restart/, '... but not against policy-rc.d');
	unlink "$fake/usr/sbin/policy-rc.d";
}
$calls = maint('postinst', 'configure', '0.1.0-1');
like($calls, qr/^invoke-rc\.d .*evalsched restart$/m,
    'postinst upgrade, sysvinit, service enabled: invoke-rc.d restarts it');
unlike($calls, qr/try-restart/, '... once');
mkdir "$fake/run/systemd/system" or die;
$calls = maint('postinst', 'configure', '0.1.0-1');
like($calls, qr/^deb-systemd-invoke restart evalsched\.service$/m,
    'postinst upgrade, systemd: deb-systemd-invoke restarts the unit (if active)');
unlike($calls, qr/try-restart/, '... and nothing else');
$calls = maint('prerm', 'remove');
like($calls, qr/^deb-systemd-invoke stop evalsched\.service$/m,
    'prerm remove: stops the unit') or diag($calls);
$calls = maint('postrm', 'purge');
ok(!-e "$fake/var/lib/evalsched", 'postrm purge: /var/lib/evalsched is gone');
ok(!-e "$fake/var/log/evalsched", '... /var/log/evalsched too');
like($calls, qr/^update-rc\.d evalsched remove$/m, '... the init links too');
unlike($calls, qr/^deluser/m, '... the system user stays (Debian\'s way)');

# --- an upgrade by dpkg ----------------------------------------------------------

# dpkg installs the package into a scratch root (the maintainer scripts
# run outside it with DPKG_ROOT set, the system's tools stubbed), the
# operator's settings go in conf.d as README.Debian says, and the next
# version, whose sample differs, is installed over it with nothing on
# standard input: a conffile question would fail it.
{
	my $next = "$dir/next";
	system('dpkg-deb', '-R', $deb, $next) == 0 or die 'dpkg-deb -R';
	open my $fh, '>>', "$next/etc/evalsched/evalsched.conf" or die;
	print $fh "# A comment the next version adds.\n";
	close $fh;
	my $control = $t->slurp("$next/DEBIAN/control") =~ s/^Version: .*$/Version: 0.1.0-2/mr;
	$t->spew("$next/DEBIAN/control", $control);
	($st, $out) = sh("dpkg-deb --root-owner-group -b '$next' '$dir/next.deb'");
	is($st, 0, 'the next version, its sample changed, is packed') or diag $out;

	my $scratch = "$dir/scratch";
	system('mkdir', '-p', map { "$scratch/var/lib/dpkg/$_" } qw(info updates
	    triggers)) == 0 or die;
	$t->spew("$scratch/var/lib/dpkg/$_", '') for qw(status available);
	my $dpkg = "dpkg --root='$scratch' --force-script-chrootless "
	    . "--force-depends --log=/dev/null";
	local $ENV{PATH} = "$stubs:/usr/sbin:/usr/bin:/sbin:/bin";
	($st, $out) = sh("$dpkg -i '$deb' </dev/null");
	is($st, 0, 'dpkg installs it into a scratch root') or diag $out;
	ok(-d "$scratch/etc/evalsched/conf.d", '... with /etc/evalsched/conf.d');
	my $local = "$scratch/etc/evalsched/conf.d/local.conf";
	$t->spew($local, "app_url = https://evals.example.org\n");
	system('cp', '-a', $scratch, "$scratch.edited") == 0 or die;

	($st, $out) = sh("$dpkg -i '$dir/next.deb' </dev/null");
	is($st, 0, 'the upgrade to the next version succeeds') or diag $out;
	unlike($out, qr/Configuration file|conffile prompt/,
	    '... asking nothing about evalsched.conf');
	like($t->slurp("$scratch/etc/evalsched/evalsched.conf"),
	    qr/^# A comment the next version adds\.$/m, '... which is the new sample');
	is($t->slurp($local), "app_url = https://evals.example.org\n",
	    '... and the operator\'s conf.d/local.conf is untouched');

	# Had the operator edited evalsched.conf itself, dpkg would ask.
	$scratch = "$scratch.edited";
	open $fh, '>>', "$scratch/etc/evalsched/evalsched.conf" or die;
	print $fh "app_url = https://evals.example.org\n";
	close $fh;
	$dpkg =~ s{--root='[^']*'}{--root='$scratch'};
	($st, $out) = sh("$dpkg -i '$dir/next.deb' </dev/null");
	like($out, qr/conffile prompt/, 'an edited evalsched.conf would have been asked about');
}

# --- the contents at work ------------------------------------------------------

my $root = "$dir/root";
system('dpkg-deb', '-x', $deb, $root) == 0 or BAIL_OUT('dpkg-deb -x failed');
like($t->slurp("$root/etc/evalsched/evalsched.conf"), qr/^user = evalsched$/m,
    'the configuration runs the supervisor as evalsched, by hand as by the service');
like($t->slurp("$root/etc/default/evalsched"), qr/^DAEMON_ARGS=""$/m,
    '... not the service\'s options alone');
{
	my %where = (
	    'etc/evalsched/evalsched.conf' => $t->slurp("$root/etc/evalsched/evalsched.conf"),
	    map { $_ => scalar `gzip -dc '$root/$_'` }
	    map { s{^\Q$root\E/}{}r } glob("$root/usr/share/man/man[58]/*.gz"));
	my @local = grep { $where{$_} =~ m{/usr/local/(?:libexec|share)/evalsched/} }
	    sort keys %where;
	is_deeply(\@local, [], 'the manuals and the sample name /usr\'s programs and '
	    . 'schema, not /usr/local\'s');
	like($where{'usr/share/man/man8/evalsched-supervisor.8.gz'},
	    qr{^\.It Pa /usr/libexec/evalsched/evalsched-jobrunner$}m, '... as in FILES');
}
like($t->slurp("$root/etc/init.d/evalsched"),
    qr{^DAEMON=/usr/sbin/evalsched-supervisor$}m, 'the init script runs /usr/sbin\'s');
like($t->slurp("$root/lib/systemd/system/evalsched.service"),
    qr{^ExecStart=/usr/sbin/evalsched-supervisor -f -c /etc/evalsched/evalsched\.conf }m,
    '... as does the unit, with /etc/evalsched/evalsched.conf');
$t->start_pg(no_schema => 1);
$t->psql_file("$root/usr/share/evalsched/schema.sql");
$t->add_schedule(name => 'nightly-pkg', next_run_at => \"now() + interval '1 day'");
my $conf = $t->write_config(
	jobrunner => "$root/usr/libexec/evalsched/evalsched-jobrunner",
	notifier => "$root/usr/libexec/evalsched/evalsched-notifier",
);
{
	local $ENV{SUPABASE_SERVICE_ROLE_KEY};
	delete $ENV{SUPABASE_SERVICE_ROLE_KEY};
	($st, $out) = sh("'$root/usr/sbin/evalsched-supervisor' -n -c '$conf'");
}
is($st, 0, 'the packaged supervisor: -n exits 0 against a throwaway cluster')
    or diag($out);
like($out, qr/^configuration OK$/m, '... configuration OK');

($st, $out) = sh("'$root/usr/bin/evalschedctl' next -n 2 hourly");
is($st, 0, 'the packaged evalschedctl: next -n 2 hourly exits 0')
    or diag($out);
my @times = grep { /\S/ } split /\n/, $out;
is(scalar @times, 2, '... two times');
like($times[0] // '', qr/\d{4}-\d\d-\d\d.*\d\d:00/, '... on the hour');

# --- bash completion -------------------------------------------------------------

sub complete {
	my (@words) = @_;
	my $file = "$root/usr/share/bash-completion/completions/evalschedctl";
	my $script = "source '$file' || exit 9\n"
	    . 'COMP_WORDS=(' . join(' ', map { "'$_'" } 'evalschedctl', @words)
	    . ")\nCOMP_CWORD=" . scalar(@words) . "\n"
	    . "_evalschedctl\nprintf '%s\\n' \"\${COMPREPLY[@]}\"\n";
	$t->spew("$dir/complete.sh", $script);
	local $ENV{PATH} = "$root/usr/bin:$ENV{PATH}";
	my ($status, $output) = sh("bash '$dir/complete.sh'");
	return $status == 0 ? join(' ', sort grep { /\S/ } split /\n/, $output)
	    : "exit $status: $output";
}
is(complete(''), join(' ', sort qw(add baseline grants list metrics next pause
    resume runs show status trigger watch)), 'completion: the commands');
is(complete('--'), '--help --json --version', '... the global long options');
is(complete('-c', $conf, 'ru'), 'runs', '... a command after -c FILE');
is(complete('runs', '-'), '--json -n', '... a command\'s options');
is(complete('add', '--type', ''), 'custom daily every_5_minutes hourly weekly',
    '... schedule types');
is(complete('next', '--tz', 'Europe/Ber'), 'Europe/Berlin', '... time zones');
is(complete('next', '--tz', '=', 'Europe/Ber'), 'Europe/Berlin',
    '... after --tz= too');
is(complete('-c', $conf, 'trigger', 'nightly'), 'nightly-pkg',
    '... schedule names, from the database');
is(complete('-c', $conf, 'baseline', 'nightly-pkg', ''), 'latest',
    '... baseline\'s second operand');
is(complete('-c', "$dir/nonexistent.conf", 'show', ''), '',
    '... nothing, quietly, when the database cannot be reached');

done_testing;
