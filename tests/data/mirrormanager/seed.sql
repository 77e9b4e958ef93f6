-- Rocky-like rows for the tests: Rocky Linux 8.8, 9.2 and the freshly scanned 9.3 (the SOP's
-- example release), BaseOS/AppStream/CRB/extras with their -debug and -source repositories on
-- two arches, the major-version redirects of the debug and source repositories
-- (`BaseOS-9-debug` → `BaseOS-9.2-debug`, as the SOP's update rewrites them) and the named
-- aliases of the point release (`rocky-BaseOS-9.2` → `BaseOS-9.2`, which its insert copies).

INSERT INTO product (name) VALUES ('Rocky Linux');
INSERT INTO arch (name) VALUES ('x86_64'), ('aarch64');
INSERT INTO version (name, product_id) VALUES ('8.8', 1), ('9.2', 1), ('9.3', 1);
INSERT INTO directory (name) VALUES ('pub/rocky');
INSERT INTO category (name, product_id, topdir_id) VALUES ('Rocky Linux', 1, 1);

INSERT INTO directory (name)
SELECT format('pub/rocky/%s/%s/%s/%s', v, r, a, k)
FROM unnest(ARRAY['8.8', '9.2', '9.3']) AS v,
     unnest(ARRAY['BaseOS', 'AppStream', 'CRB', 'extras']) AS r,
     unnest(ARRAY['x86_64', 'aarch64']) AS a,
     unnest(ARRAY['os', 'debug', 'source']) AS k
WHERE NOT (v = '8.8' AND r = 'CRB');

INSERT INTO repository (name, prefix, category_id, version_id, arch_id, directory_id)
SELECT d.name,
       split_part(d.name, '/', 4) || '-' || split_part(d.name, '/', 3)
           || CASE split_part(d.name, '/', 6) WHEN 'os' THEN '' ELSE '-' || split_part(d.name, '/', 6) END,
       1,
       (SELECT id FROM version WHERE version.name = split_part(d.name, '/', 3)),
       (SELECT id FROM arch WHERE arch.name = split_part(d.name, '/', 5)),
       d.id
FROM directory AS d
WHERE d.name LIKE 'pub/rocky/%/%/%/%';

INSERT INTO repository_redirect (from_repo, to_repo)
SELECT format('%s-%s-%s', r, m, k), format('%s-%s-%s', r, v, k)
FROM (VALUES ('8', '8.8'), ('9', '9.2')) AS mv (m, v),
     unnest(ARRAY['BaseOS', 'AppStream', 'CRB', 'extras']) AS r,
     unnest(ARRAY['debug', 'source']) AS k
WHERE NOT (m = '8' AND r = 'CRB');

INSERT INTO repository_redirect (from_repo, to_repo)
SELECT format('rocky-%s-9.2%s', r, k), format('%s-9.2%s', r, k)
FROM unnest(ARRAY['BaseOS', 'AppStream', 'CRB', 'extras']) AS r,
     unnest(ARRAY['', '-debug', '-source']) AS k;

INSERT INTO repository_redirect (from_repo, to_repo)
SELECT format('rocky-%s-8.8', r), format('%s-8.8', r)
FROM unnest(ARRAY['BaseOS', 'AppStream', 'extras']) AS r;
