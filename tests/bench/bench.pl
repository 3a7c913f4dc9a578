#!/usr/bin/perl
# The benchmark behind `make bench` (run through tests/bench/run.sh).  It
# drives the plain build's supervisor against a throwaway PostgreSQL
# cluster and the stand-in API, then pg_cron on a second throwaway
# cluster, and prints one table.  Progress goes to stderr as "# ..." lines.
#
# Every time compared here is the wall clock of this one machine: the
# stand-in stamps t_start when it has read a request's headers, the
# database stamps next_run_at / slot_at / started_at, and both read the
# same clock.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use Evalsched::Test qw(uuid);
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(ceil floor);
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);

$| = 1;
# A signal ends us through die, so the harness's END block tears down
# the clusters and every process we started.
my ($INTERRUPTED, $MAIN_PID) = (undef, $$);
$SIG{$_} = sub {
	POSIX::_exit(1) if $$ != $MAIN_PID;	# a calibration client
	$INTERRUPTED = $_[0];
	die "bench: interrupted by SIG$_[0]\n";
} for qw(INT TERM HUP);

my $N_SPREAD = $ENV{BENCH_SPREAD} // 200;
my $N_BURST = $ENV{BENCH_BURST} // 1000;
my $N_BIG = $ENV{BENCH_BIG} // 1_000_000;
my $PGCRON = $ENV{BENCH_PGCRON} // 1;
# BENCH_ONLY=burst,jobrunner: only those parts (see part()).
my %ONLY = map { $_ => 1 } split /[,\s]+/, $ENV{BENCH_ONLY} // '';
my $CONCURRENCY = 32;
my $HZ = `getconf CLK_TCK 2>/dev/null` || 100;
chomp $HZ;
my $T_BEGIN = time;
my ($LOAD0) = split ' ', (`cat /proc/loadavg 2>/dev/null` || '?');

my @rows;	# [section, measure, value, target, verdict, pg_cron, ratio]
my @notes;	# lines printed under the table

sub note { print STDERR "# @_\n" }
# Whether a part runs: idle, standin, dispatch, trigger, burst,
# jobrunner, completion, claim, metrics, scrape, pgcron.
sub part { !%ONLY || $ONLY{$_[0]} }
sub row { push @rows, [@_] }

# --- small helpers ----------------------------------------------------------

sub pct {
	my ($p, @v) = @_;
	return undef unless @v;
	@v = sort { $a <=> $b } @v;
	my $i = ceil($p / 100 * @v) - 1;
	$i = 0 if $i < 0;
	return $v[$i];
}

sub ms { defined $_[0] ? sprintf('%.1f ms', $_[0] * 1000) : 'n/a' }
sub secs { defined $_[0] ? sprintf('%.3f s', $_[0]) : 'n/a' }
sub mib { defined $_[0] ? sprintf('%.1f MiB', $_[0] / 1024) : 'n/a' }

sub lag_summary {
	my (@v) = @_;
	return sprintf '%s / %s / %s', ms(pct(50, @v)), ms(pct(99, @v)),
	    ms(pct(100, @v));
}

# Verdict against an upper bound.
sub verdict {
	my ($value, $limit) = @_;
	return 'n/a' unless defined $value;
	return $value <= $limit ? 'ok' : 'MISS';
}

# evalsched's figure over pg_cron's: below 1 is evalsched faster.
sub ratio {
	my ($ours, $theirs) = @_;
	return 'n/a' unless defined $ours && defined $theirs && $theirs > 0;
	my $r = $ours / $theirs;
	my $text = sprintf '%.3f', $r;
	$text .= sprintf ' (%.0fx faster)', 1 / $r if $r > 0 && $r < 1;
	$text .= sprintf ' (%.1fx slower)', $r if $r >= 1;
	return $text;
}

# utime + stime in seconds, and the memory lines of /proc/PID/status.
sub proc_cpu {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return undef;
	my $s = <$fh>;
	$s =~ s/^.*\)\s+//s;
	my @f = split ' ', $s;
	return ($f[11] + $f[12]) / $HZ;
}

# utime+stime of a process and of its reaped children, in seconds.
sub proc_cpu_children {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return undef;
	my $s = <$fh>;
	$s =~ s/^.*\)\s+//s;
	my @f = split ' ', $s;
	return ($f[13] + $f[14]) / $HZ;
}

# The CPU time of a PostgreSQL cluster: the postmaster, its live
# children, and the children it has reaped.
sub pg_cpu {
	my ($h) = @_;
	my ($pm) = split /\n/, $h->slurp("$h->{pgdata}/postmaster.pid");
	return undef unless $pm;
	my $t = (proc_cpu($pm) // 0) + (proc_cpu_children($pm) // 0);
	for my $stat (glob '/proc/[0-9]*/stat') {
		open my $fh, '<', $stat or next;
		my $s = <$fh> // next;
		$s =~ s/^.*\)\s+//s;
		my @f = split ' ', $s;
		$t += ($f[11] + $f[12]) / $HZ if $f[1] == $pm;
	}
	return $t;
}

# Busy and total jiffies of the whole machine.
sub machine_cpu {
	open my $fh, '<', '/proc/stat' or return (0, 0);
	my @f = split ' ', scalar <$fh>;
	shift @f;
	my $total = 0;
	$total += $_ for @f[0 .. 7];
	return ($total - $f[3] - $f[4], $total);
}

# Resident KiB by mapping (library file, or [heap], [anon]...), and the
# proportional set size, from /proc/PID/smaps.
sub proc_maps {
	my ($pid) = @_;
	my (%rss, $name, $pss);
	open my $fh, '<', "/proc/$pid/smaps" or return ({}, undef);
	while (<$fh>) {
		if (/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/) {
			$name = $1 eq '' ? '[anon]' : $1;
			$name =~ s{.*/}{};
		} elsif (/^Rss:\s+(\d+)/) {
			$rss{$name} += $1;
		} elsif (/^Pss:\s+(\d+)/) {
			$pss += $1;
		}
	}
	return (\%rss, $pss);
}

sub proc_status {
	my ($pid) = @_;
	my %st;
	open my $fh, '<', "/proc/$pid/status" or return \%st;
	while (<$fh>) {
		$st{$1} = $2 if /^(\w+):\s+(\d+)/;
	}
	return \%st;
}

# The stand-in's log, by run id.
sub api_by_run {
	my ($h) = @_;
	my %by;
	for my $r ($h->api_requests) {
		my $id = $r->{headers}{'x-scheduled-evaluation-run-id'} // next;
		$by{$id} //= $r;
	}
	return \%by;
}

# "dispatched run <id>" lines of the supervisor's log: run id -> epoch.
sub dispatch_times {
	my ($h) = @_;
	my %at;
	for (split /\n/, $h->supervisor_log) {
		next unless /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)Z .*
		    dispatched\ run\ ([0-9a-f-]{36})/x;
		$at{$8} = timegm($6, $5, $4, $3, $2 - 1, $1) + $7 / 1000;
	}
	return \%at;
}

sub runs_of {
	my ($h, $like) = @_;
	return $h->sql(<<"SQL");
SELECT r.id, extract(epoch FROM r.slot_at), extract(epoch FROM r.triggered_at),
       extract(epoch FROM r.started_at), r.status
FROM scheduled_evaluation_runs r JOIN scheduled_evaluations s
  ON s.id = r.scheduled_evaluation_id
WHERE s.name LIKE '$like'
SQL
}

