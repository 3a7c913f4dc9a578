# The stand-in API itself, without evalsched: it behaves as the
# application's POST /api/batch-testing/run does, database side effects
# included (tests/stand-in-api's docstring is the specification).
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP qw(decode_json encode_json);
use Time::HiRes qw(time);
use Evalsched::Test qw(uuid);

my $UUID = qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

my $t = Evalsched::Test->new;
$t->start_pg;
my $url = $t->start_api;
my $http = HTTP::Tiny->new(timeout => 10);
my $user = uuid();
my $suite = uuid();

# POSTs to the endpoint; returns (status, decoded answer or undef).
# key => undef sends no x-service-role-key; sched => S the scheduled headers.
sub post {
	my (%o) = @_;
	my %h = ('content-type' => 'application/json',
	    'x-service-role-key' => exists $o{key} ? $o{key} : $t->key,
	    'x-user-id' => exists $o{user} ? $o{user} : $user);
	defined $h{$_} or delete $h{$_} for keys %h;
	if ($o{sched}) {
		$h{'x-scheduled-evaluation'} = 'true';
		$h{'x-scheduled-evaluation-id'} = $o{sched};
	}
	my $body = $o{body} // encode_json({ config => {
	    model_id => $o{model} // 'gpt-test', test_suite_id => $suite } });
	my $r = $http->post("$url/api/batch-testing/run",
	    { headers => \%h, content => $body });
	return ($r->{status}, eval { decode_json($r->{content}) });
}

sub count { $t->sql_value("SELECT count(*) FROM $_[0]") }

