#!/usr/bin/perl
# The manual: mandoc -Tlint is silent on every page, every configuration
# key is documented, and the examples work.  evalschedctl examples run,
# in order, against a throwaway database; supervisor and init script
# examples are checked against what the programs accept; configuration
# examples are parsed by the real parser.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evalsched::Test;
use File::Basename qw(basename dirname);
use Test::More;

my $top = Evalsched::Test::top();
my @pages = sort glob("$top/man/*.[58]");
ok(@pages >= 3, 'there are manual pages') or BAIL_OUT('no pages');

SKIP: {
	skip 'mandoc is not installed', scalar @pages
	    unless system('mandoc -V >/dev/null 2>&1') == 0 ||
	    system('command -v mandoc >/dev/null 2>&1') == 0;
	for my $page (@pages) {
		my $out = `mandoc -Tlint -W warning '$page' 2>&1`;
		is($out, '', 'mandoc -Tlint is silent on ' . basename($page));
	}
}

sub slurp {
	my ($file) = @_;
	open my $fh, '<', $file or return '';
	local $/;
	return <$fh>;
}

# The literal displays of a page, as text (mdoc escapes undone).
sub displays {
	my ($page) = @_;
	my (@blocks, $cur);
	for my $line (split /\n/, slurp($page)) {
		if ($line =~ /^\.Bd -literal/) { $cur = ''; next }
		if ($line =~ /^\.Ed/ && defined $cur) {
			push @blocks, $cur;
			undef $cur;
			next;
		}
		next unless defined $cur;
		next if $line =~ /^\.\\"/;
		$line =~ s/\\e/\\/g;
		$line =~ s/\\&//g;
		$cur .= "$line\n";
	}
	return @blocks;
}

# Shell command lines of the displays: "$ cmd" or "# cmd", with
# continuation lines joined; the prompt is dropped.
sub commands {
	my ($page) = @_;
	my @cmds;
	for my $block (displays($page)) {
		$block =~ s/\\\n\s*/ /g;
		$block =~ s/\|\n\s*/| /g;
		for my $line (split /\n/, $block) {
			push @cmds, $1 if $line =~ /^[\$#] (.*\S)\s*$/;
		}
	}
	return @cmds;
}

# Splits a simple command line into words (quotes as the shell does).
sub words {
	my ($line) = @_;
	my @w;
	while ($line =~ /\G\s*((?:'[^']*'|"[^"]*"|[^\s'"])+)/gc) {
		(my $w = $1) =~ s/'([^']*)'|"([^"]*)"/defined $1 ? $1 : $2/ge;
		push @w, $w;
	}
	return @w;
}

# --- every key documented -------------------------------------------------

