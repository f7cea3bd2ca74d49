-- The grants of one tenant schema, per the model: applied at provisioning and again after
-- every template migration (all statements are idempotent). The schema is owned by the
-- admin role; nobody else may create in it.

REVOKE ALL ON SCHEMA {{schema}} FROM PUBLIC;
GRANT USAGE ON SCHEMA {{schema}} TO {{service}}, {{rls}}, {{ro}};

-- Service role: data access, never DDL, never TRUNCATE.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {{schema}} TO {{service}};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA {{schema}} TO {{service}};

-- The tenant's read-only role: SELECT only.
GRANT SELECT ON ALL TABLES IN SCHEMA {{schema}} TO {{ro}};

-- The RLS role is shared by every tenant, so it is never granted in bulk: tenantctl grants
-- it SELECT table by table once RLS and the tenant binding are in place (template.rs),
-- and security-invoker views only. Anything else it held is taken back here.
REVOKE ALL ON ALL TABLES IN SCHEMA {{schema}} FROM {{rls}};

-- Tables a later migration adds get the same grants (not for the RLS role: see above).
ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA {{schema}}
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {{service}};
ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA {{schema}}
    GRANT USAGE ON SEQUENCES TO {{service}};
ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA {{schema}}
    GRANT SELECT ON TABLES TO {{ro}};
ALTER DEFAULT PRIVILEGES FOR ROLE {{admin}} IN SCHEMA {{schema}}
    REVOKE ALL ON TABLES FROM {{rls}};
