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
