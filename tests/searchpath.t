# No name in our SQL resolves through a schema that others can write.
# In the application's database roles other than ours may create objects
# in public (PostgreSQL 14 and older let everyone, and so does a cluster
# upgraded from one).  Function and operator resolution takes the best
# match on the whole search_path, so a planted public.format(text, text,
# text, text) beats pg_catalog's format(text, VARIADIC "any") even with
# pg_catalog searched first, and it runs with the rights of whoever
# calls it: here a superuser.  A hostile role plants more specific
# overloads of what our statements call (format, json_build_object,
# jsonb_build_object, json_agg, array_agg, count, unnest, to_timestamp,
# power, and the operators * || /), with the argument types they pass,
# and of what the schema additions' trigger functions call; each records
# who ran it and the statement that did, then answers as the built-in
# would.  A whole cycle through the real programs (dispatches that
# complete, fail, alert, auto-disable, regress; lost supervisors; the
# checks of -n; every evalschedctl command that reads the database) must
# run none of them.  Plants run from a trigger function are told apart
# from those run by a statement of ours.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test qw(uuid);

my $t = Evalsched::Test->new;
$t->start_pg;
$t->start_api;
my $dir = $t->dir;

# --- the hostile role and its plants ------------------------------------------

# What each plant is: [name, argument types, result], called on to the
# built-in of the same name.  The argument types are those our
# statements pass; a comment says where.
my @functions = (
	# claim.c, the disabling of a bad row
	['format', 'text, text, text, text', 'text'],
	# record.c, a failed dispatch
	['format', 'text, text, text, text, text', 'text'],
	# record.c and completion.c, an auto-disable
	['format', 'text, text, text, integer, text', 'text'],
	# completion.c, every prompt failed
	['format', 'text, integer, integer', 'text'],
	# completion.c, a regression
	['format', 'text, text, text, numeric, text, text, text', 'text'],
	# lease.c, a lost supervisor's run; and why its lease is over
	['format', 'text, uuid, integer, text, text', 'text'],
	['format', 'text, timestamp with time zone', 'text'],
	# claim.c, a bad row's alert; record.c, a failed dispatch's
	['json_build_object', 'text, uuid, text, uuid, text, text, text, text, '
	    . 'text, text, text, text, text, integer, text, uuid', 'json'],
	# completion.c, an alert of a completed run
	['json_build_object', 'text, uuid, text, uuid, text, text, text, text, '
	    . 'text, text, text, integer, text, integer, text, integer, text, '
	    . 'text, text, integer, text, uuid, text, uuid, text, json', 'json'],
	# alerts.c, the webhooks handed to a notifier
	['json_build_object', 'text, uuid, text, text, text, text, text, text',
	    'json'],
	# claim.c, a bad row's error_details
	['jsonb_build_object', 'text, text, text, text, text, text', 'jsonb'],
	# completion.c, regression_details and error_details
	['jsonb_build_object', 'text, numeric, text, numeric, text, numeric, '
	    . 'text, numeric', 'jsonb'],
	['jsonb_build_object', 'text, jsonb, text, jsonb', 'jsonb'],
	['jsonb_build_object', 'text, text, text, text, text, text, text, text, '
	    . 'text, integer', 'jsonb'],
	# lease.c, a lost supervisor's run
	['jsonb_build_object', 'text, uuid, text, text, text, integer, text, '
	    . 'text, text, text', 'jsonb'],
	# record.c, the real end of a lost supervisor's run
	['jsonb_build_object', 'text, integer, text, text, text, jsonb', 'jsonb'],
	# claim.c, the next fire time; evalschedctl add and resume
	['to_timestamp', 'bigint', 'timestamp with time zone'],
	# alerts.c, the pause before a retry
	['power', 'integer, integer', 'double precision'],
	# The schema additions' trigger functions: evalsched_notify_run (a
	# run's event, a regression) and evalsched_notify_disabled.
	['json_build_object', 'text, text, text, text, text, uuid, text, uuid, '
	    . 'text, text, text, text, text, uuid, text, integer, text, '
	    . 'integer, text, integer, text, numeric, text, numeric, text, '
	    . 'text, text, text', 'json'],
	['json_build_object', 'text, text, text, text, text, uuid, text, uuid, '
	    . 'text, text, text, uuid, text, numeric, text, jsonb', 'json'],
	['json_build_object', 'text, text, text, text, text, uuid, text, text, '
	    . 'text, boolean, text, integer', 'json'],
);
# Aggregates: [name, argument type, state type, the state's first value,
# step, result from state $1].
my @aggregates = (
	# alerts.c, the webhooks; and those left to retry
	['json_agg', 'json', 'json[]', undef, 'array_append($1, $2)',
	    'array_to_json($1)'],
	['array_agg', 'uuid', 'uuid[]', undef, 'array_append($1, $2)', '$1'],
	# evalschedctl metrics
	(map { ['count', $_, 'bigint', '0',
	    '$1 + CASE WHEN $2 IS NULL THEN 0 ELSE 1 END', '$1'] }
	    'uuid', 'numeric', 'text', 'timestamp with time zone'),
);
# Operators: [operator, left, right, result, the built-in's expression].
my @operators = (
	# lease.c, evalschedctl status and metrics: lease_seconds * interval
	['*', 'integer', 'interval', 'interval', '$1::float8 * $2'],
	# completion.c, a regression's message
	['||', 'numeric', 'text', 'text', '$1::text || $2'],
	# completion.c, the success rate
	['/', 'numeric', 'integer', 'numeric', '$1 / $2::numeric'],
);

