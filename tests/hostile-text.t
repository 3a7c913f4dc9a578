#!/usr/bin/perl
# Hostile text in schedule rows, as a web user would write it: a name with
# a newline and a fake log line after it, an xterm title and colours, a C1
# CSI, a bidi override, a model id with a newline.  The supervisor's log
# gets no forged line and no control byte, the jobrunner's process title
# none either, and evalschedctl shows them escaped, in text and in JSON.
# Also: a batch_test_config nested deeper than json-c's default 32 levels
# is shown whole by --json show.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Evalsched::Test qw(uuid);
use Encode ();
use JSON::PP;
use POSIX ();
use Test::More;

$ENV{TZ} = 'UTC';
my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
my $ctl = Evalsched::Test::bin('evalschedctl');

# Bytes as an E'' literal: the row gets them whatever psql's encoding.
sub lit {
	my ($s) = @_;
	$s =~ s/([^\x20-\x7e]|['\\])/sprintf('\\x%02x', ord $1)/ge;
	return \"E'$s'";
}

my $FAKE = '2030-01-01T00:00:00.000Z evalsched-supervisor[1]: schedule '
    . '"payroll": run 00000000-0000-4000-8000-000000000000 accepted as '
    . 'test run 00000000-0000-4000-8000-000000000001 (1 ms)';
my %name = (
	forge => "nightly\n$FAKE",
	title => "\e]0;pwned\a\e[31mred\e[0m\e[2J",
	csi => "csi \xc2\x9b" . "2J bidi \xe2\x80\xae" . "gnp.exe\xe2\x80\xac",
	model => 'model with a newline',
);
my %shown = (
	forge => "nightly\\n$FAKE",
	title => '\x1b]0;pwned\x07\x1b[31mred\x1b[0m\x1b[2J',
	csi => 'csi \u009b2J bidi \u202egnp.exe\u202c',
	model => 'model with a newline',
);
my $EVIL_MODEL = "gpt-test\n2030-01-01T00:00:00.000Z "
    . "evalsched-supervisor[1]: forged by the model \e[8m";
my %model = (
	forge => 'gpt-test',
	title => 'standin:slow=4000',	# a live jobrunner to look at
	csi => 'standin:status=400',	# a failure, logged with the name
	model => $EVIL_MODEL,
);
my %id;
for my $k (sort keys %name) {
	my $note = Encode::decode('UTF-8', $name{$k});
	$id{$k} = $t->add_schedule(name => lit($name{$k}),
	    model_id => lit($model{$k}), description => lit("desc $name{$k}"),
	    batch_test_config => lit(encode_json({ note => $note })));
}
is($t->sql_value("SELECT count(*) FROM scheduled_evaluations "
    . "WHERE name = " . ${ lit($name{csi}) } . " AND "
    . "name LIKE '%' || chr(155) || '%' AND name LIKE '%' || chr(8238) "
    . "|| '%'"), 1, 'the rows hold the raw characters');

# Raw bytes a terminal would obey: C0 but tab and newline, DEL, C1 in
# UTF-8, and the bidi controls.
my $RAW = qr/[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]|\xd8\x9c/;

# --- the supervisor's log and the jobrunner's title -------------------------

$t->start_supervisor;
my $log_title = quotemeta qq(schedule "$shown{title}": dispatched run );
ok($t->wait_log(qr/${log_title}\S+ \(jobrunner pid \d+\)/, 30),
    'the slow schedule was dispatched');
my ($jr) = $t->supervisor_log =~ /${log_title}\S+ \(jobrunner pid (\d+)\)/;
SKIP: {
	skip 'no /proc', 3 unless defined $jr && -r "/proc/$jr/cmdline";
	my $title;
	$t->wait_until(sub {
		$title = $t->slurp("/proc/$jr/cmdline");
		$title =~ /\brun /;
	}, 10);
	$title =~ s/\0+\z//;
	unlike($title, $RAW, 'the jobrunner title has no control byte');
	like($title, qr/\brun [0-9a-f-]{36} \Q$shown{title}\E/,
	    '... it shows the name escaped');
	unlike($title, qr/\e/, '... no ESC');
}
ok($t->wait_until(sub { $t->sql_value("SELECT count(DISTINCT "
    . "scheduled_evaluation_id) FROM scheduled_evaluation_runs "
    . "WHERE status <> 'triggered'") == 4 }, 40), 'every schedule ran');
$t->wait_log(qr/\Q$shown{csi}\E": run \S+ failed/, 10);
$t->stop_supervisor;

my $log = $t->supervisor_log;
unlike($log, qr/^2030-01-01T00:00:00\.000Z/m,
    'no forged log line, from a name or a model id');
my @bad = grep { !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z evalsched-[a-z]+\[\d+\]: / }
    split /\n/, $log;
is_deeply(\@bad, [], 'every line of the log is a line we wrote');
unlike($log, qr/\e/, 'no ESC in the log');
unlike($log, qr/\a/, 'no BEL in the log');
unlike($log, $RAW, 'no control, C1 or bidi character in the log');
like($log, qr/schedule "\Q$shown{forge}\E": dispatched run /,
    'the name with a newline is logged escaped');
like($log, qr/schedule "\Q$shown{title}\E": dispatched run /,
    'the name with ESC and BEL is logged escaped');
like($log, qr/schedule "\Q$shown{csi}\E": run \S+ failed/,
    'the name with CSI and a bidi override is logged escaped');

# --- evalschedctl ----------------------------------------------------------

my $conf = $t->write_config;

sub ctl { $t->ctl('-c', $conf, @_) }

# A run the application wrote, with a hostile error message.
my $RUN = uuid();
$t->sql("INSERT INTO scheduled_evaluation_runs (id, scheduled_evaluation_id, "
    . "status, triggered_at, completed_at, error_message) VALUES ('$RUN', "
    . "'$id{csi}', 'failed', '2030-01-01 00:00:00+00', "
    . "'2030-01-01 00:01:00+00', "
    . ${ lit("boom\e]8;;http://evil/\e\\click\e]8;;\e\\ \xe2\x81\xa6x\xe2\x81\xa9") }
    . ")");
my $ERR_SHOWN = 'boom\x1b]8;;http://evil/\x1b\click\x1b]8;;\x1b\ \u2066x\u2069';

my @r = ctl('list');
is($r[0], 0, 'list: exit 0');
unlike($r[1], $RAW, 'list: no raw control, C1 or bidi character');
is(scalar(() = $r[1] =~ /\n/g), 5, 'list: a header and four rows, none forged');
for my $k (sort keys %shown) {
	like($r[1], qr/^$id{$k}\t\Q$shown{$k}\E\t/m, "list: the $k name escaped");
}

for my $k (sort keys %shown) {
	@r = ctl('show', $id{$k});
	is($r[0], 0, "show $k: exit 0");
	unlike($r[1], $RAW, "show $k: no raw control, C1 or bidi character");
	like($r[1], qr/^name\t\Q$shown{$k}\E$/m, "show $k: the name escaped");
	like($r[1], qr/^description\tdesc \Q$shown{$k}\E$/m,
	    "show $k: the description escaped");
}
@r = ctl('show', $id{model});
like($r[1], qr/^model\tgpt-test\\n2030-01-01T00:00:00\.000Z evalsched-supervisor\[1\]: forged by the model \\x1b\[8m$/m,
    'show: the model id escaped');
@r = ctl('show', $id{csi});
like($r[1], qr/^last failure\t.*: \Q$ERR_SHOWN\E$/m,
    'show: the last failure escaped');

@r = ctl('runs', $id{csi});
is($r[0], 0, 'runs: exit 0');
unlike($r[1], $RAW, 'runs: no raw control, C1 or bidi character');
like($r[1], qr/^$RUN\t.*\t\Q$ERR_SHOWN\E$/m, 'runs: the error escaped');

# A run in flight and overdue schedules: status names them.
$t->sql("UPDATE scheduled_evaluations SET next_run_at = now() - "
    . "interval '1 hour', is_active = true");
$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, "
    . "status, slot_at, triggered_at) VALUES ('$id{forge}', 'triggered', "
    . "'2031-01-01 00:00:00+00', now())");
@r = ctl('status');
is($r[0], 2, 'status: down, with no supervisor');
unlike($r[1], $RAW, 'status: no raw control, C1 or bidi character');
like($r[1], qr/\t\Q$shown{forge}\E\t/, 'status: the run in flight escaped');
like($r[1], qr/\t\Q$shown{csi}\E\t/, 'status: an overdue schedule escaped');

# Two schedules by one hostile name: the candidates, on stderr.
$t->add_schedule(name => lit($name{title}), is_active => 'false');
@r = ctl('show', $name{title});
is($r[0], 65, 'an ambiguous hostile name: 65');
unlike($r[2], qr/\e|\a/, '... stderr has no ESC or BEL');
like($r[2], qr/^evalschedctl: name '\Q$shown{title}\E' is ambiguous/,
    '... it is escaped');
is(scalar(() = $r[2] =~ /^  [0-9a-f-]{36}  \Q$shown{title}\E$/mg), 2,
    '... and so are the candidates');

SKIP: {
	my $script = `command -v script 2>/dev/null`;
	chomp $script;
	skip 'no script(1) for a pseudo-terminal', 2 unless $script;
	for my $cmd (['list'], ['show', $id{csi}]) {
		my $line = join ' ', map { "'$_'" } $ctl, '-c', $conf, @$cmd;
		my $out = `$script -qec "$line" /dev/null`;
		$out =~ s/\r//g;
		ok($out !~ $RAW && $out =~ /\Q$shown{csi}\E/,
		    "a terminal: $cmd->[0] shows it escaped");
	}
}

# --- --json ----------------------------------------------------------------

my $json = JSON::PP->new->utf8->max_depth(100000);
for my $cmd (['list'], ['show', $id{csi}], ['show', $id{title}],
    ['show', $id{forge}], ['show', $id{model}], ['runs', $id{csi}],
    ['status']) {
	my $what = "--json @$cmd[0]";
	@r = ctl('--json', @$cmd);
	unlike($r[1], $RAW, "$what: no raw control, C1 or bidi character");
	my $j = eval { $json->decode($r[1]) };
	ok($j, "$what: it parses") or diag $@;
}
@r = ctl('--json', 'show', $id{csi});
like($r[1], qr/"name": "csi \\u009b2J bidi \\u202egnp\.exe\\u202c"/,
    '--json: C1 and bidi characters as \u escapes');
my $j = $json->decode($r[1]);
is($j->{name}, Encode::decode('UTF-8', $name{csi}), '... that decode to the name');
is($j->{last_failure}{error_message},
    Encode::decode('UTF-8', "boom\e]8;;http://evil/\e\\click\e]8;;\e\\ \xe2\x81\xa6x\xe2\x81\xa9"),
    '... and to the error message');
@r = ctl('--json', 'show', $id{title});
like($r[1], qr/"name": "\\u001b\]0;pwned\\u0007/, '--json: C0 as \u escapes');
is($json->decode($r[1])->{batch_test_config}{note}, $name{title},
    '... in the config too');
@r = ctl('--json', 'show', $id{model});
is($json->decode($r[1])->{model_id}, $EVIL_MODEL, '... and the model id');

# --- deep configurations ---------------------------------------------------

for my $depth (40, 2000) {
	my $cfg = ('{"a": ' x $depth) . '"deep"' . ('}' x $depth);
	$t->sql("UPDATE scheduled_evaluations SET batch_test_config = "
	    . "'$cfg'::jsonb WHERE id = '$id{forge}'");
	@r = ctl('--json', 'show', $id{forge});
	is($r[0], 0, "--json show, a config $depth deep: exit 0");
	my $v = eval { $json->decode($r[1])->{batch_test_config} };
	$v = $v->{a} for 1 .. $depth;
	is($v, 'deep', '... and it is shown whole');
	@r = ctl('show', $id{forge});
	like($r[1], qr/^config\t\{"a": \{"a": /m, '... in text too');
}

done_testing;
