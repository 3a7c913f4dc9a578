-- What tests/sql/*.sql check with: each check is one row, "ok" or
-- "not ok", a tab, what it checks, a tab, and what was found instead,
-- which tests/sql.t turns into TAP.  Loaded once, before the files.
CREATE SCHEMA tap;

CREATE FUNCTION tap.is(got anyelement, want anyelement, what text)
RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN got IS NOT DISTINCT FROM want THEN 'ok' ELSE 'not ok'
        END || E'\t' || what || E'\t' || CASE
        WHEN got IS NOT DISTINCT FROM want THEN ''
        ELSE pg_catalog.translate('got: ' || coalesce(got::text, 'NULL')
            || '; expected: ' || coalesce(want::text, 'NULL'),
            E'\t\n', '  ') END
$$;

CREATE FUNCTION tap.ok(cond boolean, what text)
RETURNS text LANGUAGE sql AS $$
    SELECT tap.is(cond, true, what)
$$;

-- A user of the application with a test suite of theirs, whose ids the
-- file chooses: what every schedule made by hand needs first.
CREATE FUNCTION tap.owner(user_id uuid, suite_id uuid)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO auth.users (id) VALUES (user_id);
    INSERT INTO public.test_suites (id, user_id, name)
    VALUES (suite_id, user_id, 'suite');
$$;