# Every plant records, in a table all may write and in the server log
# (which a rolled-back transaction cannot take back), who ran it, the
# statement, and the functions that called it.
my @sql = (
	'CREATE ROLE hostile LOGIN NOSUPERUSER',
	# What PostgreSQL 14 and older grant to PUBLIC.
	'GRANT CREATE ON SCHEMA public TO hostile',
	'SET ROLE hostile',
	'CREATE TABLE public.plant_hits (plant text, run_as name, app text, '
	    . 'query text, context text, at timestamptz DEFAULT now())',
	'GRANT SELECT, INSERT ON public.plant_hits TO PUBLIC',
	'CREATE FUNCTION public.plant_hit(plant text) RETURNS void '
	    . 'LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$ '
	    . 'DECLARE ctx text; BEGIN GET DIAGNOSTICS ctx = PG_CONTEXT; '
	    . "RAISE LOG 'planted % ran as % for: %', plant, current_user, "
	    . 'current_query(); '
	    . 'INSERT INTO public.plant_hits (plant, run_as, app, query, context) '
	    . "VALUES (plant, current_user, current_setting('application_name'), "
	    . 'current_query(), ctx); END $$',
);
my $n = 0;
sub plant_body {
	my ($name, $returns, $value) = @_;
	return "RETURNS $returns LANGUAGE plpgsql "
	    . 'SET search_path = pg_catalog, pg_temp AS $$ BEGIN '
	    . "PERFORM public.plant_hit('$name'); RETURN $value; END \$\$";
}
my @planted;
for my $f (@functions) {
	my ($name, $args, $returns) = @$f;
	my $nargs = 1 + ($args =~ tr/,//);
	my $call = "$name(" . join(', ', map { "\$$_" } 1 .. $nargs) . ')';
	push @sql, "CREATE FUNCTION public.$name($args) "
	    . plant_body("$name($args)", $returns, $call);
	push @planted, "$name($args)";
}
push @sql, 'CREATE FUNCTION public.unnest(text[]) RETURNS SETOF text '
    . 'LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$ BEGIN '
    . "PERFORM public.plant_hit('unnest(text[])'); "
    . 'RETURN QUERY SELECT unnest($1); END $$';
push @planted, 'unnest(text[])';
for my $a (@aggregates) {
	my ($name, $type, $stype, $init, $step, $final) = @$a;
	$n++;
	push @sql, "CREATE FUNCTION public.plant_step_$n($stype, $type) "
	    . "RETURNS $stype LANGUAGE sql SET search_path = pg_catalog, "
	    . "pg_temp AS \$\$ SELECT $step \$\$",
	    "CREATE FUNCTION public.plant_final_$n($stype) "
	    . plant_body("$name($type)", $name eq 'count' ? 'bigint' :
	    $name eq 'json_agg' ? 'json' : $stype, $final),
	    "CREATE AGGREGATE public.$name($type) (SFUNC = "
	    . "public.plant_step_$n, STYPE = $stype, FINALFUNC = "
	    . "public.plant_final_$n" . (defined $init ? ", INITCOND = '$init'" : '')
	    . ')';
	push @planted, "$name($type)";
}
for my $o (@operators) {
	my ($op, $left, $right, $returns, $value) = @$o;
	$n++;
	push @sql, "CREATE FUNCTION public.plant_op_$n($left, $right) "
	    . plant_body("$op($left, $right)", $returns, $value),
	    "CREATE OPERATOR public.$op (LEFTARG = $left, RIGHTARG = $right, "
	    . "FUNCTION = public.plant_op_$n)";
	push @planted, "operator $op($left, $right)";
}
$t->sql(join ";\n", @sql);

# The plants work: an ordinary session runs one, even with pg_catalog
# put first, and it runs as that session's role.
$t->sql("SET search_path = pg_catalog, public; "
    . "SELECT format('%s %s %s', 'a'::text, 'b'::text, 'c'::text)");
is_deeply([$t->sql('SELECT plant, run_as FROM public.plant_hits')],
    [['format(text, text, text, text)', 'postgres']],
    'a planted format() wins over the built-in even with pg_catalog first, '
    . 'and runs as the caller');
is($t->sql_value("SELECT (SELECT count(*) FROM pg_proc "
    . "WHERE proowner = 'hostile'::regrole AND proname !~ '^plant_') + "
    . "(SELECT count(*) FROM pg_operator WHERE oprowner = 'hostile'::regrole)"),
    scalar @planted, 'every plant is in place');
$t->sql('DELETE FROM public.plant_hits');
my $log_start = -s "$dir/pg.log";

# --- a whole cycle through the programs --------------------------------------

my $hport = $t->start_receiver;
sub received { return scalar $t->received }

my $user = $t->add_user;
$t->sql("INSERT INTO user_webhooks (user_id, name, url, secret) VALUES "
    . "('$user', 'hook', 'http://127.0.0.1:$hport/hook/ok', 'whsec-x')");

my $conf = $t->write_config(poll_interval => 2, lease => 4, run_timeout => 5, quality_settle => 1,
    webhook_allow => '127.0.0.1/32');
my $ctl = Evalsched::Test::bin('evalschedctl');
sub ctl { return $t->ctl('-c', $conf, @_) }

my $r = $t->run_program([Evalsched::Test::bin('evalsched-supervisor'), '-n',
    '-c', $conf]);
is($r->{status}, 0, 'evalsched-supervisor -n: its checks pass')
    or diag $r->{err};

# A supervisor on another node that stopped renewing its lease, with a
# run in flight: the live one takes it over, unresolved, and it fails
# once no batch test has turned up within run_timeout.
my $stale = $t->sql_value("INSERT INTO evalsched_supervisors (node, pid, "
    . "version, lease_seconds, max_concurrent, started_at, heartbeat_at) "
    . "VALUES ('elsewhere', 4242, '0', 4, 1, now() - interval '1 hour', "
    . "now() - interval '1 hour') RETURNING id");
my $held = $t->add_schedule(name => 'held elsewhere', user_id => $user,
    next_run_at => \"now() + interval '1 day'");
$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, "
    . "status, slot_at, supervisor_id, evalsched_rev) VALUES ('$held', "
    . "'triggered', now() - interval '1 hour', '$stale', 0)");

