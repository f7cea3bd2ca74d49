-- The model's policies, tenantctl's and not the template's, re-created on every run on
-- every table: the service role and the tenant's read-only role reach every row of the
-- tenant (a template without policies still serves the service role), and the RLS role
-- passes the tenant binding. Names are stable (service_all, readonly_all) so that tenants
-- made by older releases, whose template created them, converge.
DROP POLICY IF EXISTS service_all ON {{schema}}.{{table}};
CREATE POLICY service_all ON {{schema}}.{{table}} AS PERMISSIVE FOR ALL TO {{service}}
    USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS readonly_all ON {{schema}}.{{table}};
CREATE POLICY readonly_all ON {{schema}}.{{table}} AS PERMISSIVE FOR SELECT TO {{ro}}
    USING (true);

-- The tenant binding: the RLS role passes only when its session is routed to this tenant
-- (search_path first on the tenant's schema, as the seed's resolver sets it). RESTRICTIVE,
-- so it is ANDed with whatever the template's own policies allow. Re-created on every run
-- so that an edited copy cannot survive a migration.
DROP POLICY IF EXISTS tenantctl_tenant_bound ON {{schema}}.{{table}};
CREATE POLICY tenantctl_tenant_bound ON {{schema}}.{{table}} AS RESTRICTIVE FOR ALL TO {{rls}}
    USING (pg_catalog.current_schema() OPERATOR(pg_catalog.=) {{schema_name}}::pg_catalog.name)
    WITH CHECK (pg_catalog.current_schema() OPERATOR(pg_catalog.=) {{schema_name}}::pg_catalog.name);
GRANT SELECT ON {{schema}}.{{table}} TO {{rls}};
