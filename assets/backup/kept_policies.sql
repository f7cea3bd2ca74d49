-- Tenant drop, inside its transaction: policies in the tenant's kept copies that name its
-- read-only role. They grant nothing (the swap revoked every privilege on a kept copy), but
-- they would stop DROP ROLE. kept_prefix and ro_name are literals.
DO $tenantctl$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT p.polname, n.nspname, c.relname
        FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE left(n.nspname, length({{kept_prefix}})) = {{kept_prefix}}
          AND (SELECT oid FROM pg_roles WHERE rolname = {{ro_name}}) = ANY (p.polroles)
    LOOP
        EXECUTE format('DROP POLICY %I ON %I.%I', r.polname, r.nspname, r.relname);
    END LOOP;
END
$tenantctl$;
