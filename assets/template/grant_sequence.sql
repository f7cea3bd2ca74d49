-- The model's grant on one sequence of a tenant schema ({{table}}, qualified): the
-- service role's inserts need it; see grants.sql.
GRANT USAGE ON SEQUENCE {{table}} TO {{service}};
