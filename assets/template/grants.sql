-- The grants of one tenant schema, per the model: applied at provisioning and again after
-- every template migration (all statements are idempotent). The schema is owned by the
-- admin role; nobody else may create in it.

REVOKE ALL ON SCHEMA {{schema}} FROM PUBLIC;
GRANT USAGE ON SCHEMA {{schema}} TO {{service}}, {{rls}}, {{ro}};

-- Per object (grant_each.sql, for every relation of the schema): the service role gets
-- data access, never DDL, never TRUNCATE; the tenant's read-only role SELECT only; the
-- RLS role, shared by every tenant, nothing in bulk: tenantctl grants it SELECT table by
-- table once RLS and the tenant binding are in place (template.rs), and security-invoker
-- views only. Object by object rather than `ON ALL TABLES IN SCHEMA`, which scans the
-- whole of pg_class for every tenant.

-- Tables a later migration adds get the same grants (not for the RLS role: see above).
ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA {{schema}}
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {{service}};
ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA {{schema}}
    GRANT USAGE ON SEQUENCES TO {{service}};
ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA {{schema}}
    GRANT SELECT ON TABLES TO {{ro}};
ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA {{schema}}
    REVOKE ALL ON TABLES FROM {{rls}};
