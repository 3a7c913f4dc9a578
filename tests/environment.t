# Configuration from the environment, as Render and Compose hand it
# over: EVALSCHED_ and a key's name for every key, the application's own
# names, secrets from *_FILE variables; the environment over the files;
# a bad variable named, exit 78; -n and -t listing every setting with
# where it came from, the secrets and the database's password masked;
# and a supervisor with no configuration file at all dispatching a run.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test;

my $t = Evalsched::Test->new;
my $dir = $t->dir;
my $sup = Evalsched::Test::bin('evalsched-supervisor');

# None of whoever runs the tests: each case sets what it means.
delete @ENV{grep { /^EVALSCHED_(?!ROOT$|PREFIX$|BUILD$)/ || /^(?:NEXT_PUBLIC_APP_URL|SUPABASE_SERVICE_ROLE_KEY|ENCRYPTION_KEY)(?:_FILE)?$/ || $_ eq 'container' } keys %ENV};

# Runs the supervisor with these variables (and no others of ours);
# returns exit status, standard output, standard error.
sub sv {
	my ($env, @args) = @_;
	my $r = $t->run_program([$sup, @args], env => $env);
	s/\Q$dir\E/DIR/g for $r->{out}, $r->{err};
	return ($r->{status}, $r->{out}, $r->{err});
}

# The list's line of a key: "value  # origin", without the key.
sub setting {
	my ($out, $key) = @_;
	return $out =~ /^\Q$key\E =(?: (.*?))?  # (.*)$/m ? ($1 // '') . " # $2" : undef;
}

$t->start_pg;
my $api = $t->start_api;
$t->spew("$dir/service.key", $t->key . "\n");
chmod 0600, "$dir/service.key";
mkdir "$dir/spool";

# What an image's environment holds: everything, and no file.
my %image = (
	EVALSCHED_DATABASE => $t->conninfo . ' password=hunter2-not-shown',
	NEXT_PUBLIC_APP_URL => $api,
	SUPABASE_SERVICE_ROLE_KEY_FILE => "$dir/service.key",
	EVALSCHED_JOBRUNNER => Evalsched::Test::bin('evalsched-jobrunner'),
	EVALSCHED_NOTIFIER => Evalsched::Test::bin('evalsched-notifier'),
	EVALSCHED_PIDFILE => "$dir/env.pid",
	EVALSCHED_SPOOL_DIR => "$dir/spool",
	EVALSCHED_NODE_NAME => 'env-node',
	EVALSCHED_POLL_INTERVAL => 5,
);

