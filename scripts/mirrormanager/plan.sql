-- The redirect changes of a new point release, as MirrorManager's SOP makes them (Rocky's
-- sig-core-wiki, docs/sop/sop_mirrormanager2.md, "New Release" step 2), computed into temporary
-- tables without changing anything. Read by scripts/mirrormanager-release; psql variables:
-- major (9), old (9.2), new (9.3).
--
--   rl_plan     one row per change: update (a major-version debug/source redirect whose target
--               names OLD), insert (a copy for NEW of a redirect whose name carries OLD), present
--               (that copy exists already, same target: a re-run)
--   rl_problem  why the change must not be made (the SOP's pre-check and what the change would break)
--
-- Differences from the SOP's statements, on purpose: OLD is matched as a whole version
-- (`\m9\.2\M`), so `9.2` never matches `9.20`, `19.2` or `9x2` (the SOP's `'(\w+)-9.2'` and `'9\.2'`
-- would); like the SOP's regexp_replace, only the first occurrence is replaced.

CREATE TEMP TABLE rl_params AS
SELECT :'major'::text AS major,
       :'old'::text AS old,
       :'new'::text AS new,
       '\m' || replace(:'old', '.', '\.') || '\M' AS old_re;

CREATE TEMP TABLE rl_plan AS
WITH p AS (SELECT * FROM rl_params),
updates AS (
    SELECT 'update'::text AS action, rr.id, rr.from_repo, rr.to_repo AS before,
           regexp_replace(rr.to_repo, p.old_re, p.new) AS after, NULL::integer AS copied_from
    FROM repository_redirect AS rr, p
    WHERE rr.from_repo ~ ('(\w+)-' || p.major || '-(debug|source)')
      AND rr.to_repo ~ p.old_re
),
copies AS (
    SELECT regexp_replace(rr.from_repo, p.old_re, p.new) AS from_repo,
           regexp_replace(rr.to_repo, p.old_re, p.new) AS after, rr.id AS copied_from
    FROM repository_redirect AS rr, p
    WHERE rr.from_repo ~ ('(\w+)-' || p.old_re)
)
SELECT * FROM updates
UNION ALL
SELECT CASE WHEN existing.id IS NULL THEN 'insert' ELSE 'present' END,
       existing.id, c.from_repo, existing.to_repo, c.after, c.copied_from
FROM copies AS c
LEFT JOIN repository_redirect AS existing ON existing.from_repo = c.from_repo;

-- The redirects of this major version as they will be after the change.
CREATE TEMP VIEW rl_major_after AS
WITH p AS (SELECT * FROM rl_params)
SELECT rr.id, rr.from_repo, coalesce(u.after, rr.to_repo) AS to_repo
FROM repository_redirect AS rr
LEFT JOIN rl_plan AS u ON u.action = 'update' AND u.id = rr.id, p
WHERE rr.from_repo ~ ('-' || p.major || '($|[-.])')
UNION ALL
SELECT NULL, from_repo, after FROM rl_plan WHERE action = 'insert';

CREATE TEMP TABLE rl_problem AS
SELECT 'empty'::text AS kind, id, from_repo, to_repo,
       format('redirect %s has an empty %s', coalesce(id::text, quote_literal(from_repo)),
              CASE WHEN coalesce(from_repo, '') = '' THEN 'from_repo' ELSE 'to_repo' END) AS message
FROM rl_major_after
WHERE coalesce(from_repo, '') = '' OR coalesce(to_repo, '') = ''
UNION ALL
SELECT 'missing-target', m.id, m.from_repo, m.to_repo,
       format('redirect %s -> %s has no repository with that prefix (has scan-primary-mirror run for the new content?)',
              m.from_repo, m.to_repo)
FROM rl_major_after AS m
WHERE coalesce(m.to_repo, '') <> ''
  AND NOT EXISTS (SELECT 1 FROM repository AS r WHERE r.prefix = m.to_repo)
UNION ALL
SELECT 'conflict', id, from_repo, before,
       format('redirect %s exists already and points to %s, not %s', from_repo, before, after)
FROM rl_plan
WHERE action = 'present' AND before IS DISTINCT FROM after
UNION ALL
SELECT 'nothing', NULL, NULL, NULL,
       format('no redirect names %s: nothing to copy or rewrite (is OLD right?)', old)
FROM rl_params
WHERE NOT EXISTS (SELECT 1 FROM rl_plan);

-- A digest of the plan, so the transaction that applies it can prove it applies what was shown
-- (and what the restore file undoes).
CREATE TEMP VIEW rl_plan_digest AS
SELECT md5(coalesce(string_agg(concat_ws('|', action, id, from_repo, before, after), E'\n'
           ORDER BY action, from_repo), '')) AS digest
FROM rl_plan;
