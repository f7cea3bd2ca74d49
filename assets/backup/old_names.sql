-- Restore beside: everything in schema $1 whose text still names something matching $2
-- (the old schema, the old tenant's read-only role, the side name): defaults, function
-- bodies and settings, policies and their roles, views, triggers, constraints, grants.
SELECT what FROM (
    SELECT 'default of ' || c.relname || '.' || a.attname AS what, pg_get_expr(d.adbin, d.adrelid) AS txt
    FROM pg_attrdef d
    JOIN pg_class c ON c.oid = d.adrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
    WHERE n.nspname = $1
  UNION ALL
    SELECT 'function ' || p.proname,
           coalesce(p.prosrc, '') || ' ' || coalesce(array_to_string(p.proconfig, ' '), '')
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = $1
  UNION ALL
    SELECT 'policy ' || p.polname || ' on ' || c.relname,
           coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' '
           || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '') || ' '
           || coalesce((SELECT string_agg(pg_get_userbyid(x), ' ') FROM unnest(p.polroles) x WHERE x <> 0), '')
    FROM pg_policy p
    JOIN pg_class c ON c.oid = p.polrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1
  UNION ALL
    SELECT 'view ' || c.relname, pg_get_viewdef(c.oid)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relkind IN ('v', 'm')
  UNION ALL
    SELECT 'trigger ' || t.tgname, pg_get_triggerdef(t.oid)
    FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND NOT t.tgisinternal
  UNION ALL
    SELECT 'constraint ' || co.conname, pg_get_constraintdef(co.oid)
    FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
    WHERE n.nspname = $1
  UNION ALL
    SELECT 'grant on ' || c.relname, pg_get_userbyid(a.grantee)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
    WHERE n.nspname = $1
  UNION ALL
    SELECT 'grant on the schema', pg_get_userbyid(a.grantee)
    FROM pg_namespace n, aclexplode(n.nspacl) a
    WHERE n.nspname = $1
  UNION ALL
    SELECT 'grant on function ' || p.proname, pg_get_userbyid(a.grantee)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a
    WHERE n.nspname = $1
  UNION ALL
    SELECT 'default privilege', pg_get_userbyid(a.grantee)
    FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
    WHERE n.nspname = $1
) x
WHERE txt ~ $2
ORDER BY 1
