# evalsched-supervisor's command line: usage, -V, and -n on good and bad
# configurations (file:line: message, exit 78), an unreachable database
# (69) and a database without the schema (78).  Golden output.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test;

my $t = Evalsched::Test->new;
my $sup = Evalsched::Test::bin('evalsched-supervisor');

sub run {
	my (@args) = @_;
	my $out = $t->dir . '/out';
	local $ENV{SUPABASE_SERVICE_ROLE_KEY};
	delete $ENV{SUPABASE_SERVICE_ROLE_KEY};
	system("'$sup' " . join(' ', map { "'$_'" } @args) . " >'$out' 2>&1");
	my $text = Evalsched::Test::no_settings($t->slurp($out));
	$text =~ s/\Q${\ $t->dir }\E/DIR/g;
	$text =~ s/^\S+ evalsched-supervisor\[\d+\]: //mg;
	return ($? >> 8, $text);
}

sub conf {
	my ($name, $text) = @_;
	my $path = $t->dir . "/$name.conf";
	$t->spew($path, $text);
	return $path;
}

my $usage = "usage: evalsched-supervisor [-1dfntV] [-c file] [-p pidfile] [-u user]\n";
is_deeply([run('-x')], [64, "$sup: invalid option -- 'x'\n$usage"], 'usage: exit 64');
is_deeply([run('extra')], [64, $usage], 'operands: exit 64');
my ($st, $out) = run('-V');
is($st, 0, '-V exits 0');
like($out, qr/^evalsched-supervisor \d+\.\d+\.\d+\n\z/, '-V prints the version');

my $bad = conf('bad', <<'EOF');
# a comment
app_url = ftp://example.org
poll_interval = 0
max_concurrent = three
bogus_key = 1
run_timeout = 30
run_timeout = 40
listen = maybe
database "x"
service_role_key = "unterminated
= 5
EOF
is_deeply([run('-n', '-c', $bad)], [78, <<'EOF'], 'every bad line named as file:line, exit 78');
DIR/bad.conf:2: app_url: 'ftp://example.org' must be an http:// or https:// URL
DIR/bad.conf:3: poll_interval: '0' must be a whole number of seconds from 1 to 86400
DIR/bad.conf:4: max_concurrent: 'three' must be a whole number from 1 to 1024
DIR/bad.conf:5: unknown key 'bogus_key'
DIR/bad.conf:7: duplicate key 'run_timeout' (first set on line 6)
DIR/bad.conf:8: listen: 'maybe' must be yes or no
DIR/bad.conf:9: expected '=' after the key
DIR/bad.conf:10: unterminated quoted value
DIR/bad.conf:11: expected a key name
EOF

{
	my ($st, $out) = run('-t', '-c', $bad);
	is($st, 78, '-t on the same file: exit 78');
	is($out, (run('-n', '-c', $bad))[1], '... with the same messages as -n');
}

is_deeply([run('-n', '-c', $t->dir . '/missing.conf')], [78,
    "DIR/missing.conf: No such file or directory\n"], 'a missing file: exit 78');

my $nokey = conf('nokey', "app_url = http://localhost:3000\n");
is_deeply([run('-n', '-c', $nokey)], [78, "DIR/nokey.conf: no service role key: set "
    . "service_role_key_file (or service_role_key), or SUPABASE_SERVICE_ROLE_KEY (or "
    . "EVALSCHED_SERVICE_ROLE_KEY_FILE) in the environment\n"],
    'no service key: exit 78');

my $badkeyfile = conf('badkeyfile', "service_role_key_file = " . $t->dir . "/nope\n");
is_deeply([run('-n', '-c', $badkeyfile)], [78,
    "DIR/badkeyfile.conf: service_role_key_file: DIR/nope: No such file or directory\n"],
    'an unreadable key file: exit 78');