sub wait_recorded {
	my ($h, $like, $n, $timeout) = @_;
	my $done = 0;
	my $deadline = time + $timeout;
	# Coarse on purpose: the figures come from the rows' own stamps, and
	# a tight loop of psql runs would steal CPU from what we measure.
	while (time < $deadline) {
		sleep 0.5;
		$done = $h->sql_value(<<"SQL");
SELECT count(*) FROM scheduled_evaluation_runs r JOIN scheduled_evaluations s
  ON s.id = r.scheduled_evaluation_id
WHERE s.name LIKE '$like' AND r.status <> 'triggered'
SQL
		last if $done >= $n;
	}
	return $done;
}

# The owner (a user of the application) and test suite of schedule i of
# a kind, as SQL expressions of i: 25 schedules a user, as the
# application allows a user 50 active ones.
sub owner_of {
	my ($kind) = @_;
	return ("md5('$kind user ' || i / 25)::uuid",
	    "md5('$kind suite ' || i / 25)::uuid");
}

# The statements that make the owners of schedules $from to $to - 1.
sub owners_sql {
	my ($kind, $from, $to) = @_;
	my ($user, $suite) = owner_of($kind);
	return <<"SQL";
INSERT INTO auth.users (id) SELECT DISTINCT $user
FROM generate_series($from, $to - 1) AS i ON CONFLICT DO NOTHING;
INSERT INTO test_suites (id, user_id, name) SELECT DISTINCT $suite, $user,
    'suite' FROM generate_series($from, $to - 1) AS i ON CONFLICT DO NOTHING;
SQL
}

# Inserts schedules: $n rows named "$prefix N", due at $due_sql (an SQL
# expression of i, 0-based), firing once a year so each fires once here.
sub insert_schedules {
	my ($h, $prefix, $n, $due_sql) = @_;
	my ($user, $suite) = owner_of($prefix);
	$h->sql(owners_sql($prefix, 0, $n) . <<"SQL");
INSERT INTO scheduled_evaluations (user_id, name, schedule_type,
    cron_expression, timezone, test_suite_id, model_id, batch_test_config,
    next_run_at)
SELECT $user, '$prefix ' || i, 'custom', '0 0 1 1 *', 'UTC',
    $suite, 'gpt-bench', '{"temperature": 0}', $due_sql
FROM generate_series(0, $n - 1) AS i
SQL
}

# --- the stand-in's own latency ----------------------------------------------

# POSTs like a jobrunner does; returns (t_before_connect, t_answered).
sub post_once {
	my ($port, $key, $tag) = @_;
	my $body = '{"config":{"model_id":"gpt-bench","test_suite_id":"'
	    . uuid() . '"}}';
	my $t0 = time;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
	    PeerPort => $port, Proto => 'tcp') or return;
	print $s "POST /api/batch-testing/run HTTP/1.1\r\n"
	    . "Host: 127.0.0.1:$port\r\nContent-Type: application/json\r\n"
	    . "x-service-role-key: $key\r\nx-user-id: " . uuid() . "\r\n"
	    . "x-scheduled-evaluation-run-id: $tag\r\n"
	    . "Content-Length: " . length($body) . "\r\n"
	    . "Connection: close\r\n\r\n$body";
	local $/;
	my $answer = <$s>;
	my $t1 = time;
	close $s;
	return ($t0, $t1);
}

# $workers processes each POSTing $each times in a row; returns the
# intake latencies (t_start - t_before_connect) and the wall time.
sub calibrate {
	my ($h, $label, $workers, $each) = @_;
	my $port = $h->{api}{port};
	my $out = $h->dir . "/calib-$label";
	my $t0 = time;
	my @pids;
	for my $w (1 .. $workers) {
		my $pid = fork // die "fork: $!";
		if ($pid == 0) {
			open my $fh, '>', "$out.$w" or POSIX::_exit(1);
			for my $i (1 .. $each) {
				my $tag = "calib-$label-$w-$i";
				my ($a, $b) = post_once($port, $h->key, $tag);
				printf $fh "%s %.6f %.6f\n", $tag, $a, $b if $a;
			}
			close $fh;
			POSIX::_exit(0);
		}
		push @pids, $pid;
	}
	waitpid $_, 0 for @pids;
	my $wall = time - $t0;
	my %sent;
	for my $w (1 .. $workers) {
		open my $fh, '<', "$out.$w" or next;
		while (<$fh>) {
			my ($tag, $a, $b) = split;
			$sent{$tag} = $a;
		}
	}
	my $by = api_by_run($h);
	my @lat = map { $by->{$_}{t_start} - $sent{$_} }
	    grep { $by->{$_} } keys %sent;
	return (\@lat, $wall, scalar keys %sent);
}

# --- evalsched ----------------------------------------------------------------

my %ev;		# figures kept for the pg_cron comparison

