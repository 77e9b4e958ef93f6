-- The SOP's verification select, for the redirects of one major version (psql variable major),
-- as JSON-lines records: from_repo, to_repo and the prefix of the repository it names (null when
-- none does). Read-only.
SELECT row_to_json(c)::text
FROM (SELECT 'check' AS event, rr.id, rr.from_repo, rr.to_repo, r.prefix,
             coalesce(rr.to_repo, '') <> '' AND r.prefix IS NOT NULL AS ok
      FROM repository_redirect AS rr
      LEFT JOIN (SELECT DISTINCT prefix FROM repository) AS r ON rr.to_repo = r.prefix
      WHERE rr.from_repo ~ ('-' || :'major' || '($|[-.])')
      ORDER BY r.prefix NULLS FIRST, rr.from_repo) AS c;
