# The rules the schema additions write once, tried on rows made by hand:
# each tests/sql/*.sql (but tap.sql, their helpers) runs on the
# application's schema and the additions, in a transaction it rolls
# back, and reports each check as a row (ok or not, what, what was found
# instead) that becomes a test here.
use strict;
use warnings;
use lib 'tests/lib';
use Test::More;
use Evalsched::Test;

my $t = Evalsched::Test->new;
$t->start_pg;
my $dir = Evalsched::Test::top() . '/tests/sql';
$t->psql_file("$dir/tap.sql");

for my $file (sort grep { !m{/tap\.sql$} } glob "$dir/*.sql") {
	my ($name) = $file =~ m{([^/]+)\.sql$};
	my $r = $t->run_program([$t->psql_cmd, '-A', '-t', '-f', $file],
	    env => { PGOPTIONS => '-c client_min_messages=warning' });
	is($r->{status}, 0, "$name: runs to its end") or diag $r->{err};
	my $n = 0;
	for my $line (split /\n/, $r->{out}) {
		my ($verdict, $what, $got) = split /\t/, $line, 3;
		if (!defined $what || $verdict !~ /^(?:not )?ok$/) {
			fail("$name: a row that is no check: $line");
			next;
		}
		$n++;
		ok($verdict eq 'ok', "$name: $what") or diag $got;
	}
	cmp_ok($n, '>', 0, "$name: checks something");
}

done_testing;