# The request lines logged for schedule S.
sub logged_for {
	my ($s) = @_;
	return grep { ($_->{headers}{'x-scheduled-evaluation-id'} // '') eq $s } $t->api_requests;
}

# A schedule's runs, oldest first: [status, batch_test_run_id, total,
# successful, failed, completed_at set].
sub runs_of {
	my ($s) = @_;
	return $t->sql("SELECT status, batch_test_run_id, total_prompts, "
	    . "successful_prompts, failed_prompts, completed_at IS NOT NULL "
	    . "FROM scheduled_evaluation_runs WHERE scheduled_evaluation_id = '$s' "
	    . "ORDER BY created_at, triggered_at");
}

# A batch test: [status, total, completed, failed, error, completed_at set].
sub batch {
	my ($id) = @_;
	return ($t->sql("SELECT status, total_prompts, completed_prompts, "
	    . "failed_prompts, error, completed_at IS NOT NULL "
	    . "FROM batch_test_runs WHERE id = '$id'"))[0];
}

# A batch test's results: [user messages, assistant messages, judgments,
# avg latency_ms, avg score, every judgment passed].
sub results {
	my ($id) = @_;
	return ($t->sql(<<"SQL"))[0];
SELECT (SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
        WHERE c.batch_test_run_id = '$id' AND m.role = 'user'),
       (SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
        WHERE c.batch_test_run_id = '$id' AND m.role = 'assistant'),
       count(j.id), (SELECT round(avg(m.latency_ms)) FROM messages m
        JOIN conversations c ON c.id = m.conversation_id
        WHERE c.batch_test_run_id = '$id' AND m.role = 'assistant'),
       avg(j.score), bool_and(j.passed)
FROM judgments j JOIN messages m ON m.id = j.message_id
JOIN conversations c ON c.id = m.conversation_id WHERE c.batch_test_run_id = '$id'
SQL
}

my $ends = 0;	# batch_end lines expected so far

# --- authentication ----------------------------------------------------------

my $s_auth = $t->add_schedule(name => 'auth');
my ($st, $a) = post(key => 'sk-wrong', sched => $s_auth);
is($st, 401, 'wrong key: 401');
is_deeply($a, { error => 'Invalid service role key' }, 'wrong key: the route\'s message');
($st, $a) = post(key => undef, sched => $s_auth);
is($st, 401, 'no key: 401');
($st, $a) = post(user => undef, sched => $s_auth);
is($st, 401, 'no x-user-id: 401');
is(scalar(runs_of($s_auth)), 0, 'refused: no scheduled run inserted');
is(count('batch_test_runs'), 0, 'refused: no batch test');

# --- the insert before the body is parsed, and the body's checks -------------

my $s_bad = $t->add_schedule(name => 'bad body');
($st, $a) = post(sched => $s_bad, body => encode_json({ config => { model_id => 'gpt-test' } }));
is($st, 400, 'config without test_suite_id: 400');
is_deeply($a, { error => 'test_suite_id and model_id are required' }, '400: the message');
($st) = post(sched => $s_bad, body => '{"no": "config"}');
is($st, 400, 'no config: 400');
# No counts yet: the application's table has no default for them (NULL).
is_deeply([runs_of($s_bad)], [['triggered', undef, undef, undef, undef, 'f'],
    ['triggered', undef, undef, undef, undef, 'f']],
    'scheduled headers: a triggered row each, before the body is parsed');
my @logged = logged_for($s_bad);
is_deeply([map { $_->{scheduled_run_inserted} } @logged], [JSON::PP::true, JSON::PP::true],
    'the log says the insert was made');
($st, $a) = post(model => 'standin:prompts=0');
is($st, 400, 'prompts=0: 400');
is_deeply($a, { error => 'No prompts extracted from source' }, 'prompts=0: the message');
is(count('batch_test_runs'), 0, 'refused: no batch test');

# --- accepted: rows now, results after duration, the positional update ------

my $s_ok = $t->add_schedule(name => 'ok');
$t->sql("INSERT INTO scheduled_evaluation_runs (scheduled_evaluation_id, status) "
    . "VALUES ('$s_ok', 'triggered')");	# an older run still triggered
($st, $a) = post(sched => $s_ok,
    model => 'standin:prompts=5,quality=0.9,latency=120,duration=4000');
is($st, 200, 'accepted: 200');
my $b = $a->{test_run_id} // '';
like($b, $UUID, 'accepted: test_run_id is a uuid4');
is_deeply($a, { success => JSON::PP::true, test_run_id => $b, status => 'running',
    total_prompts => 5 }, 'accepted: the route\'s answer');
is_deeply([batch($b)], [['running', 5, 0, 0, undef, 'f']], 'batch test created, running');
is_deeply([$t->sql("SELECT user_id, model_name, config->>'test_suite_id', "
    . "started_at IS NOT NULL FROM batch_test_runs WHERE id = '$b'")],
    [[$user, 'standin:prompts=5,quality=0.9,latency=120,duration=4000', $suite, 't']],
    'batch test: user, model, config, started_at');
is(count("conversations WHERE batch_test_run_id = '$b' AND user_id = '$user'"), 1,
    'one conversation');
is(count("messages"), 0, 'no message before the end');
is(scalar(grep { $_->[0] eq 'triggered' } runs_of($s_ok)), 2, 'two triggered rows meanwhile');
my ($req) = grep { ($_->{test_run_id} // '') eq $b } $t->api_requests;
ok($req && $req->{answered} == 200, 'the log names the test_run_id');
ok($t->wait_batch_ends(++$ends, 20), 'the batch test ends');
is_deeply([batch($b)], [['completed', 5, 5, 0, undef, 't']], 'completed, 5 of 5');
is_deeply([results($b)], [[5, 5, 5, 120, '0.90000000000000000000', 't']],
    'messages, judgments, latency and quality');
is_deeply([runs_of($s_ok)], [map { ['completed', $b, 5, 5, 0, 't'] } 1 .. 2],
    'the positional update completed every triggered row of the schedule');
my ($end) = grep { $_->{test_run_id} eq $b } $t->api_batch_ends;
is($end->{scheduled_runs_updated}, 2, 'batch_end: two rows updated');
is(scalar(grep { $_->{event} } $t->api_requests), 0, 'api_requests: requests only');

# --- how batch tests end -----------------------------------------------------

my %case = (
	fail => ['standin:fail=2,quality=0.3,duration=100', 'completed', 4, 2, 2, undef, 'completed'],
	allfail => ['standin:allfail,duration=100', 'completed', 4, 0, 4, undef, 'completed'],
	crash => ['standin:prompts=3,crash,duration=100', 'failed', 3, 3, 0,
	    'batch worker crashed', 'failed'],
	# cancel is cancel=0: the loop does not look and ends it 'completed'.
	cancel => ['standin:prompts=3,fail=1,cancel,duration=100', 'completed', 3, 2, 1,
	    'Cancelled by user', 'completed'],
);
my (%id, %sched);
for my $name (sort keys %case) {
	$sched{$name} = $t->add_schedule(name => $name);
	(my $s, $a) = post(sched => $sched{$name}, model => $case{$name}[0]);
	is($s, 200, "$name: 200");
	$id{$name} = $a->{test_run_id};
	$ends++;
}
($st, $a) = post(model => 'standin:never,duration=50');
my $never = $a->{test_run_id};
is($st, 200, 'never: 200');
ok($t->wait_batch_ends($ends, 10), 'the batch tests end');
for my $name (sort keys %case) {
	my (undef, $status, $n, $ok, $failed, $error, $sched_status) = @{ $case{$name} };
	is_deeply([batch($id{$name})], [[$status, $n, $ok, $failed, $error, 't']],
	    "$name: the batch test ends $status, $ok of $n");
	my @r = results($id{$name});
	is_deeply([@{ $r[0] }[0, 1, 2]], [$n, $ok, $ok],
	    "$name: a user message per prompt, an assistant message and a judgment per success");
	# The route's catch block names no batch test, only the error.
	my $named = $name eq 'crash' ? undef : $id{$name};
	is_deeply([runs_of($sched{$name})], [[$sched_status, $named, $n, $ok, $failed, 't']],
	    "$name: the route's update writes $sched_status");
	is($t->sql_value("SELECT error_message FROM scheduled_evaluation_runs "
	    . "WHERE scheduled_evaluation_id = '$sched{$name}'"), $name eq 'crash' ? $error : undef,
	    "$name: error_message " . ($name eq 'crash' ? 'is the error' : 'left NULL'));
}
is(results($id{fail})->[5], 'f', 'quality 0.3: not passed');
sleep 0.3;
is_deeply([batch($never)], [['running', 4, 0, 0, undef, 'f']], 'never: stays running');
is(scalar(grep { $_->{test_run_id} eq $never } $t->api_batch_ends), 0, 'never: no batch_end');

# --- judgments and a cancel, as the application writes them -----------------

# A batch test's judgments of one judge_type, by criterion: [judge_name,
# criterion, rows, min score, max score, rows passed].
sub judged {
	my ($id, $type) = @_;
	return $t->sql("SELECT j.judge_name, j.criterion, count(*), min(j.score), max(j.score), "
	    . "count(*) FILTER (WHERE j.passed) FROM judgments j "
	    . "JOIN messages m ON m.id = j.message_id "
	    . "JOIN conversations c ON c.id = m.conversation_id "
	    . "WHERE c.batch_test_run_id = '$id' AND m.role = 'assistant' "
	    . "AND j.judge_type = '$type' GROUP BY 1, 2 ORDER BY 2");
}
sub n_judged { my $n = 0; $n += $_->[2] for judged(@_); return $n }
# The stand-in's event lines of one kind for batch test B.
sub events { my ($kind, $b) = @_;
	return grep { ($_->{event} // '') eq $kind && $_->{test_run_id} eq $b } $t->api_log }
# Batch tests at one moment (one statement, as looking takes time): for
# each, [status, error, its 'rule' judgments, its 'llm' judgments].
sub look {
	my $ids = join ',', map { "'$_'" } @_;
	return $t->sql("SELECT b.status, b.error, "
	    . "count(j.id) FILTER (WHERE j.judge_type = 'rule'), "
	    . "count(j.id) FILTER (WHERE j.judge_type = 'llm') "
	    . "FROM unnest(ARRAY[$ids]::uuid[]) WITH ORDINALITY u(id, n) "
	    . "JOIN batch_test_runs b ON b.id = u.id "
	    . "LEFT JOIN conversations c ON c.batch_test_run_id = b.id "
	    . "LEFT JOIN messages m ON m.conversation_id = c.id "
	    . "LEFT JOIN judgments j ON j.message_id = m.id "
	    . "GROUP BY u.n, b.status, b.error ORDER BY u.n");
}

# The margins (judge_late=2000, 300 ms to the cancel and 2500 to the end)
# leave time for the looks in between on a busy machine.
my %j;
(undef, $a) = post(model => 'standin:prompts=3,fail=1,quality=0.4,llm=0.75,duration=100');
$j{llm} = $a->{test_run_id};
(undef, $a) = post(model => 'standin:prompts=2,quality=0.5,llm=0.9,judge_late=2000,duration=100');
$j{late} = $a->{test_run_id};
(undef, $a) = post(model => 'standin:prompts=3,judge_late=2000,judge_late_count=1,duration=100');
$j{rule_late} = $a->{test_run_id};
my $s_cancel = $t->add_schedule(name => 'cancel=MS');
($st, $a) = post(sched => $s_cancel, model => 'standin:prompts=3,fail=1,cancel=300,duration=2500');
is($st, 200, 'cancel=300: 200');
$j{cancel} = $a->{test_run_id};
(undef, $a) = post(model => 'standin:cancel=400,duration=50');
$j{too_late} = $a->{test_run_id};
$ends += 5;

ok($t->wait_until(sub { 2 == grep { events('batch_end', $j{$_}) } qw(late rule_late) }, 10),
    'judge_late: the batch tests end');
my @early = look($j{late}, $j{rule_late});
is(scalar(events('judgments_late', $j{late})), 0, 'judge_late: no judgments_late line yet');
is_deeply($early[0], ['completed', undef, 2, 0],
    'judge_late: the batch test is final, the heuristic\'s judgments are there, the LLM judge\'s not yet');
is_deeply($early[1], ['completed', undef, 2, 0],
    'judge_late_count=1 without llm: one message\'s heuristic judgment is late');

ok($t->wait_until(sub { events('batch_end', $j{llm}) }, 10), 'llm: the batch test ends');
is_deeply([judged($j{llm}, 'llm')], [map { ['gpt-4.1', $_, 2, '0.75', '0.75', $_ eq 'safety' ? 0 : 2] }
    qw(accuracy clarity completeness groundedness helpfulness safety)],
    'llm=0.75: the LLM judge\'s six criteria for each answer, scored 0.75, safety failing its 8/10');
is_deeply([judged($j{llm}, 'rule')], [['basic-quality-checker', 'response_quality', 2, '0.4', '0.4', 0]],
    'llm=0.75: the heuristic\'s judgment too, scored quality');

# The cancelled batch test and its schedule's runs, at one moment.
my $cancelled;
my $look_cancel = "SELECT b.status, b.total_prompts, b.completed_prompts, b.failed_prompts, "
    . "b.error, b.completed_at IS NOT NULL, (SELECT string_agg(r.status, ',') "
    . "FROM scheduled_evaluation_runs r WHERE r.scheduled_evaluation_id = '$s_cancel') "
    . "FROM batch_test_runs b WHERE b.id = '$j{cancel}'";
ok($t->wait_until(sub { ($cancelled) = $t->sql($look_cancel); $cancelled->[0] ne 'running' }, 5),
    'cancel=300: the cancel lands');
is_deeply($cancelled, ['failed', 3, 0, 0, 'Cancelled by user', 't', 'triggered'],
    'cancel=300: failed, Cancelled by user, while its prompts go on, no positional update yet');
my ($creq) = grep { ($_->{test_run_id} // '') eq $j{cancel} } $t->api_requests;
my ($cline) = events('cancel', $j{cancel});
ok($cline && $cline->{written}, 'cancel=300: a cancel line, written');
cmp_ok($cline->{t} - $creq->{t_end}, '>=', 0.29, 'cancel=300: 300 ms after the answer');
ok($t->wait_until(sub { events('cancel', $j{too_late}) }, 5), 'cancel=400 after the end: tried');
is((events('cancel', $j{too_late}))[0]{written}, JSON::PP::false,
    'cancel after the end: refused, as the route refuses a batch no longer running');
is_deeply([batch($j{too_late})], [['completed', 4, 4, 0, undef, 't']],
    'cancel after the end: the batch test stays completed');
is(n_judged($j{too_late}, 'llm'), 0, 'without llm: no LLM judgment');

ok($t->wait_until(sub { events('judgments_late', $j{late}) && events('judgments_late', $j{rule_late}) }, 10),
    'judge_late=2000: the late judgments come');
my ($jl) = events('judgments_late', $j{late});
is_deeply([@$jl{qw(judge_type count written)}], ['llm', 12, JSON::PP::true],
    'judgments_late: the LLM judge\'s 12 (2 answers, 6 criteria)');
is_deeply([@{ (events('judgments_late', $j{rule_late}))[0] }{qw(judge_type count)}], ['rule', 1],
    'judgments_late without llm: the heuristic\'s one');
is_deeply([look($j{late}, $j{rule_late})], [['completed', undef, 2, 12], ['completed', undef, 3, 0]],
    'judge_late: every judgment there now');
cmp_ok($t->sql_value("SELECT extract(epoch FROM min(j.created_at) - min(b.completed_at)) "
    . "FROM judgments j JOIN messages m ON m.id = j.message_id "
    . "JOIN conversations c ON c.id = m.conversation_id "
    . "JOIN batch_test_runs b ON b.id = c.batch_test_run_id "
    . "WHERE b.id = '$j{late}' AND j.judge_type = 'llm'"), '>=', 1.99,
    'judge_late=2000: written 2000 ms after the batch test turned completed');
is_deeply([map { $_->[3] } judged($j{late}, 'llm')], [('0.9') x 6], 'late: scored llm');

ok($t->wait_batch_ends($ends, 10), 'cancel=300: the batch test ends');
is_deeply([batch($j{cancel})], [['completed', 3, 2, 1, 'Cancelled by user', 't']],
    'cancel=300: the loop ends it completed with its full counts, the error left');
is_deeply([runs_of($s_cancel)], [['completed', $j{cancel}, 3, 2, 1, 't']],
    'cancel=300: the positional update of a batch that ran to its end');
is_deeply([@{ results($j{cancel}) }[0, 1, 2]], [3, 2, 2], 'cancel=300: every prompt was run');

($st, $a) = post(model => 'standin:llm=1.5');
is_deeply([$st, $a->{error} // ''], [500, 'stand-in: llm=1.5: not in 0..1'], 'llm above 1: 500');
($st, $a) = post(model => 'standin:judge_late_count=2');
is($st, 500, 'judge_late_count without judge_late: 500');
like($a->{error} // '', qr/^stand-in: judge_late_count=2: only with judge_late=/,
    'judge_late_count without judge_late: the stand-in says why');

# --- answers from in front of the application: no side effects --------------

my $s_front = $t->add_schedule(name => 'front');
my $batches = count('batch_test_runs');
($st) = post(sched => $s_front, model => 'standin:status=503');
is($st, 503, 'status=503: 503');
($st) = post(sched => $s_front, model => 'standin:status=504,prompts=2');
is($st, 504, 'status=504: 504');
($st) = post(sched => $s_front, key => 'sk-wrong', model => 'standin:slow=50,status=502');
is($st, 502, 'status=502: before authentication');
($st) = post(sched => $s_front, model => 'standin:down');
is($st, 599, 'down: the connection is closed without an answer');
($st) = post(sched => $s_front, model => 'standin:status=500');
is($st, 500, 'status=500: the application\'s answer');
is_deeply([map { $_->[0] } runs_of($s_front)], ['triggered'],
    'only the application\'s answer (500) inserted a row');
is_deeply([map { exists $_->{scheduled_run_inserted} ? 1 : 0 } logged_for($s_front)], [0, 0, 0, 0, 1],
    'a gateway\'s answer did not even try the insert');
is(count('batch_test_runs'), $batches, 'no batch test');

# --- the mode at run time ----------------------------------------------------

is($t->api_mode, 'ok', 'GET /_standin/mode: ok');
is($t->api_mode('prompts=2,fail=1,duration=50'), 'prompts=2,fail=1,duration=50', 'mode set');
($st, $a) = post(model => 'gpt-plain');
is_deeply([$st, $a->{total_prompts}], [200, 2], 'the mode applies to a plain model');
ok($t->wait_batch_ends(++$ends, 10), 'its batch test ends');
is_deeply([batch($a->{test_run_id})], [['completed', 2, 1, 1, undef, 't']], 'as the mode says');
$t->api_mode('status=503');
($st) = post(model => 'gpt-plain');
is($st, 503, 'mode status=503');
($st) = post(model => 'standin:ok');
is($st, 200, 'a model_id behaviour still wins');
$ends++;
$t->api_mode('down');
($st) = post(sched => $s_front, model => 'standin:ok');
is($st, 599, 'mode down: closed, whatever the model_id');
my ($last) = ($t->api_requests)[-1];
is_deeply([$last->{answered}, $last->{body}], ['down', undef], 'down: logged, body not read');
ok(!eval { $t->api_mode('nonsense=1'); 1 } && $@ =~ /400/, 'an unknown mode is refused');
is($t->api_mode('ok'), 'ok', 'back to ok');
is_deeply([map { $_->[0] } runs_of($s_front)], ['triggered'], 'still no side effect');
ok($t->wait_batch_ends($ends, 10), 'every batch test ended');

# --- the route's own behaviours ------------------------------------------------

my $s_route = $t->add_schedule(name => 'route');
for my $kind (['key', 401, 'Invalid API key'], ['format', 401, 'Invalid API key format'],
    ['config', 401, 'Server configuration error'], ['session-config', 500, 'Server configuration error'],
    ['db', 401, 'Database error'], ['internal', 401, 'Internal server error']) {
	($st, $a) = post(sched => $s_route, model => "standin:auth=$kind->[0]");
	is_deeply([$st, $a], [$kind->[1], { error => $kind->[2] }], "auth=$kind->[0]: $kind->[1] $kind->[2]");
}
is(scalar(runs_of($s_route)), 0, 'refused by authentication: no scheduled run inserted');

($st, $a) = post(model => 'standin:route,duration=200', body => encode_json({ config => {
    model_id => 'standin:route,duration=200', test_suite_id => $suite, test_run_name => '  nightly  ' } }));
is($st, 200, 'route order: 200');
is($t->sql_value("SELECT config->>'custom_name' FROM batch_test_runs WHERE id = '$a->{test_run_id}'"),
    'nightly', 'config.custom_name is test_run_name trimmed');
ok($t->wait_batch_ends(++$ends, 10), 'route order: the batch test ends');
is_deeply([@{ results($a->{test_run_id}) }[0, 1]], [4, 4], 'its conversation was made in the background');
is($t->sql_value("SELECT title FROM conversations WHERE batch_test_run_id = '$a->{test_run_id}'"),
    'nightly', 'titled with the custom name');

for my $lost (['502', 502], ['504', 504], ['close', 599]) {
	my $before = count('batch_test_runs');
	my $r = $http->post("$url/api/batch-testing/run", { headers => {
	    'content-type' => 'application/json', 'x-service-role-key' => $t->key,
	    'x-user-id' => $user, 'x-scheduled-evaluation' => 'true',
	    'x-scheduled-evaluation-id' => $s_route },
	    content => encode_json({ config => { model_id => "standin:lost=$lost->[0],duration=50",
	    test_suite_id => $suite } }) });
	is($r->{status}, $lost->[1], "lost=$lost->[0]: $lost->[1]");
	like($r->{content}, qr/<html>/, "lost=$lost->[0]: an HTML page") if $lost->[1] != 599;
	is(count('batch_test_runs'), $before + 1, "lost=$lost->[0]: the batch test was created");
	ok($t->wait_batch_ends(++$ends, 10), "lost=$lost->[0]: and ends");
}
is_deeply([sort map { $_->[0] } runs_of($s_route)], [('completed') x 3],
    'lost answers: the positional updates still land');

# Sends the scheduled request for S with model M on a socket of its own,
# without waiting for anything; returns the socket.
sub send_raw {
	my ($s, $m) = @_;
	my $body = encode_json({ config => { model_id => $m, test_suite_id => $suite } });
	my ($port) = $url =~ /:(\d+)$/;
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
	    or die "connect: $!";
	print $sock "POST /api/batch-testing/run HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    . "Content-Type: application/json\r\nx-service-role-key: " . $t->key . "\r\n"
	    . "x-user-id: $user\r\nx-scheduled-evaluation: true\r\n"
	    . "x-scheduled-evaluation-id: $s\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
	return $sock;
}

# late=MS: the gateway answers at once, the route creates the batch MS
# later; lost=hang: accepted, and the answer never comes.  The client
# waiting for the hang gives the late batches their time.
my $s_late = $t->add_schedule(name => 'late');
my $s_hl = $t->add_schedule(name => 'late hang');
my $s_hang = $t->add_schedule(name => 'lost hang');
my $before = count('batch_test_runs');
my $held = send_raw($s_hl, 'standin:lost=hang,late=300,duration=50');
my $t0 = time;
($st) = post(sched => $s_late, model => 'standin:lost=502,late=1000,duration=50');
my $answered_in = time - $t0;
is($st, 502, 'late=1000: the gateway\'s 502');
cmp_ok($answered_in, '<', 1, 'late=1000: at once');
my ($lreq) = logged_for($s_late);
my $lid = $lreq->{test_run_id} // '';
like($lid, $UUID, 'late: the request\'s line names the batch test to come');
is(count("batch_test_runs WHERE id = '$lid'"), 0, 'late: no batch test right after the answer');
# Made before the answer; the late batch's end may complete it by now.
is(scalar(runs_of($s_late)), 1, 'late: the scheduled insert came before the answer');

$t0 = time;
my $r = HTTP::Tiny->new(timeout => 1)->post("$url/api/batch-testing/run", { headers => {
    'content-type' => 'application/json', 'x-service-role-key' => $t->key,
    'x-user-id' => $user, 'x-scheduled-evaluation' => 'true',
    'x-scheduled-evaluation-id' => $s_hang },
    content => encode_json({ config => { model_id => 'standin:lost=hang,duration=50',
    test_suite_id => $suite } }) });
is($r->{status}, 599, 'lost=hang: no answer');
like($r->{content}, qr/timed out/i, 'lost=hang: the client timed out');
cmp_ok(time - $t0, '>=', 0.9, 'lost=hang: after the client\'s timeout, not earlier');
is(count("batch_test_runs WHERE model_name = 'standin:lost=hang,duration=50'"), 1,
    'lost=hang: exactly one batch test created');
my ($hung) = logged_for($s_hang);
is_deeply([@$hung{qw(answered t_end)}], ['hang', undef], 'lost=hang: logged as hang');
is(count("batch_test_runs WHERE id = '" . ($hung->{test_run_id} // '') . "'"), 1,
    'lost=hang: the log names its batch test');

ok($t->wait_until(sub { count("batch_test_runs WHERE id = '$lid'") == 1 }, 3),
    'late: one batch test within MS + slack');
cmp_ok($t->sql_value("SELECT extract(epoch FROM started_at) FROM batch_test_runs WHERE id = '$lid'")
    - $lreq->{t_end}, '>=', 0.99, 'late: created MS after the answer');
my ($created) = grep { ($_->{event} // '') eq 'batch_created' && $_->{test_run_id} eq $lid } $t->api_log;
ok($created && $created->{written}, 'late: a batch_created line');
ok(!IO::Select->new($held)->can_read(0), 'late hang: still no answer nor close');
my ($hl) = logged_for($s_hl);
is_deeply([@$hl{qw(answered t_end)}], ['hang', undef], 'late hang: logged as hang at once');
is(count("batch_test_runs WHERE id = '" . ($hl->{test_run_id} // '') . "'"), 1,
    'late hang: its batch test was created meanwhile');
close $held;
is(count('batch_test_runs'), $before + 3, 'lost=hang, late: one batch test each');
ok($t->wait_batch_ends($ends += 3, 10), 'lost=hang, late: the batch tests end');
is_deeply([runs_of($s_hang)], [['completed', $hung->{test_run_id}, 4, 4, 0, 't']],
    'lost=hang: its positional update lands');
is_deeply([runs_of($s_late)], [['completed', $lid, 4, 4, 0, 't']], 'late: the batch ran as usual');

ok(!eval { $t->api_mode('late=100'); 1 } && $@ =~ /400/, 'late without lost: refused as a mode');
($st, $a) = post(sched => $s_late, model => 'standin:late=100');
is($st, 500, 'late without lost: 500');
like($a->{error} // '', qr/^stand-in: late=100: only with lost=/, 'late without lost: the stand-in says why');
is(scalar(runs_of($s_late)), 1, 'late without lost: no side effect');

my $s_noconv = $t->add_schedule(name => 'noconv');
($st, $a) = post(sched => $s_noconv, model => 'standin:noconv');
is($st, 200, 'noconv: 200');
ok($t->wait_batch_ends(++$ends, 10), 'noconv: the batch test ends');
my $nb = batch($a->{test_run_id});
is_deeply([@$nb[0, 5]], ['failed', 't'], 'noconv: failed, completed_at set');
like($nb->[4], qr/^Failed to create conversation: /, 'noconv: the route\'s error');
is_deeply([map { $_->[0] } runs_of($s_noconv)], ['triggered'], 'noconv: no positional update');

my $r404 = $http->get("$url/api/elsewhere");
is($r404->{status}, 404, 'another path: 404');
like($r404->{headers}{'content-type'}, qr{^text/html}, 'an HTML page');

# --- a database restart: errors are logged, then it reconnects ---------------

$t->pg_ctl('stop', '-m', 'fast') == 0 or die 'pg stop';
($st, $a) = post(model => 'standin:duration=50');
is($st, 200, 'database down: still answers 200');
$t->pg_ctl('start') == 0 or die 'pg start';
like($t->slurp($t->dir . '/api1.err'), qr/database: creating batch test/, 'the error is logged');
($st, $a) = post(model => 'standin:duration=1000');
is($st, 200, 'database back: 200');
is_deeply([batch($a->{test_run_id})], [['running', 4, 0, 0, undef, 'f']], 'reconnected: rows again');
ok($t->wait_batch_ends(++$ends, 10), 'and its batch test ends');

# --- without --database, any key ---------------------------------------------

$batches = count('batch_test_runs');
my $runs = count('scheduled_evaluation_runs');
$url = $t->start_api(no_db => 1, any_key => 1);
($st, $a) = post(key => 'sk-anything', sched => $s_front, model => 'standin:duration=10');
is($st, 200, 'no database, any key: 200');
like($a->{test_run_id} // '', $UUID, 'a random test_run_id');
sleep 0.3;
is_deeply([count('batch_test_runs'), count('scheduled_evaluation_runs')], [$batches, $runs],
    'no database side effect');
is(scalar($t->api_batch_ends), 0, 'no batch end');
ok(!exists +($t->api_requests)[0]{scheduled_run_inserted}, 'no insert attempted');

done_testing;
