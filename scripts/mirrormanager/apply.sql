-- Applies the plan in the transaction psql runs this file in (`psql --single-transaction`):
-- everything or nothing. psql variables: major, old, new, digest (of the plan that was shown and
-- saved in the restore file).
LOCK TABLE repository_redirect IN SHARE ROW EXCLUSIVE MODE;
\ir plan.sql

CREATE TEMP TABLE rl_expect AS SELECT :'digest'::text AS digest;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM rl_problem) THEN
        RAISE EXCEPTION 'the pre-check fails now (%); nothing was changed',
            (SELECT message FROM rl_problem LIMIT 1);
    END IF;
    IF (SELECT digest FROM rl_plan_digest) <> (SELECT digest FROM rl_expect) THEN
        RAISE EXCEPTION 'the redirects changed since the plan was made; nothing was changed (run it again)';
    END IF;
END
$$;

UPDATE repository_redirect AS rr
SET to_repo = p.after
FROM rl_plan AS p
WHERE p.action = 'update' AND rr.id = p.id
RETURNING row_to_json((SELECT r FROM (SELECT 'redirect' AS event, 'update' AS action, rr.id,
          rr.from_repo, p.before, rr.to_repo AS after, false AS dry_run) AS r))::text;

INSERT INTO repository_redirect (from_repo, to_repo)
SELECT from_repo, after FROM rl_plan WHERE action = 'insert' ORDER BY from_repo
RETURNING row_to_json((SELECT r FROM (SELECT 'redirect' AS event, 'insert' AS action, id,
          from_repo, NULL::text AS before, to_repo AS after, false AS dry_run) AS r))::text;

-- The SOP's check, inside the transaction: every redirect of this major names a repository.
DO $$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(rr.from_repo || ' -> ' || coalesce(rr.to_repo, '(none)'), ', ') INTO bad
    FROM repository_redirect AS rr, rl_params AS p
    WHERE rr.from_repo ~ ('-' || p.major || '($|[-.])')
      AND NOT EXISTS (SELECT 1 FROM repository AS r WHERE r.prefix = rr.to_repo);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'after the change these redirects name no repository: %; rolled back', bad;
    END IF;
END
$$;
