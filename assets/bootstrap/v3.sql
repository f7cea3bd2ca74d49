-- Bootstrap version 3: the console log is append-only and tamper-evident.
--
-- Refusal: triggers reject UPDATE, DELETE and TRUNCATE for every role. The table stays
-- owned by the admin role, which could drop the triggers (as could a superuser); a
-- dedicated owner role would not stop either on PostgreSQL 15 and older, where CREATEROLE
-- may join any role. What a privileged role does past the triggers is caught by:
--
-- Evidence: each row carries seq (1, 2, 3, … with no gap), prev_hash (the previous
-- row's row_hash; empty for the first) and row_hash = sha256(prev_hash || payload), where
-- payload is the canonical text below. `tenantctl log --verify` recomputes the chain and
-- names the first row edited, the rows missing, or a chain that does not link.
-- tenantctl's verifier keeps its own copy of the payload expression (journal.rs).

ALTER TABLE {{commons}}.{{admin_log}}
    ADD COLUMN seq bigint,
    ADD COLUMN prev_hash bytea,
    ADD COLUMN row_hash bytea;

-- Rows written before this version are chained in id order, as they stand now.
DO $chain$
DECLARE
    r record;
    n bigint := 0;
    prev bytea := '\x'::bytea;
    h bytea;
BEGIN
    FOR r IN SELECT * FROM {{commons}}.{{admin_log}} ORDER BY id LOOP
        n := n + 1;
        h := pg_catalog.sha256(prev OPERATOR(pg_catalog.||) pg_catalog.convert_to(
                pg_catalog.jsonb_build_array(n,
                    pg_catalog.to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                    r.os_user, r.db_role, r.action, r.tenant_id, r.sql_summary, r.outcome,
                    r.detail)::pg_catalog.text, 'UTF8'));
        UPDATE {{commons}}.{{admin_log}} SET seq = n, prev_hash = prev, row_hash = h
        WHERE id = r.id;
        prev := h;
    END LOOP;
END
$chain$;

ALTER TABLE {{commons}}.{{admin_log}}
    ALTER COLUMN seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN row_hash SET NOT NULL,
    ADD CONSTRAINT admin_log_seq_key UNIQUE (seq);

-- Links each new row to the newest one. The advisory lock serialises writers until their
-- commit, so two transactions never link to the same predecessor.
CREATE FUNCTION {{commons}}.admin_log_chain() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    last_seq bigint;
    last_hash bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(7308604897068086018);
    SELECT l.seq, l.row_hash INTO last_seq, last_hash
    FROM {{commons}}.{{admin_log}} l ORDER BY l.seq DESC LIMIT 1;
    NEW.seq := coalesce(last_seq, 0) + 1;
    NEW.prev_hash := coalesce(last_hash, '\x'::bytea);
    NEW.row_hash := sha256(NEW.prev_hash || convert_to(
        jsonb_build_array(NEW.seq,
            to_char(NEW.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
            NEW.os_user, NEW.db_role, NEW.action, NEW.tenant_id, NEW.sql_summary, NEW.outcome,
            NEW.detail)::text, 'UTF8'));
    RETURN NEW;
END
$fn$;

CREATE FUNCTION {{commons}}.admin_log_refuse() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    RAISE EXCEPTION 'the console log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'rows of the console log are never changed or removed';
END
$fn$;

CREATE TRIGGER admin_log_chain BEFORE INSERT ON {{commons}}.{{admin_log}}
    FOR EACH ROW EXECUTE FUNCTION {{commons}}.admin_log_chain();
CREATE TRIGGER admin_log_no_update_delete BEFORE UPDATE OR DELETE ON {{commons}}.{{admin_log}}
    FOR EACH ROW EXECUTE FUNCTION {{commons}}.admin_log_refuse();
CREATE TRIGGER admin_log_no_truncate BEFORE TRUNCATE ON {{commons}}.{{admin_log}}
    FOR EACH STATEMENT EXECUTE FUNCTION {{commons}}.admin_log_refuse();
