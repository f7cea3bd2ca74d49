-- The tenant binding: the RLS role passes only when its session is routed to this tenant
-- (search_path first on the tenant's schema, as the seed's resolver sets it). RESTRICTIVE,
-- so it is ANDed with whatever the template's own policies allow. Re-created on every run
-- so that an edited copy cannot survive a migration.
DROP POLICY IF EXISTS tenantctl_tenant_bound ON {{schema}}.{{table}};
CREATE POLICY tenantctl_tenant_bound ON {{schema}}.{{table}} AS RESTRICTIVE FOR ALL TO {{rls}}
    USING (pg_catalog.current_schema() OPERATOR(pg_catalog.=) {{schema_name}}::pg_catalog.name)
    WITH CHECK (pg_catalog.current_schema() OPERATOR(pg_catalog.=) {{schema_name}}::pg_catalog.name);
GRANT SELECT ON {{schema}}.{{table}} TO {{rls}};