$t->spawn('watch', [$ctl, '-c', $conf, 'watch'], "$dir/watch.out");
$t->start_supervisor(config => $conf, name => 'a');

sub status_of {
	my ($id) = @_;
	return join ',', map { $_->[0] } $t->sql("SELECT status FROM "
	    . "scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$id' "
	    . "ORDER BY triggered_at");
}
sub due_again {
	my ($id, $model) = @_;
	$t->sql("UPDATE scheduled_evaluations SET next_run_at = now()"
	    . ($model ? ", model_id = '$model'" : '') . " WHERE id = '$id'");
}

# Completed, then a regression against it (alerted).
my $good = $t->add_schedule(name => 'good', user_id => $user, alert_on_regression => 'true');
ok($t->wait_until(sub { status_of($good) eq 'completed' }, 30),
    'a dispatch that completes') or diag $t->supervisor_log('a');
due_again($good, 'standin:quality=0.4');
ok($t->wait_until(sub { $t->count_runs($good, 'regression_detected') == 1 },
    30), 'then a regression');

# Refused three times: failed alerts, then the auto-disable.
my $bad = $t->add_schedule(name => 'refused', user_id => $user,
    model_id => 'standin:status=400');
for my $k (1 .. 3) {
	ok($t->wait_until(sub { status_of($bad) eq join ',', ('failed') x $k },
	    30), "refused: failure $k");
	due_again($bad) if $k < 3;
}
is($t->sql_value("SELECT is_active FROM scheduled_evaluations "
    . "WHERE id = '$bad'"), 'f', 'refused: auto-disabled after three failures');

# Every prompt fails; a row that cannot run is disabled at the claim.
my $allfail = $t->add_schedule(name => 'all fail', user_id => $user,
    model_id => 'standin:allfail');
