-- Bootstrap version 4: tenantctl's bookkeeping leaves the common schema, whose default
-- privileges hand every new table to the service role, for a schema of its own that no
-- application role reaches; the template history (one row per tenant and applied
-- version, with the file's checksum) and per-tenant pins arrive.

CREATE SCHEMA {{meta}} AUTHORIZATION {{admin}};
REVOKE ALL ON SCHEMA {{meta}} FROM PUBLIC;

ALTER TABLE {{commons}}.tenantctl_meta SET SCHEMA {{meta}};
REVOKE ALL ON {{meta}}.tenantctl_meta FROM PUBLIC, {{service}}, {{rls}};

CREATE TABLE {{meta}}.template_history (
    tenant_id   text NOT NULL,
    version     integer NOT NULL CHECK (version >= 1),
    description text NOT NULL,
    file        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    applied_by  text NOT NULL,
    duration_ms bigint NOT NULL CHECK (duration_ms >= 0),
    PRIMARY KEY (tenant_id, version)
);
CREATE INDEX template_history_version_idx ON {{meta}}.template_history (version, checksum);
COMMENT ON TABLE {{meta}}.template_history IS 'tenantctl: template versions applied per tenant, with checksums';

-- A tenant held at a version by the operator; NULL: follows the newest.
ALTER TABLE {{registry}} ADD COLUMN pinned_version integer CHECK (pinned_version >= 1);
-- An adopted schema whose version is not known yet has none; migrate leaves it alone.
ALTER TABLE {{registry}} ALTER COLUMN template_version DROP NOT NULL;