# Idle: nothing due; the supervisor should sleep in poll(2).
sub bench_idle {
	my ($h, $sup) = @_;
	sleep 1;
	my ($cpu0, $st0) = (proc_cpu($sup), proc_status($sup));
	sleep 5;
	my ($cpu1, $st1) = (proc_cpu($sup), proc_status($sup));
	my $wakeups = ($st1->{voluntary_ctxt_switches} // 0)
	    + ($st1->{nonvoluntary_ctxt_switches} // 0)
	    - ($st0->{voluntary_ctxt_switches} // 0)
	    - ($st0->{nonvoluntary_ctxt_switches} // 0);
	$ev{idle_rss} = $st1->{VmRSS};
	row('footprint', 'supervisor RSS idle (VmRSS / VmHWM)',
	    mib($st1->{VmRSS}) . ' / ' . mib($st1->{VmHWM}), '<= 8 MiB',
	    verdict($st1->{VmRSS}, 8 * 1024));
	my ($maps, $pss) = proc_maps($sup);
	row('footprint', '  of which anonymous / file-backed; PSS',
	    mib($st1->{RssAnon}) . ' / ' . mib($st1->{RssFile}) . '; '
	    . mib($pss), '', '');
	my @top = grep { defined }
	    (sort { $maps->{$b} <=> $maps->{$a} } keys %$maps)[0 .. 7];
	push @notes, 'supervisor idle, largest resident mappings (MiB): '
	    . join(', ', map { (my $n = $_) =~ s/\.so[.\d]*$//;
	    sprintf '%s %.1f', $n, $maps->{$_} / 1024 } @top);
	row('footprint', 'supervisor CPU idle 5 s (utime+stime)',
	    sprintf('%.2f s, %d wakeups', $cpu1 - $cpu0, $wakeups), '~0', '');
}

# The stand-in alone: how long from a client's connect to its t_start
# stamp, one at a time and 32 at a time.
sub bench_standin {
	my ($h) = @_;
	my ($lat1, $wall1, $n1) = calibrate($h, 'seq', 1, 100);
	my ($lat32, $wall32, $n32) = calibrate($h, 'par', $CONCURRENCY, 16);
	row('stand-in', 'intake (connect to t_start) p50/p99/max, serial',
	    lag_summary(@$lat1), '', '');
	row('stand-in', sprintf('intake p50/p99/max, %d clients', $CONCURRENCY),
	    lag_summary(@$lat32), '', '');
	row('stand-in', sprintf('throughput, %d clients', $CONCURRENCY),
	    sprintf('%.0f req/s', $n32 / $wall32), '', '');
}

# 1. Dispatch lag: schedules due at distinct instants.
sub bench_dispatch {
	my ($h) = @_;
	my $spread_ms = 20_000 / $N_SPREAD;
	note "dispatch lag: $N_SPREAD schedules due over the next ~20 s";
	insert_schedules($h, 'spread', $N_SPREAD,
	    "date_trunc('milliseconds', now()) + interval '2 s' + "
	    . "(i * $spread_ms + floor(random() * " . ($spread_ms / 2)
	    . ")) * interval '1 ms'");
	my $done = wait_recorded($h, 'spread %', $N_SPREAD, 22 + 30);
	note "dispatch lag: $done of $N_SPREAD recorded";
	my $by = api_by_run($h);
	my $disp = dispatch_times($h);
	my (@lag, @claim, @exec);
	my ($nrun, $nok) = (0, 0);
	for my $r (runs_of($h, 'spread %')) {
		my ($id, $slot, $trig, $started, $status) = @$r;
		$nrun++;
		$nok++ if $status eq 'running';
		my $req = $by->{$id} or next;
		push @lag, $req->{t_start} - $slot;
		if (defined $disp->{$id}) {
			push @claim, $disp->{$id} - $slot;
			push @exec, $req->{t_start} - $disp->{$id};
		}
	}
	row('dispatch', sprintf('lag next_run_at -> request, p50/p99/max '
	    . '(%d runs, %d ok)', scalar @lag, $nok), lag_summary(@lag),
	    'p99 <= 20 ms', verdict(pct(99, @lag), 0.020));
	row('dispatch', '  of which due -> forked (claim), p50/p99',
	    ms(pct(50, @claim)) . ' / ' . ms(pct(99, @claim)), '', '');
	row('dispatch', '  of which forked -> request (exec, curl), p50/p99',
	    ms(pct(50, @exec)) . ' / ' . ms(pct(99, @exec)), '', '');
}

# 2. evalschedctl trigger to the request.
sub bench_trigger {
	my ($h, $conf) = @_;
	note 'trigger: 5 samples';
	insert_schedules($h, 'trig', 5, "now() + interval '1 day'");
	my (@trig, @trig_upd, @ctl_wall);
	for my $i (0 .. 4) {
		sleep 0.5;
		my $id = $h->sql_value("SELECT id FROM scheduled_evaluations "
		    . "WHERE name = 'trig $i'");
		my $t0 = time;
		system(Evalsched::Test::bin('evalschedctl'), '-c', $conf,
		    'trigger', "trig $i") == 0 or note "trigger $i failed";
		push @ctl_wall, time - $t0;
		my $req;
		for (1 .. 10) {
			sleep 0.5;
			($req) = grep {
			    ($_->{headers}{'x-scheduled-evaluation-id'} // '')
			    eq $id } $h->api_requests;
			last if $req;
		}
		next unless $req;
		push @trig, $req->{t_start} - $t0;
		my $slot = $h->sql_value("SELECT extract(epoch FROM slot_at) "
		    . "FROM scheduled_evaluation_runs WHERE id = '"
		    . $req->{headers}{'x-scheduled-evaluation-run-id'} . "'");
		push @trig_upd, $req->{t_start} - $slot if defined $slot;
	}
	row('trigger', sprintf('evalschedctl trigger -> request, p50/max '
	    . '(%d samples)', scalar @trig),
	    ms(pct(50, @trig)) . ' / ' . ms(pct(100, @trig)), '<= 50 ms',
	    verdict(pct(100, @trig), 0.050));
	row('trigger', '  from its UPDATE (slot_at) -> request, p50/max',
	    ms(pct(50, @trig_upd)) . ' / ' . ms(pct(100, @trig_upd)), '', '');
	row('trigger', '  evalschedctl run time, p50',
	    ms(pct(50, @ctl_wall)), '', '');
}

# 3. The burst: all due at the same instant, a moment from now.
sub bench_burst {
	my ($h, $sup, $api_pid) = @_;
	note "burst: $N_BURST schedules due at once";
	my $due = $h->sql_value("SELECT extract(epoch FROM "
	    . "date_trunc('second', now()) + interval '3 s')");
	insert_schedules($h, 'burst', $N_BURST, "to_timestamp($due)");
	sleep 0.2 while time < $due - 0.3;
	my ($bcpu0, $acpu0) = (proc_cpu($sup), proc_cpu($api_pid));
	my ($jcpu0, $pcpu0) = (proc_cpu_children($sup), pg_cpu($h));
	my ($mbusy0, $mtotal0) = machine_cpu();
	my $done = wait_recorded($h, 'burst %', $N_BURST, 120);
	my $bwall = time - $due;
	my ($bcpu1, $acpu1) = (proc_cpu($sup), proc_cpu($api_pid));
	my ($jcpu1, $pcpu1) = (proc_cpu_children($sup), pg_cpu($h));
	my ($mbusy1, $mtotal1) = machine_cpu();
	my $bst = proc_status($sup);
	note "burst: $done of $N_BURST recorded";
	my $by = api_by_run($h);
	my $disp = dispatch_times($h);
	my (@blag, @bend, @brec, @hold, %claims, %records);
	my (@s_claim, @s_fork, @s_exec, @s_answer, @s_record);
	my ($bok, $maxflight) = (0, 0);
	for my $r (runs_of($h, 'burst %')) {
		my ($id, $slot, $trig, $started, $status) = @$r;
		$bok++ if $status eq 'running';
		$claims{$trig}++;
		$records{$started}++ if defined $started;
		push @brec, $started - $due if defined $started;
		my $req = $by->{$id} or next;
		push @blag, $req->{t_start} - $due;
		push @bend, $req->{t_end} - $due if defined $req->{t_end};
		push @hold, $req->{t_end} - $req->{t_start}
		    if defined $req->{t_end};
		# Where a run's time goes: due -> claimed (the claim
		# transaction's now()) -> forked (the supervisor's log line)
		# -> request -> answer -> recorded (started_at, the record
		# transaction's now()).
		push @s_claim, $trig - $due;
		if (defined $disp->{$id}) {
			push @s_fork, $disp->{$id} - $trig;
			push @s_exec, $req->{t_start} - $disp->{$id};
		}
		push @s_record, $started - $req->{t_end}
		    if defined $started && defined $req->{t_end};
		$maxflight = $req->{in_flight} if $req->{in_flight} > $maxflight;
	}
	my $all_disp = pct(100, @blag);
	my $all_rec = @brec == $N_BURST ? pct(100, @brec) : undef;
	$ev{burst_lag} = \@blag;
	$ev{burst_all} = $all_disp;
	row('burst', sprintf('%d due at once: all dispatched (last request)',
	    $N_BURST), secs($all_disp), '', '');
	row('burst', sprintf('all recorded (%d of %d running)', $bok,
	    $N_BURST), secs($all_rec), '<= 3 s', verdict($all_rec, 3));
	row('burst', 'runs per second (recorded)',
	    $all_rec ? sprintf('%.0f runs/s', $N_BURST / $all_rec) : 'n/a',
	    '', '');
	row('burst', '  lag due -> request, p50/p99/max', lag_summary(@blag),
	    '', '');
	row('burst', sprintf('  claim transactions / record transactions'),
	    sprintf('%d / %d', scalar keys %claims, scalar keys %records),
	    '', '');
	row('burst', '  stand-in: max in flight, answer time p50/p99',
	    sprintf('%d, %s / %s', $maxflight, ms(pct(50, @hold)),
	    ms(pct(99, @hold))), '', '');
	row('burst', '  per run: due -> claimed, p50/max',
	    ms(pct(50, @s_claim)) . ' / ' . ms(pct(100, @s_claim)), '', '');
	row('burst', '  per run: claimed -> forked, p50/max',
	    ms(pct(50, @s_fork)) . ' / ' . ms(pct(100, @s_fork)), '', '');
	row('burst', '  per run: forked -> request, p50/max',
	    ms(pct(50, @s_exec)) . ' / ' . ms(pct(100, @s_exec)), '', '');
	row('burst', '  per run: answered -> recorded, p50/max',
	    ms(pct(50, @s_record)) . ' / ' . ms(pct(100, @s_record)), '', '');
	# Who used the CPU while the burst ran; "other" is everything on the
	# machine that is not this bench's (it makes a noisy run visible).
	my $busy = ($mbusy1 - $mbusy0) / $HZ;
	my $ours = ($jcpu1 - $jcpu0) + ($pcpu1 - $pcpu0) + ($acpu1 - $acpu0)
	    + ($bcpu1 - $bcpu0);
	row('burst', '  CPU: machine busy; jobrunners / PostgreSQL / '
	    . 'stand-in / other', sprintf('%.0f%% of %d CPUs; %.1f / %.1f / '
	    . '%.1f / %.1f s', 100 * ($mbusy1 - $mbusy0) /
	    (($mtotal1 - $mtotal0) || 1), ncpu(), $jcpu1 - $jcpu0,
	    $pcpu1 - $pcpu0, $acpu1 - $acpu0, $busy - $ours), '', '');
	burst_floor(($jcpu1 - $jcpu0) / $N_BURST, $ours - ($jcpu1 - $jcpu0),
	    $all_rec);
	row('footprint', 'supervisor RSS after burst (VmRSS / VmHWM)',
	    mib($bst->{VmRSS}) . ' / ' . mib($bst->{VmHWM}), '<= 8 MiB',
	    verdict($bst->{VmHWM}, 8 * 1024));
	row('footprint', 'supervisor CPU during burst (utime+stime)',
	    sprintf('%.2f s over %.2f s (%.2f ms per run)', $bcpu1 - $bcpu0,
	    $bwall, 1000 * ($bcpu1 - $bcpu0) / $N_BURST), '', '');
}

# What a jobrunner costs in the burst (its start included: the child's
# side of the spawn, exec, loading its libraries), the floor that puts
# on the burst (the jobrunners' CPU alone, spread over every CPU), and
# how far above it the burst ended.  The rest is the CPU of the others
# taking part ($others: the supervisor, PostgreSQL, the stand-in), then
# time no CPU was busy for us; the second floor counts the others too.
sub burst_floor {
	my ($per, $others, $all_rec) = @_;
	my $floor = $per * $N_BURST / ncpu();
	my $all = $floor + $others / ncpu();
	row('burst', 'CPU per jobrunner (reaped children / runs)', ms($per),
	    '<= 5 ms', verdict($per, 0.005));
	row('burst', sprintf('  floor: %d runs x CPU per jobrunner / %d CPUs',
	    $N_BURST, ncpu()), secs($floor), '', '');
	row('burst', 'burst (all recorded) / floor', over($all_rec, $floor),
	    '<= 1.25', verdict($all_rec && $floor > 0 ? $all_rec / $floor :
	    undef, 1.25));
	row('burst', sprintf('  with the supervisor, PostgreSQL, the stand-in '
	    . '(%.1f s CPU): floor, burst / floor', $others),
	    secs($all) . ', ' . over($all_rec, $all), '', '');
}

sub over {
	my ($t, $floor) = @_;
	return $t && $floor > 0 ? sprintf('%.2f', $t / $floor) : 'n/a';
}

sub bench_evalsched {
	my $h = Evalsched::Test->new;
	note "evalsched: throwaway cluster in " . $h->dir;
	$h->start_pg;
	# Without the route's database writes: the figures are evalsched's.
	$h->start_api(no_db => 1);
	my $api_pid = $h->{api}{pid};
	my $conf = $h->write_config(max_concurrent => $CONCURRENCY,
	    poll_interval => 60, run_timeout => 60, lease => 30);
	my $sup = $h->start_supervisor(config => $conf);
	note "supervisor pid $sup ready";
	bench_idle($h, $sup) if part('idle');
	bench_standin($h) if part('standin');
	bench_dispatch($h) if part('dispatch');
	bench_trigger($h, $conf) if part('trigger');
	bench_burst($h, $sup, $api_pid) if part('burst');
	# The jobrunner by hand, under GNU time, against the same stand-in.
	jobrunner_rss($h) if part('jobrunner');

	# The completion pass with 10,000 runs awaiting completion and the
	# claim query at 10,000 and a million schedules, supervisor stopped
	# so that nothing claims the due rows.
	$h->stop_supervisor;
	completion_pass($h) if part('completion');
	scrape($h, $conf) if part('scrape');
	claim_query($h) if part('claim');
	metric_rules($h) if part('metrics');
	$h->teardown;
}

sub ncpu {
	my $n = `nproc 2>/dev/null`;
	chomp $n;
	return $n || 1;
}

# What one jobrunner process costs, run alone one after another: CPU per
# run for `-V` (exec and dynamic linking only) and for a whole job.
# A job with a per-schedule API key, sealed by the application's own
# encrypt() (the vector of tests/apikey.t).
sub apikey_job {
	my ($h, $jf) = @_;
	my $job = decode_json($h->slurp($jf));
	$job->{encryption_key} = 'evalsched-apikey-t-encryption-key-0123456789';
	$job->{api_key_encrypted} = 'jn208P8s2sBT2nrZuSbx2OKVtMynGBC/HQ4uLmd2OTI8'
	    . 'g9Pbk0Mss8Htwr5zV8gl9JyMzvCv2UMgacI0XeNZXLEpMugRI2fSIoRrXy9f+jfb'
	    . 'fyBKD9Oy/Ve/OM6db8mTIw==';
	(my $out = $jf) =~ s/\.json$/-apikey.json/;
	$h->spew($out, encode_json($job));
	return $out;
}

sub jobrunner_cost {
	my ($h, $jf) = @_;
	my $bin = Evalsched::Test::bin('evalsched-jobrunner');
	my $kf = apikey_job($h, $jf);
	my %cost;
	for my $what (['version', '-V'], ['job', undef, $jf],
	    ['apikey', undef, $kf]) {
		my ($name, $arg, $file) = @$what;
		my (undef, undef, $cu0, $cs0) = times;
		my $t0 = time;
		for (1 .. 50) {
			my $pid = fork // die "fork: $!";
			if ($pid == 0) {
				open STDIN, '<', defined $arg ? '/dev/null' : $file;
				open STDOUT, '>', '/dev/null';
				open STDERR, '>', '/dev/null';
				exec $bin, defined $arg ? ($arg) : ()
				    or POSIX::_exit(127);
			}
			waitpid $pid, 0;
		}
		my (undef, undef, $cu1, $cs1) = times;
		$cost{$name} = [($cu1 + $cs1 - $cu0 - $cs0) / 50,
		    (time - $t0) / 50];
	}
	row('footprint', 'jobrunner alone: CPU / wall per run, whole job',
	    ms($cost{job}[0]) . ' / ' . ms($cost{job}[1]), '', '');
	row('footprint', '  of which process start (-V): CPU / wall',
	    ms($cost{version}[0]) . ' / ' . ms($cost{version}[1]), '', '');
	row('footprint', '  with a per-schedule API key: CPU / wall per run '
	    . '(PBKDF2, 100,000 rounds)', ms($cost{apikey}[0]) . ' / '
	    . ms($cost{apikey}[1]) . sprintf(' (+%.1f ms CPU)',
	    ($cost{apikey}[0] - $cost{job}[0]) * 1000), '', '');
	row('footprint', sprintf('  CPU floor for %d runs on %d CPUs',
	    $N_BURST, ncpu()), secs($cost{job}[0] * $N_BURST / ncpu()), '',
	    '');
}

sub jobrunner_rss {
	my ($h) = @_;
	my %jobs;
	for my $model ('gpt-bench', 'standin:huge') {
		my $jf = $h->dir . "/job-$model.json";
		$jf =~ s/:/-/g;
		$h->spew($jf, encode_json({
			run_id => uuid(), schedule_id => uuid(),
			schedule_name => 'rss', user_id => uuid(),
			test_suite_id => uuid(), model_id => $model,
			batch_test_config => { temperature => 0 },
			app_url => $h->api_url,
			service_role_key => $h->key, timeout_ms => 10_000,
		}));
		$jobs{$model} = $jf;
	}
	my $timebin = -x '/usr/bin/time' ? '/usr/bin/time' : undef;
	if ($timebin) {
		# GNU time's %M is the child's ru_maxrss: the jobrunner's
		# peak (time's own pre-exec footprint is far smaller).
		my %peak;
		for my $model (keys %jobs) {
			for (1 .. 3) {
				my $tf = $h->dir . '/time.out';
				system("$timebin -f '%M' -o '$tf' "
				    . Evalsched::Test::bin('evalsched-jobrunner')
				    . " < '$jobs{$model}' > /dev/null 2>&1");
				my $kb = $h->slurp($tf);
				$kb = $1 if $kb =~ /(\d+)\s*$/;
				$peak{$model} = $kb if $kb =~ /^\d+$/ &&
				    $kb > ($peak{$model} // 0);
			}
		}
		row('footprint', 'jobrunner peak RSS (max of 3, ok answer)',
		    mib($peak{'gpt-bench'}), '<= 12 MiB',
		    verdict($peak{'gpt-bench'}, 12 * 1024));
		row('footprint', '  with a 100 KiB answer',
		    mib($peak{'standin:huge'}), '', '');
	} else {
		row('footprint', 'jobrunner peak RSS', 'n/a (no GNU time)',
		    '<= 12 MiB', 'n/a');
	}
	jobrunner_cost($h, $jobs{'gpt-bench'});
}

# A statement of the supervisor's, as its C source spells it: the string
# literals of `$name = ...;` in $file, macros of that file expanded.
sub c_sql {
	my ($h, $file, $name) = @_;
	my $src = $h->slurp(Evalsched::Test::top() . "/supervisor/$file");
	my %macro;
	while ($src =~ /#define (\w+)\s*\\?\s*((?:.*\\\n)*.*\n)/g) {
		my ($m, $def) = ($1, $2);
		# Its strings, and the macros defined before it that it names.
		my $v = '';
		while ($def =~ /"((?:[^"\\]|\\.)*)"|\b([A-Z][A-Z0-9_]*)\b/g) {
			$v .= defined $1 ? $1 : ($macro{$2} // '');
		}
		$macro{$m} = $v;
		# A number, for STR().
		$macro{$m} = $1 if $macro{$m} eq '' && $def =~ /^(\d+)\b/;
	}
	my ($body) = $src =~ /\b$name(?:\[\])?\s*=\s*(.*?);\n/s
	    or die "no $name in supervisor/$file\n";
	my $sql = '';
	while ($body =~ /"((?:[^"\\]|\\.)*)"|\bSTR\((\w+)\)|\b([A-Z_]+)\b/g) {
		$sql .= defined $1 ? $1 : defined $2 ? ($macro{$2} // '') :
		    ($macro{$3} // '');
	}
	return $sql;
}

# A statement prepared as the supervisor prepares it, executed with
# @args under EXPLAIN (ANALYZE) in a transaction that is rolled back,
# after the five custom-plan runs: planning plus execution, in seconds,
# median of 7.
sub explain_prepared {
	my ($h, $sql, @args) = @_;
	my $exec = 'EXECUTE p(' . join(', ', @args) . ')';
	my $warm = join ' ', map { "$exec;" } 1 .. 6;
	my @out = $h->sql("PREPARE p AS $sql; BEGIN; $warm ROLLBACK; "
	    . join(' ', map { "BEGIN; EXPLAIN (ANALYZE, SUMMARY) $exec; "
	    . 'ROLLBACK;' } 1 .. 7));
	my $text = join "\n", map { $_->[0] // '' } @out;
	my @t;
	push @t, ($1 + $2) / 1000 while $text =~
	    /Planning Time: ([\d.]+) ms.*?Execution Time: ([\d.]+) ms/sg;
	return pct(50, @t);
}

# One round of metric alert rules (supervisor/metrics.c): 10,000 enabled
# rules of 1,000 users (ten each, every metric and aggregation, one in
# five with a model filter, one in a hundred triggering), 1,000,000
# traces of those users spread over the last hour in arrival order,
# 5-minute windows: about 60 samples a rule.  The round as the
# supervisor runs it, ten passes of 1000 rules (in one transaction here,
# so that the minute cannot turn between them), after a round rolled
# back; the database's time is their planning and execution times
# summed.
sub metric_rules {
	my ($h) = @_;
	note 'metric rules: 10,000 rules, 1,000,000 traces';
	my $user = "md5('metric user ' || (i % 1000))::uuid";
	$h->sql(<<"SQL");
INSERT INTO auth.users (id) SELECT DISTINCT $user
FROM generate_series(0, 999) AS i ON CONFLICT DO NOTHING;
SET session_replication_role = replica;
INSERT INTO llm_traces (user_id, trace_id, span_id, span_name, start_time,
    operation_type, model_name, duration_ms, ttft_ms, cost_usd, input_tokens,
    output_tokens, status, created_at)
SELECT md5('metric user ' || (random() * 999)::int)::uuid, 't' || i, 's',
    'llm.completion', now(), CASE WHEN i % 7 = 0 THEN 'embedding'
    ELSE 'completion' END, 'gpt-' || i % 3, 50 + random() * 1000,
    random() * 200, random() * 0.01, (random() * 500)::int,
    (random() * 500)::int, CASE WHEN i % 20 = 0 THEN 'error'
    ELSE 'success' END, now() - interval '1 hour' + i * interval '3.6 ms'
FROM generate_series(1, 1000000) AS i;
INSERT INTO metric_alert_rules (user_id, rule_name, metric_type,
    threshold_value, comparison_operator, aggregation_method, model_filter,
    notify_webhooks)
SELECT $user, 'rule ' || i, (ARRAY['latency', 'error_rate', 'cost',
    'throughput', 'ttft', 'token_usage', 'anomaly_severity'])[1 + i % 7],
    CASE WHEN i % 100 = 0 THEN 0 ELSE 1000000 END, '>',
    (ARRAY['p50', 'p95', 'p99', 'avg', 'max', 'min', 'count',
    'sum'])[1 + (i / 7) % 8], CASE WHEN i % 5 = 0 THEN 'gpt-1' END, true
FROM generate_series(1, 10000) AS i;
SET session_replication_role = DEFAULT;
SQL
	# As a live database has them: hint bits set, statistics taken.
	$h->sql('VACUUM ANALYZE llm_traces, metric_alert_rules');
	my $pass = 'EXPLAIN (ANALYZE, SUMMARY) SELECT count(*) FILTER '
	    . '(WHERE alerted) FROM evalsched_evaluate_metric_rules(1000);';
	# Warmed first, as the other statements measured here: a round
	# rolled back (the supervisor's session is a long-lived one).
	my $text = join "\n", map { $_->[0] // '' }
	    $h->sql('BEGIN; SELECT count(*) FROM '
	    . 'evalsched_evaluate_metric_rules(10000); ROLLBACK; BEGIN; '
	    . join(' ', ($pass) x 10) . ' COMMIT;');
	my ($t, $n) = (0, 0);
	while ($text =~ /Planning Time: ([\d.]+) ms.*?Execution Time: ([\d.]+) ms/sg) {
		$t += ($1 + $2) / 1000;
		$n++;
	}
	my @c = $h->sql("SELECT count(*), round(avg(sample_count)), "
	    . "count(*) FILTER (WHERE triggered) FROM metric_alert_rule_evaluations");
	my $alerts = $h->sql_value("SELECT count(*) FROM evalsched_alerts "
	    . "WHERE metric_rule_id IS NOT NULL");
	$t = undef unless $n == 10 && $c[0][0] == 10000;
	row('metrics', 'metric rules: one round, 10,000 rules, 1,000,000 traces '
	    . '(10 passes of 1000)', secs($t), '<= 1 s', verdict($t, 1));
	push @notes, sprintf('metric rules: %d evaluations, %d samples a rule on '
	    . 'average, %d triggered, %d alerts', $c[0][0], $c[0][1] // 0,
	    $c[0][2], $alerts);
	$h->sql('TRUNCATE llm_traces, metric_alert_rules CASCADE; '
	    . 'TRUNCATE evalsched_metric_slots');
}

# A Prometheus scrape, `evalschedctl metrics`, over a history of
# 1,000,000 runs of 10,000 schedules (a hundred each, over the last
# hundred days), 1,000 of them awaiting completion, 10 in flight, 30,000
# alerts and 100 pending, and the counters in all their shards: the
# whole command (start, connection, statement, output), median of 20;
# its CPU; and its statement alone, in a new session (as a scrape runs
# it: the catalogue is read on the way) and again in the same one.
sub scrape {
	my ($h, $conf) = @_;
	note 'scrape: filling to 1,000,000 runs';
	my $t0 = time;
	my ($user, $suite) = owner_of('scrape');
	$h->sql("TRUNCATE scheduled_evaluations CASCADE; TRUNCATE "
	    . "evalsched_alerts CASCADE;\n" . owners_sql('scrape', 0, 10000) . <<"SQL");
SET session_replication_role = replica;
INSERT INTO scheduled_evaluations (user_id, name, schedule_type, timezone,
    test_suite_id, model_id, next_run_at)
SELECT $user, 'scrape ' || i, 'hourly', 'UTC', $suite, 'gpt-bench',
    now() + random() * interval '1 day' FROM generate_series(0, 9999) AS i;
INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, status,
    slot_at, triggered_at, started_at, error_details, regression_detected,
    evalsched_rev)
SELECT s.id, CASE WHEN j = 1 AND n <= 10 THEN 'triggered'
        WHEN j = 1 AND n <= 1010 THEN 'running'
        WHEN j % 10 = 0 THEN 'failed' ELSE 'completed' END,
    now() - j * interval '1 day', now() - j * interval '1 day'
        + random() * interval '2 s', now() - j * interval '1 day',
    CASE WHEN j % 10 = 0 THEN '{"blame": "platform"}'::jsonb END,
    j % 50 = 0, 1
FROM (SELECT id, row_number() OVER () AS n FROM scheduled_evaluations) s,
    generate_series(1, 100) AS j;
INSERT INTO evalsched_alerts (event, user_id, scheduled_evaluation_id, title,
    message, state)
SELECT 'scheduled_eval_failed', s.user_id, s.id, 't', 'm',
    CASE WHEN k = 1 AND n <= 100 THEN 'pending' ELSE 'delivered' END
FROM (SELECT id, user_id, row_number() OVER () AS n
    FROM scheduled_evaluations) s, generate_series(1, 3) AS k;
SET session_replication_role = DEFAULT;
DELETE FROM evalsched_meta WHERE key = 'counters_seeded_at';
SQL
	# As a live database has them: hint bits set, statistics taken.
	$h->sql('VACUUM ANALYZE scheduled_evaluations, scheduled_evaluation_runs, '
	    . 'evalsched_alerts, evalsched_counters');
	note sprintf 'scrape: filled in %.1f s', time - $t0;
	# The counters, seeded as at an upgrade, in all their shards.
	$t0 = time;
	$h->psql_file(Evalsched::Test::top() . '/etc/schema-additions.sql');
	my $seeded = time - $t0;
	$h->sql('INSERT INTO evalsched_counters (name, k1, k2, shard, value) '
	    . 'SELECT name, k1, k2, s, 0 FROM evalsched_counters, '
	    . 'generate_series(1, 7) AS s');
	my $ctl = Evalsched::Test::bin('evalschedctl');
	my (@t, $out);
	# The load's dirty pages written first, not during the scrapes.
	$h->sql('CHECKPOINT');
	my ($pm) = split /\n/, $h->slurp("$h->{pgdata}/postmaster.pid");
	my @c0 = (times)[2, 3];
	my $pg0 = proc_cpu_children($pm) // 0;
	for my $i (0 .. 20) {
		my $start = time;
		$out = `'$ctl' -c '$conf' metrics 2>&1`;
		my $rc = $? >> 8;
		push @t, time - $start if $i > 0;	# the first warms up
		die "evalschedctl metrics: exit $rc: $out" if $rc != 0;
	}
	# What the scrapes cost in CPU, evalschedctl's and that of the
	# backends that served them (reaped by the postmaster): about a
	# scrape's time on a machine with nothing else to do.
	my @c1 = (times)[2, 3];
	my $pg1 = proc_cpu_children($pm) // 0;
	my $cpu = ($c1[0] - $c0[0] + $c1[1] - $c0[1] + $pg1 - $pg0) / 21;
	# Of which a connection alone costs PostgreSQL.
	$h->sql('SELECT 1') for 1 .. 21;
	my $bare = ((proc_cpu_children($pm) // 0) - $pg1) / 21;
	my ($done) = $out =~ /^evalsched_runs_total\{status="completed",blame=""\} (\d+)$/m;
	my $n = $h->sql_value('SELECT count(*) FROM scheduled_evaluation_runs');
	my (@e, @w);
	my $explain = 'EXPLAIN (ANALYZE, SUMMARY) SELECT * FROM '
	    . 'evalsched_monitor_metrics();';
	for (1 .. 7) {
		my $text = join "\n", map { $_->[0] // '' }
		    $h->sql("$explain $explain");
		my @ms = $text =~ /Planning Time: ([\d.]+) ms.*?Execution Time: ([\d.]+) ms/sg;
		next unless @ms == 4;
		push @e, ($ms[0] + $ms[1]) / 1000;
		push @w, ($ms[2] + $ms[3]) / 1000;
	}
	# The target is the scrape's database work, the part a history could
	# make grow: its statement in a session of its own, as each scrape
	# has.  The whole command adds starting a program and a connection,
	# whose cost is the machine's (PostgreSQL's CPU for a bare one is in
	# the notes).
	my $cold = pct(50, @e);
	row('scrape', sprintf('a scrape at %s runs: evalsched_monitor_metrics() '
	    . 'in a new session (median of 7)', $n >= 1e6 ? sprintf('%gM', $n / 1e6)
	    : $n), ms($cold), '<= 50 ms', verdict($cold, 0.050));
	row('scrape', '  the same statement again in that session',
	    ms(pct(50, @w)), '', '');
	row('scrape', '  evalschedctl metrics, the whole command (median of 20)',
	    ms(pct(50, @t)), '', '');
	row('scrape', '  its CPU, evalschedctl\'s and PostgreSQL\'s (mean of 21)',
	    ms($cpu), '', '');
	push @notes, sprintf('scrape: %d runs, of which %s completed counted; '
	    . '%d counter rows; seeding them at the upgrade took %.1f s; '
	    . 'PostgreSQL\'s CPU for a connection that runs SELECT 1: %s',
	    $n, $done // '?', $h->sql_value('SELECT count(*) FROM '
	    . 'evalsched_counters'), $seeded, ms($bare));
	$h->sql('TRUNCATE scheduled_evaluations CASCADE; TRUNCATE '
	    . 'evalsched_alerts, evalsched_counters CASCADE');
}

# One completion pass (supervisor/completion.c) with 10,000 runs whose
# batch tests are under way, each with ten judged assistant messages,
# when none, one and a hundred of them have just ended.
sub completion_pass {
	my ($h) = @_;
	my $sql = c_sql($h, 'completion.c', 'complete_sql');
	# As with listen = yes and the default run_timeout and quality_settle.
	my @args = (86400, 3, 1000, 30, 600, 60);
	note 'completion pass: 10,000 runs awaiting completion';
	my ($user, $suite) = owner_of('await');
	$h->sql("TRUNCATE scheduled_evaluations CASCADE;\n"
	    . owners_sql('await', 1, 10001) . <<"SQL");
SET session_replication_role = replica;
INSERT INTO scheduled_evaluations (user_id, name, schedule_type, timezone,
    test_suite_id, model_id, next_run_at)
SELECT $user, 'await ' || i, 'hourly', 'UTC', $suite,
    'gpt-bench', now() + interval '1 hour' FROM generate_series(1, 10000) i;
INSERT INTO batch_test_runs (id, status, total_prompts, started_at)
SELECT gen_random_uuid(), 'running', 10, now()
FROM scheduled_evaluations WHERE name LIKE 'await %';
WITH b AS (SELECT id, row_number() OVER () AS n FROM batch_test_runs),
     s AS (SELECT id, row_number() OVER () AS n FROM scheduled_evaluations
           WHERE name LIKE 'await %')
INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id,
    batch_test_run_id, status, slot_at, started_at, evalsched_rev)
SELECT s.id, b.id, 'running', now() - interval '1 hour',
    now() - random() * interval '1 hour', 1 FROM b JOIN s USING (n);
INSERT INTO conversations (id, batch_test_run_id)
SELECT gen_random_uuid(), id FROM batch_test_runs;
INSERT INTO messages (conversation_id, role, latency_ms)
SELECT c.id, 'assistant', 100 + i FROM conversations c,
    generate_series(1, 10) i;
INSERT INTO judgments (message_id, judge_type, score)
SELECT id, 'rule', 0.8 FROM messages;
SET session_replication_role = DEFAULT;
ANALYZE;
SQL
	my @cases = ([0, 'none ended'], [1, 'one ended'], [100, '100 ended']);
	for my $case (@cases) {
		my ($n, $what) = @$case;
		$h->sql("UPDATE batch_test_runs SET status = 'completed', "
		    . "completed_prompts = 10, completed_at = now() WHERE id IN "
		    . "(SELECT id FROM batch_test_runs WHERE status = 'running' "
		    . "LIMIT $n)") if $n > 0;
		my $t = explain_prepared($h, $sql, @args);
		row('completion', "completion pass, 10,000 awaiting, $what "
		    . '(prepared; median of 7)', ms($t),
		    $n == 1 ? '<= 10 ms' : '', $n == 1 ? verdict($t, 0.010) : '');
	}
	# llm_traces refer to the messages: they go too.
	$h->sql('TRUNCATE scheduled_evaluations CASCADE; TRUNCATE batch_test_runs, '
	    . 'conversations, messages, judgments CASCADE');
}

sub claim_sql {
	my ($h) = @_;
	my $sql = c_sql($h, 'claim.c', 'claim_sql');
	$sql =~ s/\$1/$CONCURRENCY/g;
	# No open circuit: no schedule to take last.
	$sql =~ s/\$2/NULL/g;
	return $sql;
}

sub explain {
	my ($h, $sql) = @_;
	my (@exec, $plan);
	for (1 .. 7) {
		my @out = $h->sql("BEGIN; EXPLAIN (ANALYZE, BUFFERS) $sql; "
		    . "ROLLBACK;");
		my $text = join "\n", map { $_->[0] // '' } @out;
		push @exec, $1 / 1000 if $text =~ /Execution Time: ([\d.]+) ms/;
		$plan = $text;
	}
	my @idx = $plan =~ /(?:Index (?:Only )?Scan (?:Backward )?using|Bitmap Index Scan on) (\w+)/g;
	my %seen;
	@idx = grep { !$seen{$_}++ } @idx;
	my $seq = $plan =~ /Seq Scan on scheduled_evaluations/ ? 1 : 0;
	return (pct(50, @exec), $plan, \@idx, $seq);
}

sub claim_query {
	my ($h) = @_;
	my $sql = claim_sql($h);
	my $next_sql = c_sql($h, 'claim.c', 'next_due_sql');
	$h->sql('TRUNCATE scheduled_evaluations CASCADE');
	my $have = 0;
	for my $size (10_000, $N_BIG) {
		note "claim query: filling to $size schedules";
		my $t0 = time;
		# 100 due (in the past), the rest due over the coming month;
		# a bulk load as superuser: the wake-up trigger is skipped.
		my $due = $have == 0 ? 100 : 0;
		my ($user, $suite) = owner_of('fill');
		$h->sql(owners_sql('fill', $have, $size) . <<"SQL");
SET session_replication_role = replica;
INSERT INTO scheduled_evaluations (user_id, name, schedule_type,
    timezone, test_suite_id, model_id, next_run_at)
SELECT $user, 'fill ' || i, 'hourly', 'UTC', $suite, 'gpt-bench',
    CASE WHEN i < $due THEN now() - i * interval '1 s'
         ELSE now() + random() * interval '30 days' END
FROM generate_series($have, $size - 1) AS i;
INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, status,
    slot_at, started_at)
SELECT id, 'running', next_run_at - interval '1 hour', now()
FROM scheduled_evaluations WHERE name LIKE 'fill %' AND next_run_at <= now()
  AND $have = 0;
ANALYZE scheduled_evaluations;
ANALYZE scheduled_evaluation_runs;
SQL
		note sprintf 'claim query: filled in %.1f s', time - $t0;
		$have = $size;
		my ($t, $plan, $idx, $seq) = explain($h, $sql);
		my ($tn, $plann, $idxn, $seqn) = explain($h, $next_sql);
		my $label = $size >= 1_000_000 ? sprintf('%gM', $size / 1e6)
		    : sprintf('%gk', $size / 1e3);
		row('claim', "claim query, $label schedules (EXPLAIN ANALYZE, "
		    . 'median of 7)', ms($t), $size >= 1_000_000 ?
		    '<= 5 ms' : '', $size >= 1_000_000 ? verdict($t, 0.005) :
		    '');
		row('claim', '  plan: ' . ($seq ? 'SEQ SCAN, ' : '')
		    . 'index ' . (join(', ', @$idx) || 'none'), '', '', '');
		row('claim', "  next-due query, $label schedules", ms($tn), '',
		    '');
		if ($size == $N_BIG) {
			push @notes, "claim query plan at $label schedules:",
			    map { "    $_" } split /\n/, $plan;
		}
	}
}

# --- pg_cron -------------------------------------------------------------------

sub bench_pgcron {
	(my $lib = Evalsched::Test::pg_bindir()) =~ s{/bin$}{/lib};
	unless (-e "$lib/pg_cron.so") {
		row('pg_cron', 'pg_cron', 'not installed: skipped', '', '');
		return;
	}
	my $h = Evalsched::Test->new;
	note 'pg_cron: throwaway cluster in ' . $h->dir;
	$h->start_pg(no_schema => 1);
	open my $fh, '>>', "$h->{pgdata}/postgresql.conf" or die;
	print $fh <<"CONF";
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
cron.max_running_jobs = $CONCURRENCY
max_worker_processes = 64
CONF
	close $fh;
	$h->pg_ctl('restart') == 0
	    or die "pg_cron cluster: restart failed\n"
	    . $h->slurp($h->dir . '/pg.log');
	$h->sql('CREATE EXTENSION pg_cron');
	$h->sql('CREATE TABLE bench_cron_log (job int, at timestamptz)');
	# The next minute boundary at least 15 s away (pg_cron's cron is in
	# GMT and minute-grained).
	my $m = ceil((time + 15) / 60) * 60;
	my ($min, $hour) = (gmtime $m)[1, 2];
	note sprintf 'pg_cron: %d jobs due at %02d:%02d UTC (in %.0f s)',
	    $N_BURST, $hour, $min, $m - time;
	$h->sql(<<"SQL");
SELECT cron.schedule('bench ' || i, '$min $hour * * *',
    'INSERT INTO bench_cron_log VALUES (' || i || ', clock_timestamp())')
FROM generate_series(1, $N_BURST) AS i
SQL
	sleep 0.5 while time < $m;
	$h->wait_until(sub {
		$h->sql_value("SELECT count(*) FROM cron.job_run_details "
		    . "WHERE end_time IS NOT NULL") >= $N_BURST;
	}, 90);
	my @start = map { $_->[0] - $m } $h->sql("SELECT extract(epoch FROM "
	    . "start_time) FROM cron.job_run_details WHERE start_time IS NOT "
	    . 'NULL');
	my @ran = map { $_->[0] - $m } $h->sql("SELECT extract(epoch FROM at) "
	    . 'FROM bench_cron_log');
	my $failed = $h->sql_value("SELECT count(*) FROM cron.job_run_details "
	    . "WHERE status <> 'succeeded'");
	$h->teardown;
	my @ours = @{ $ev{burst_lag} // [] };
	row('pg_cron', sprintf('%d jobs due in one minute: started %d, '
	    . 'failed %d', $N_BURST, scalar @start, $failed), '', '', '');
	for my $p (0, 50, 99, 100) {
		my $name = $p == 100 ? 'max' : $p == 0 ? 'min' : "p$p";
		row('pg_cron', "burst start lag $name (start_time; evalsched: "
		    . 'due -> request)', ms(pct($p, @ours)), '', '',
		    ms(pct($p, @start)), ratio(pct($p, @ours), pct($p, @start)));
	}
	row('pg_cron', 'burst: all started (evalsched: all requests made)',
	    secs($ev{burst_all}), '', '', secs(pct(100, @start)),
	    ratio($ev{burst_all}, pct(100, @start)));
	row('pg_cron', '  pg_cron job SQL ran, p50/max from the minute',
	    '', '', '', ms(pct(50, @ran)) . ' / ' . ms(pct(100, @ran)), '');
}

# --- the table -----------------------------------------------------------------

sub print_table {
	my @head = ('', 'measure', 'evalsched', 'target', '', 'pg_cron',
	    'evalsched/pg_cron');
	my @w = map { length } @head;
	for my $r (@rows) {
		for my $i (0 .. $#head) {
			my $l = length($r->[$i] // '');
			$w[$i] = $l if $l > $w[$i];
		}
	}
	my $fmt = join('  ', map { "%-${_}s" } @w) . "\n";
	my $line = sprintf $fmt, @head;
	$line =~ s/\s+$//;
	print "\n$line\n", '-' x length($line), "\n";
	my $last = '';
	for my $r (@rows) {
		my @c = map { $_ // '' } @$r[0 .. $#head];
		$c[0] = '' if $c[0] eq $last;
		$last = $r->[0];
		(my $l = sprintf $fmt, @c) =~ s/\s+$//;
		print "$l\n";
	}
	my @miss = grep { ($_->[4] // '') eq 'MISS' } @rows;
	printf "\ntargets: %d ok, %d missed%s\n",
	    scalar(grep { ($_->[4] // '') eq 'ok' } @rows), scalar @miss,
	    @miss ? ' (' . join('; ', map { $_->[1] } @miss) . ')' : '';
	my @cpu = `nproc`;
	chomp @cpu;
	printf "machine: %s CPU(s), %s, load average %s at the start; "
	    . "bench took %.0f s\n", $cpu[0], (split /\n/, `uname -sr`)[0],
	    $LOAD0, time - $T_BEGIN;
	print "$_\n" for @notes;
}

my $failed = 0;
eval {
	bench_evalsched();
	1;
} or do {
	my $err = $@;
	chomp $err;
	row('error', "evalsched part stopped: $err", '', '', '');
	$failed = 1;
};
if ($PGCRON && part('pgcron') && !$INTERRUPTED) {
	eval { bench_pgcron(); 1 } or do {
		my $err = $@;
		chomp $err;
		row('pg_cron', "pg_cron part stopped: $err", '', '', '');
	};
}
print_table();
# The harness's END block stops the clusters and processes that are left.
exit($INTERRUPTED ? 130 : $failed);
