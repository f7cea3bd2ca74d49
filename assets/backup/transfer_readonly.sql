-- Restore beside, in the scratch database: every privilege and policy role of the old
-- tenant's read-only role moves to the new tenant's, in the renamed schema. Runs as the
-- admin role (owner of everything in it). {{side}}, {{old_ro}}, {{new_ro}} are literals;
-- identifiers are quoted by format('%I').
DO $tenantctl$
DECLARE
    s       text := {{side}};
    old_ro  text := {{old_ro}};
    new_ro  text := {{new_ro}};
    old_oid oid  := (SELECT oid FROM pg_roles WHERE rolname = {{old_ro}});
    r       record;
BEGIN
    IF old_oid IS NULL THEN
        RETURN;
    END IF;
    FOR r IN
        SELECT p.polname, c.relname,
               (SELECT string_agg(CASE WHEN x = 0 THEN 'PUBLIC'
                                       WHEN x = old_oid THEN quote_ident(new_ro)
                                       ELSE quote_ident(pg_get_userbyid(x)) END, ', ')
                FROM unnest(p.polroles) x) AS roles
        FROM pg_policy p
        JOIN pg_class c ON c.oid = p.polrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = s AND old_oid = ANY (p.polroles)
    LOOP
        EXECUTE format('ALTER POLICY %I ON %I.%I TO %s', r.polname, s, r.relname, r.roles);
    END LOOP;
    FOR r IN
        SELECT c.relname, CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
               a.privilege_type
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
        WHERE n.nspname = s AND a.grantee = old_oid
    LOOP
        EXECUTE format('GRANT %s ON %s %I.%I TO %I', r.privilege_type, r.kind, s, r.relname, new_ro);
        EXECUTE format('REVOKE ALL ON %s %I.%I FROM %I', r.kind, s, r.relname, old_ro);
    END LOOP;
    FOR r IN
        SELECT p.oid::regprocedure AS f, a.privilege_type
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a
        WHERE n.nspname = s AND a.grantee = old_oid
    LOOP
        EXECUTE format('GRANT %s ON ROUTINE %s TO %I', r.privilege_type, r.f, new_ro);
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM %I', r.f, old_ro);
    END LOOP;
    FOR r IN
        SELECT a.privilege_type
        FROM pg_namespace n, aclexplode(n.nspacl) a
        WHERE n.nspname = s AND a.grantee = old_oid
    LOOP
        EXECUTE format('GRANT %s ON SCHEMA %I TO %I', r.privilege_type, s, new_ro);
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM %I', s, old_ro);
    END LOOP;
    FOR r IN
        SELECT DISTINCT pg_get_userbyid(d.defaclrole) AS owner,
               CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES'
                                    WHEN 'f' THEN 'FUNCTIONS' ELSE 'TYPES' END AS kind
        FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace,
             aclexplode(d.defaclacl) a
        WHERE n.nspname = s AND a.grantee = old_oid
    LOOP
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I REVOKE ALL ON %s FROM %I',
                       r.owner, s, r.kind, old_ro);
    END LOOP;
END
$tenantctl$;