my $broken = $t->add_schedule(name => 'broken config', user_id => $user,
    batch_test_config => '[]');
ok($t->wait_until(sub { status_of($allfail) eq 'failed' &&
    status_of($broken) eq 'failed' }, 30),
    'every prompt failed; a bad row disabled') or diag $t->supervisor_log('a');

ok($t->wait_until(sub { status_of($held) eq 'failed' }, 30),
    'the stale supervisor\'s run taken over after the lease, then failed: no batch test');
ok($t->wait_until(sub { $t->sql_value("SELECT count(*) FROM evalsched_alerts "
    . "WHERE state <> 'delivered'") == 0 && received() >= 6 }, 30),
    'the alerts reached the webhook') or diag $t->supervisor_log('a');

# kill -9 with a run in flight: the next supervisor on the node takes it
# over, then records the real outcome its orphaned jobrunner left.
my $orphan = $t->add_schedule(name => 'orphaned', user_id => $user,
    model_id => 'standin:slow=3000,status=404');
ok($t->wait_until(sub { status_of($orphan) eq 'triggered' &&
    $t->jobrunners_of($t->supervisor_pid('a')) }, 30),
    'a run in flight, its jobrunner started');
kill 'KILL', $t->supervisor_pid('a');
$t->wait_exit('a', 10);
$t->start_supervisor(config => $conf, name => 'b');
ok($t->wait_until(sub { $t->count_runs($orphan, "status = 'failed' "
    . "AND error_details ? 'recovered_after'") == 1 }, 30),
    'the orphaned run: taken over, then its real end recorded')
    or diag $t->supervisor_log('b');

# --- every evalschedctl command that reads the database ----------------------

my $suite = uuid();
$t->add_user($user, $suite);
my @cmds = (
	['list'], ['show', 'good'], ['runs', 'good'], ['metrics'],
	['add', '--name', 'added', '--cron', '0 3 * * *', '--suite', $suite,
	    '--model', 'gpt-test', '--user', $user],
	['pause', 'added'], ['resume', 'added'], ['trigger', 'added'],
	['baseline', 'good'], ['baseline', 'good', 'latest'],
	['baseline', '--clear', 'good'], ['--json', 'show', 'refused'],
);
for my $c (@cmds) {
	my ($rc, $out, $err) = ctl(@$c);
	is($rc, 0, "evalschedctl @$c") or diag $err;
}
my ($rc, $out, $err) = ctl('status');
ok($rc <= 2 && $err !~ /database/, 'evalschedctl status') or diag "$rc $err";
my $added = $t->sql_value("SELECT id FROM scheduled_evaluations "
    . "WHERE name = 'added'");
ok($t->wait_until(sub { status_of($added) =~ /^(running|completed)$/ }, 30),
    'the triggered schedule ran');
is($t->stop('watch') >> 8, 0, 'evalschedctl watch ends cleanly');
is($t->stop_supervisor('b') >> 8, 0, 'the supervisor exits cleanly');

# --- none of it ran a plant ---------------------------------------------------

# A plant called by a trigger function of the schema additions has it in
# its context; anything else came from a statement of a program.
my %plant_names = map { /^(\w+)\(/ ? ($1 => 1) : () } @planted;
my (%ours, %schema);
for my $h ($t->sql("SELECT plant, run_as, app, translate(query, E'\\n\\t', "
    . "'  '), translate(context, E'\\n', '|') FROM public.plant_hits")) {
	my ($plant, $as, $app, $query, $context) = @$h;
	my ($caller) = grep { !/^plant_/ && !$plant_names{$_} }
	    $context =~ /function (?:public\.)?(\w+)\(/g;
	$query =~ s/\s+/ /g;
	my $line = sprintf '%s, run as %s in a session of %s%s: %s', $plant,
	    $as, $app, $caller ? ", called by $caller()" : '',
	    substr($query, 0, 200);
	($caller ? \%schema : \%ours)->{$line}++;
}
# Each different hit once, with how many times it came.
sub hits { my ($h) = @_; join "\n", map { "$h->{$_}x $_" } sort keys %$h }
ok(!%ours, 'no statement of ours ran a planted function or operator')
    or diag hits(\%ours);
ok(!%schema, 'no function of the schema ran one either')
    or diag hits(\%schema);
my $logged = () = substr($t->slurp("$dir/pg.log"), $log_start) =~ /planted /g;
my $recorded = 0;
$recorded += $_ for values %ours, values %schema;
is($logged, $recorded, 'none ran in a transaction that was rolled back');
done_testing;