my @keys = slurp("$top/common/config.c") =~ /^\s*\{ "(\w+)",\s+KEY_/mg;
ok(@keys >= 18, 'the configuration keys are found in the parser');
my $conf5 = slurp("$top/man/evalsched.conf.5");
my $sample = slurp("$top/etc/evalsched.conf");
for my $key (@keys) {
	like($conf5, qr/^\.It Cm \Q$key\E No = /m,
	    "evalsched.conf(5) documents $key");
	like($sample, qr/^#\Q$key\E = /m, "the sample shows $key");
}

# --- configuration examples parse -----------------------------------------

my $t = Evalsched::Test->new;
my $ctl = Evalsched::Test::bin('evalschedctl');

# Parses a configuration with the real parser.  The database is pointed
# at nothing, so a file that parses ends with 69 and a bad one with 78.
sub config_status {
	my ($text) = @_;
	my $file = $t->dir . '/example.conf';
	$t->spew($file, $text);
	local $ENV{EVALSCHED_DATABASE} = 'host=' . $t->dir . '/nosock';
	my $err = `'$ctl' -c '$file' list 2>&1 >/dev/null`;
	return ($? >> 8, $err);
}

{
	(my $all = $sample) =~ s/^#(\w+ = )/$1/mg;
	$all =~ s/^service_role_key = .*\n//m;
	my ($rc, $err) = config_status($all);
	is($rc, 69, 'the sample with every default uncommented parses')
	    or diag $err;
	($rc, $err) = config_status($sample);
	is($rc, 69, 'the sample as installed parses') or diag $err;
	my @blocks = grep { /^\w+ = /m && !/^key = value$/m } displays(
	    "$top/man/evalsched.conf.5");
	ok(@blocks >= 1, 'evalsched.conf(5) has a configuration example');
	for my $block (@blocks) {
		($rc, $err) = config_status($block);
		is($rc, 69, 'the example configuration parses') or diag $err;
	}
}

# --- evalschedctl examples run ---------------------------------------------

$t->start_pg;
{
	# A completed run with results, for the baseline examples.
	my $nightly = $t->add_schedule(name => 'nightly-regression',
	    schedule_type => 'daily', next_run_at => '2030-01-01 02:00:00+00');
	$t->sql("INSERT INTO scheduled_evaluation_runs "
	    . "(scheduled_evaluation_id, status, triggered_at, completed_at, "
	    . "total_prompts, successful_prompts, avg_quality_score) VALUES "
	    . "('$nightly', 'completed', '2029-12-31 02:00:00+00', "
	    . "'2029-12-31 02:10:00+00', 50, 50, 0.88)");
}
my $have_next = `'$ctl' next -n 1 hourly 2>&1` !~ /not available/;
{
	local $ENV{EVALSCHED_DATABASE} = $t->conninfo;
	local $ENV{PATH} = dirname($ctl) . ":$ENV{PATH}";
	my @cmds = grep { /^evalschedctl / } commands("$top/man/evalschedctl.8");
	ok(@cmds >= 8, 'evalschedctl(8) has examples');
	# The application's user and test suite an example adds a schedule for.
	for my $cmd (@cmds) {
		my ($user) = $cmd =~ /--user\s+(\S+)/;
		my ($suite) = $cmd =~ /--suite\s+(\S+)/;
		$t->add_user($user, $suite) if defined $user;
	}
	for my $cmd (@cmds) {
		# Only the evalschedctl part of a pipeline or list.
		(my $run = $cmd) =~ s/\s*(?:[|;]|>\S*).*$//;
		SKIP: {
			skip "next is not built yet: $run", 1
			    if $run =~ /^evalschedctl next/ && !$have_next;
			my $out = `$run 2>&1`;
			my $rc = $? >> 8;
			# status says how things are: any of its levels is fine.
			my $ok = $run =~ / status$/ ? $rc <= 2 : $rc == 0;
			ok($ok, "example runs: $run") or diag "exit $rc: $out";
		}
	}
}

# --- supervisor and init script examples -------------------------------------

my %opt_arg = map { $_ => 1 } qw(c p u);
my %opt_flag = map { $_ => 1 } qw(1 d f n t V);
for my $page (@pages) {
	for my $cmd (commands($page)) {
		my @w = words($cmd);
		shift @w while @w && $w[0] =~ /^[*\d,\/-]+$/;	# crontab times
		next unless @w && $w[0] eq 'evalsched-supervisor';
		my $ok = 1;
		for (my $i = 1; $i < @w; $i++) {
			my $o = $w[$i];
			if ($o =~ /^-(\w)$/ && $opt_arg{$1}) { $i++; next }
			if ($o =~ /^-(\w+)$/ && !grep { !$opt_flag{$_} }
			    split //, $1) { next }
			$ok = 0;
		}
		ok($ok, basename($page) . ": supervisor options are real: $cmd");
	}
}
my $init = slurp("$top/etc/init.d-evalsched");
for my $cmd (map { commands($_) } @pages) {
	next unless $cmd =~ m{^/etc/init\.d/evalsched (\S+)};
	my $verb = $1;
	like($init, qr/^(?:[\w-]+\|)*\Q$verb\E(?:\|[\w-]+)*\)$/m,
	    "the init script takes '$verb'");
}
for my $cmd (map { commands($_) } @pages) {
	next unless $cmd =~ m{ -f (\S+/share/evalsched/\S+)};
	my $path = $1;
	my $file = 'etc/' . basename($path);
	# schema.sql is built from the application's schema and ours.
	$file = 'etc/application-schema.sql' if $file eq 'etc/schema.sql';
	ok(-f "$top/$file", "the example's schema file is installed: $path");
}

done_testing;