# Without -c the default file is read if it is there: the cases that
# mean "no file at all" need it absent.
my (undef, undef, $nokey) = sv({}, '-t');
my ($default) = $nokey =~ /^(\S+): no service role key/m;
ok(defined $default, "without -c and a key, the default file is named: "
    . ($default // $nokey));

SKIP: {
	skip "$default exists here", 9 if !defined $default || -e $default;
	my ($st, $out, $err) = sv(\%image, '-n');
	is($st, 0, '-n with no file, the environment only: exit 0') or diag $err;
	like($out, qr/^configuration OK$/m, '... configuration OK');
	is(setting($out, 'app_url'), "$api # environment: NEXT_PUBLIC_APP_URL",
	    '... app_url from the application\'s NEXT_PUBLIC_APP_URL');
	is(setting($out, 'service_role_key'), '******** # environment: '
	    . 'SUPABASE_SERVICE_ROLE_KEY_FILE', '... the key masked, from the _FILE variable');
	is(setting($out, 'poll_interval'), '5 # environment: EVALSCHED_POLL_INTERVAL',
	    '... poll_interval from EVALSCHED_POLL_INTERVAL');
	is(setting($out, 'run_timeout'), '600 # default', '... run_timeout: the default');
	is(setting($out, 'alert_command'), ' # not set', '... alert_command: not set');
	is(setting($out, 'database'), 'user=postgres password=******** dbname=postgres '
	    . 'host=DIR/pgsock # environment: EVALSCHED_DATABASE',
	    '... the database\'s password masked');
	unlike($out . $err, qr/hunter2|\Q${\ $t->key }\E/, '... neither secret anywhere');
}

# The environment over the file and conf.d; a drop-in named by its line.
{
	my $cd = "$dir/cd";
	mkdir $cd;
	mkdir "$cd/conf.d";
	my $conf = "$cd/evalsched.conf";
	$t->spew($conf, "# main\npoll_interval = 30\nmax_concurrent = 2\n"
	    . "service_role_key = \"file-key-not-shown\"\n");
	chmod 0600, $conf;
	$t->spew("$cd/conf.d/10-site.conf", "max_concurrent = 4\nlisten = no\n");
	my %env = (%image, EVALSCHED_POLL_INTERVAL => 7, EVALSCHED_LISTEN => 'yes');
	delete $env{SUPABASE_SERVICE_ROLE_KEY_FILE};
	my ($st, $out, $err) = sv(\%env, '-t', '-c', $conf);
	is($st, 0, '-t with a file, a drop-in and the environment: exit 0') or diag $err;
	is(setting($out, 'poll_interval'), '7 # environment: EVALSCHED_POLL_INTERVAL',
	    'the environment over the file');
	is(setting($out, 'max_concurrent'), '4 # DIR/cd/conf.d/10-site.conf:1',
	    'a drop-in over the file, named by its line');
	is(setting($out, 'listen'), 'yes # environment: EVALSCHED_LISTEN',
	    'the environment over a drop-in');
	is(setting($out, 'service_role_key'), '******** # DIR/cd/evalsched.conf:4',
	    'a key of the file: masked, named by its line');
	unlike($out . $err, qr/file-key-not-shown/, '... and never shown');
	like($err, qr/^environment: warning: EVALSCHED_DATABASE, .*EVALSCHED_POLL_INTERVAL, .*EVALSCHED_LISTEN.*: this check uses them, the service does not/m,
	    'outside a container: the variables the service will not have');
	($st, $out, $err) = sv({ %env, container => 'docker' }, '-t', '-c', $conf);
	unlike($err, qr/this check uses them/, 'in a container (its "container" variable): not said');

	($st, $out, $err) = sv(\%env, '-t', '-c', $conf, '-u', 'nobody', '-d');
	is(setting($out, 'user'), 'nobody # command line: -u', '-u named as the command line');
	is(setting($out, 'log_level'), 'debug # command line: -d', '-d too');
}

# A bad variable: named, with the manual's words, exit 78; every error.
{
	my ($st, $out, $err) = sv({ %image, EVALSCHED_MAX_CONCURRENT => 0,
	    EVALSCHED_LOG => 'journal', EVALSCHED_APP_URL => 'ftp://x' }, '-t', '-c', '/dev/null');
	is($st, 78, 'bad variables: exit 78');
	is($err, "environment: EVALSCHED_APP_URL: 'ftp://x' must be an http:// or https:// URL\n"
	    . "environment: EVALSCHED_MAX_CONCURRENT: '0' must be a whole number from 1 to 1024\n"
	    . "environment: EVALSCHED_LOG: 'journal' must be syslog, stderr or an absolute path\n",
	    '... each named by its variable, as a file\'s line is');
	is($out, '', '... and no list of settings');

	($st, $out, $err) = sv({ %image, SUPABASE_SERVICE_ROLE_KEY => 'sk-env-not-shown' },
	    '-t', '-c', '/dev/null');
	is($st, 78, 'a secret and its _FILE both set: exit 78');
	is($err, "environment: set SUPABASE_SERVICE_ROLE_KEY or SUPABASE_SERVICE_ROLE_KEY_FILE, not both\n",
	    '... saying so, as the PostgreSQL image does');

	($st, $out, $err) = sv({ %image, SUPABASE_SERVICE_ROLE_KEY_FILE => "$dir/nokey" },
	    '-t', '-c', '/dev/null');
	is($st, 78, 'a _FILE that cannot be read: exit 78');
	is($err, "environment: SUPABASE_SERVICE_ROLE_KEY_FILE: service_role_key_file: DIR/nokey: "
	    . "No such file or directory\n", '... named by its variable');

	($st, $out, $err) = sv({ %image, EVALSCHED_SERVICE_ROLE_KEY => 'sk-ours-not-shown' },
	    '-t', '-c', '/dev/null');
	is(setting($out, 'service_role_key'), '******** # environment: EVALSCHED_SERVICE_ROLE_KEY',
	    'EVALSCHED_SERVICE_ROLE_KEY over the application\'s SUPABASE_SERVICE_ROLE_KEY_FILE');
	is(setting($out, 'service_role_key_file'), ' # not set', '... whose file is not read');
}

# evalschedctl takes its database from the environment too.
{
	my $r = $t->run_program([Evalsched::Test::bin('evalschedctl'), '-c', '/dev/null',
	    'list'], env => { EVALSCHED_DATABASE => $t->conninfo });
	is($r->{status}, 0, 'evalschedctl: the database from EVALSCHED_DATABASE') or diag $r->{err};
}

# A supervisor with the environment alone dispatches, and its run completes.
SKIP: {
	skip "$default exists here", 4 if !defined $default || -e $default;
	my $id = $t->add_schedule(name => 'from the environment');
	my $log = "$dir/env-supervisor.log";
	{
		local @ENV{keys %image} = values %image;
		$t->spawn('supervisor', [$sup, '-f'], $log);
	}
	$t->{sup_log}{supervisor} = $log;
	ok($t->wait_log(qr/\bready\b/, 30), 'the supervisor starts with no file')
	    or diag $t->slurp($log);
	ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM scheduled_evaluation_runs "
	    . "WHERE scheduled_evaluation_id = '$id' AND status = 'completed'") == 1 }, 30),
	    '... dispatches the due schedule, and its run completes');
	my ($req) = $t->requests_for($id);
	is($req && $req->{headers}{'x-service-role-key'}, $t->key,
	    '... with the key of SUPABASE_SERVICE_ROLE_KEY_FILE');
	is($t->stop_supervisor >> 8, 0, '... and stops on SIGTERM, exit 0');
}

done_testing;
