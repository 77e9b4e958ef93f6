-- The plan as JSON-lines records (after plan.sql): the changes, then the problems, then the digest.
-- psql variable dry_run (true or false) is copied into every change record.
SELECT row_to_json(r)::text
FROM (SELECT 'redirect' AS event, action, id, from_repo, before, after, copied_from,
             :'dry_run'::boolean AS dry_run
      FROM rl_plan
      ORDER BY CASE action WHEN 'update' THEN 0 WHEN 'insert' THEN 1 ELSE 2 END, from_repo) AS r;

SELECT row_to_json(r)::text
FROM (SELECT 'error' AS event, 'precheck' AS op, kind, id, from_repo, to_repo, message
      FROM rl_problem
      ORDER BY kind, from_repo) AS r;

SELECT row_to_json(r)::text FROM (SELECT 'plan' AS event, digest FROM rl_plan_digest) AS r;
