-- Tenant template, version 3: no change to the tables. Migrating to it runs the steps
-- tenantctl applies after every version (RLS on every table, the tenant-binding policy
-- for the RLS role, per-table grants), which releases before this one lacked.
SELECT 1;
