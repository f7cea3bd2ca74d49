-- Bootstrap version 1: the common schema, the tenant registry, the console log and the
-- grants of the model. Runs in one transaction, after the roles exist, as the admin role
-- (SET ROLE), so that every object is owned by it. Placeholders are quoted identifiers
-- or literals filled in by tenantctl's naming policy.

CREATE SCHEMA {{commons}} AUTHORIZATION {{admin}};

-- Nobody reaches the common schema unless granted below.
REVOKE ALL ON SCHEMA {{commons}} FROM PUBLIC;

CREATE TABLE {{commons}}.tenantctl_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
COMMENT ON TABLE {{commons}}.tenantctl_meta IS 'tenantctl bookkeeping: bootstrap version';

CREATE TABLE {{commons}}.{{tenants}} (
    id               text PRIMARY KEY
                     CHECK (id ~ '^[a-z][a-z0-9_]*$' AND length(id) <= {{max_id_len}}),
    name             text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    schema           text NOT NULL UNIQUE CHECK (schema = {{schema_prefix}} || id),
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    config           jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(config) = 'object'),
    template_version integer NOT NULL DEFAULT 0 CHECK (template_version >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE {{commons}}.{{tenants}} IS 'tenant registry: one row a tenant, managed by tenantctl';

CREATE TABLE {{commons}}.{{admin_log}} (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    os_user     text NOT NULL,
    db_role     text NOT NULL DEFAULT session_user,
    action      text NOT NULL,
    tenant_id   text,
    sql_summary text NOT NULL DEFAULT '',
    outcome     text NOT NULL,
    detail      jsonb
);
CREATE INDEX ON {{commons}}.{{admin_log}} (at DESC);
COMMENT ON TABLE {{commons}}.{{admin_log}} IS 'console log: every change tenantctl made';

-- The service role routes requests through the registry: it reads it, never rewrites it,
-- and never touches the console log.
GRANT USAGE ON SCHEMA {{commons}} TO {{service}};
GRANT SELECT ON {{commons}}.{{tenants}} TO {{service}};

-- Common tables added later (country codes, settings, ...) get the seed's grants:
-- SELECT/INSERT/UPDATE/DELETE for the service role, and what its inserts need on sequences.
ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA {{commons}}
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {{service}};
ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA {{commons}}
    GRANT USAGE, SELECT ON SEQUENCES TO {{service}};
