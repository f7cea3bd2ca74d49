-- The model's grants on one relation of a tenant schema ({{table}}, qualified); see
-- grants.sql. Tables, views, materialized views, foreign tables (what `ON ALL TABLES`
-- covers):
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {{table}} TO {{service}};
GRANT SELECT ON TABLE {{table}} TO {{ro}};
REVOKE ALL ON TABLE {{table}} FROM {{rls}};
