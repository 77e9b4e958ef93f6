-- The subset of MirrorManager2's database that scripts/mirrormanager-release reads and changes,
-- written for the tests from the SQLAlchemy model in fedora-infra/mirrormanager2
-- (mirrormanager2/lib/model.py at commit 49f0cf26, classes Product, Version, Arch, Category,
-- Directory, Repository, RepositoryRedirect). Column names, types, nullability, defaults and the
-- unique constraints are the model's; tables and columns these steps never touch are left out.

CREATE TABLE product (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    publiclist boolean NOT NULL DEFAULT true
);

CREATE TABLE version (
    id serial PRIMARY KEY,
    name text,
    codename text,
    is_test boolean NOT NULL DEFAULT false,
    display boolean NOT NULL DEFAULT true,
    display_name text,
    ordered_mirrorlist boolean NOT NULL DEFAULT true,
    sortorder integer NOT NULL DEFAULT 0,
    product_id integer REFERENCES product (id)
);

CREATE TABLE arch (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    publiclist boolean NOT NULL DEFAULT true,
    primary_arch boolean NOT NULL DEFAULT true
);

CREATE TABLE directory (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    files text,
    readable boolean NOT NULL DEFAULT true,
    ctime bigint DEFAULT 0
);
CREATE INDEX ix_directory_readable ON directory (readable);

CREATE TABLE category (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    canonicalhost text DEFAULT 'http://download.fedora.redhat.com',
    publiclist boolean NOT NULL DEFAULT true,
    geo_dns_domain text,
    admin_only boolean DEFAULT false,
    product_id integer REFERENCES product (id),
    topdir_id integer REFERENCES directory (id)
);

CREATE TABLE repository (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    prefix text,
    category_id integer REFERENCES category (id),
    version_id integer REFERENCES version (id),
    arch_id integer REFERENCES arch (id),
    directory_id integer REFERENCES directory (id),
    disabled boolean NOT NULL DEFAULT false,
    CONSTRAINT repository_idx UNIQUE (prefix, arch_id)
);
CREATE INDEX ix_repository_prefix ON repository (prefix);
CREATE INDEX t_repository_category_id_idx ON repository (category_id);
CREATE INDEX t_repository_version_id_idx ON repository (version_id);
CREATE INDEX t_repository_arch_id_idx ON repository (arch_id);
CREATE INDEX t_repository_directory_id_idx ON repository (directory_id);

-- "Uses strings to allow for effective named aliases, and for repos that may not exist yet."
CREATE TABLE repository_redirect (
    id serial PRIMARY KEY,
    to_repo text,
    from_repo text NOT NULL UNIQUE,
    CONSTRAINT repository_redirect_idx UNIQUE (from_repo, to_repo)
);
