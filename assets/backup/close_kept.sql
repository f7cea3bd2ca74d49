-- In-place restore, inside the swap transaction: the kept copy (the previous contents)
-- loses every privilege held by anyone but its owner. Schema USAGE alone is not enough:
-- a plan cached in an application session holds table OIDs and skips the name lookup,
-- but the table privilege is checked at every execution. {{kept}} is a literal.
DO $tenantctl$
DECLARE
    s text := {{kept}};
    r record;
BEGIN
    -- The schema's relations through pg_depend (indexed on the schema): filtering pg_class
    -- on relnamespace scans all of it, 15-20 ms at 2,000 tenants, inside the swap.
    FOR r IN
        WITH rel AS (
            SELECT c.oid, c.relname, c.relkind, c.relowner, c.relacl FROM pg_class c
            WHERE c.oid IN (SELECT d.objid FROM pg_depend d
                            WHERE d.refclassid = 'pg_namespace'::regclass
                              AND d.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = s)
                              AND d.classid = 'pg_class'::regclass)
              AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = s)
        )
        SELECT DISTINCT c.relname, CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
               CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS who
        FROM rel c, aclexplode(c.relacl) a
        WHERE a.grantee <> c.relowner
        UNION
        SELECT DISTINCT c.relname, 'TABLE',
               CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END
        FROM rel c JOIN pg_attribute t ON t.attrelid = c.oid, aclexplode(t.attacl) a
        WHERE a.grantee <> c.relowner
    LOOP
        EXECUTE format('REVOKE ALL ON %s %I.%I FROM %s', r.kind, s, r.relname, r.who);
    END LOOP;
    FOR r IN
        SELECT DISTINCT p.oid::regprocedure AS f,
               CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS who
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
             aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
        WHERE n.nspname = s AND a.grantee <> p.proowner
    LOOP
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM %s', r.f, r.who);
    END LOOP;
    FOR r IN
        SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS who
        FROM pg_namespace n, aclexplode(n.nspacl) a
        WHERE n.nspname = s AND a.grantee <> n.nspowner
    LOOP
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM %s', s, r.who);
    END LOOP;
    FOR r IN
        SELECT DISTINCT pg_get_userbyid(d.defaclrole) AS owner,
               CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES'
                                    WHEN 'f' THEN 'FUNCTIONS' ELSE 'TYPES' END AS kind,
               CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS who
        FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace,
             aclexplode(d.defaclacl) a
        WHERE n.nspname = s AND a.grantee <> d.defaclrole
    LOOP
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I REVOKE ALL ON %s FROM %s',
                       r.owner, s, r.kind, r.who);
    END LOOP;
END
$tenantctl$;
