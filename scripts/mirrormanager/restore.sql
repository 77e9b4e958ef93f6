-- SQL that undoes the plan (after plan.sql): the old target of every updated redirect, and the
-- removal of every inserted one. scripts/mirrormanager-release writes it to the restore file
-- before it applies anything.
SELECT format('UPDATE repository_redirect SET to_repo = %L WHERE id = %s AND to_repo = %L;',
              before, id, after)
FROM rl_plan WHERE action = 'update'
UNION ALL
SELECT format('DELETE FROM repository_redirect WHERE from_repo = %L AND to_repo = %L;', from_repo, after)
FROM rl_plan WHERE action = 'insert';