my $secret = conf('secret', "service_role_key = \"sk-very-secret\"\npoll_interval = x\n");
($st, $out) = run('-n', '-c', $secret);
is($st, 78, 'a bad line beside a key: exit 78');
unlike($out, qr/sk-very-secret/, 'the key is never echoed in a config error');

# Against a database.
$t->start_pg(no_schema => 1);

# -t needs no database: the files alone.
my $nodb = $t->write_config(database => 'host=' . $t->dir . '/nowhere dbname=x');
is_deeply([run('-t', '-c', $nodb)], [0, "configuration OK\n"],
    '-t with the database unreachable: the files are good, exit 0');
my $good = $t->write_config;
(my $g = $good) =~ s/\Q${\ $t->dir }\E/DIR/;
is_deeply([run('-n', '-c', $good)], [78, "$g: database: the database has no evalsched "
    . "schema: apply schema.sql (or schema-additions.sql to an application database)\n"],
    '-n on a database without the schema: exit 78');
$t->psql_file(Evalsched::Test::schema_file());
is_deeply([run('-n', '-c', $good)], [0, "configuration OK\n"], '-n on a good configuration: exit 0');
$t->psql_file(Evalsched::Test::top() . '/etc/schema-additions.sql');
is_deeply([run('-n', '-c', $good)], [0, "configuration OK\n"], 'the additions apply again harmlessly');

# conf.d beside the file: read after it, a later file overriding, a key
# twice in one file an error named by that file and line.  evalschedctl
# reads it too.
{
	my $cd = $t->dir . '/cd';
	mkdir $cd;
	mkdir "$cd/conf.d";
	my $main = "$cd/evalsched.conf";
	(my $text = $t->slurp($good)) =~ s/^database = .*$/database = "host=nowhere.invalid"/m;
	$t->spew($main, $text);
	$t->spew("$cd/conf.d/50-db.conf", "# the real one\ndatabase = \"" . $t->conninfo . "\"\n");
	is_deeply([run('-n', '-c', $main)], [0, "configuration OK\n"],
	    'conf.d: a drop-in overrides the main file (-n reaches its database)');
	my $ctl = Evalsched::Test::bin('evalschedctl');
	is(system("'$ctl' -c '$main' list >/dev/null 2>&1") >> 8, 0,
	    '... and evalschedctl reads it too');
	$t->spew("$cd/conf.d/60-twice.conf", "max_concurrent = 4\nmax_concurrent = 5\n");
	is_deeply([run('-t', '-c', $main)], [78, "DIR/cd/conf.d/60-twice.conf:2: duplicate key "
	    . "'max_concurrent' (first set on line 1)\n"],
	    '... a key twice in one drop-in: an error, named by that file and line');
}

# Daemon mode: a second instance is refused, naming the first.
my $pidfile = $t->dir . '/daemon.pid';
system($sup, '-c', $good, '-p', $pidfile);
is($? >> 8, 0, 'daemon mode: the parent returns 0');
ok($t->wait_until(sub { -s $pidfile }, 10), 'daemon mode: the pid file is written');
chomp(my $daemon = $t->slurp($pidfile));
ok(kill(0, $daemon), "daemon mode: the daemon runs (pid $daemon)");
($st, $out) = run('-c', $good, '-p', $pidfile);
isnt($st, 0, 'a second instance exits non-zero');
like($out, qr/already running as pid $daemon/, 'and names the running pid on stderr');
kill 'TERM', $daemon;
ok($t->wait_until(sub { !kill(0, $daemon) }, 20), 'the daemon stops on SIGTERM');
ok(!-s $pidfile, 'and its pid file is gone');

my $down = $t->write_config(database => 'host=' . $t->dir . '/nowhere dbname=x');
($st, $out) = run('-n', '-c', $down);
is($st, 69, '-n with the database unreachable: exit 69');
like($out, qr/database unreachable.*No such file or directory/s, 'and says why') or diag $out;
done_testing;
