-- 002: what the least-privilege worker role may do, and an index to prune
-- patient_batches by age (patients-worker --prune-batches-older-than).
--
-- The roles themselves are made once by a DBA with sql/roles.sql: a
-- migration runs as the migrator, which must not need CREATEROLE. The grants
-- live here, beside the tables they are for, so that every later migration
-- that adds a table replaces patients_grant_worker() with its new grants and
-- calls it; roles.sql calls it too, for a database migrated before the
-- roles existed. Without a patients_worker role it does nothing.

CREATE INDEX patient_batches_applied_at ON patient_batches (applied_at);

CREATE FUNCTION patients_grant_worker() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'patients_worker') THEN
        RETURN;
    END IF;
    -- Exactly what applying a batch needs: the upsert (ON CONFLICT DO
    -- UPDATE reads the row it may update), the batch record (insert, and
    -- SELECT on request_id alone, which ON CONFLICT (request_id) needs:
    -- the worker never reads or changes the audit), its offsets, and the
    -- schema version check. No DELETE, TRUNCATE or DDL: pruning runs as
    -- the migrator. daemon/worker/grants.c checks this same list.
    GRANT SELECT, INSERT, UPDATE ON patients TO patients_worker;
    GRANT INSERT, SELECT (request_id) ON patient_batches TO patients_worker;
    GRANT SELECT, INSERT, UPDATE ON consumer_offsets TO patients_worker;
    GRANT SELECT ON schema_migrations TO patients_worker;
END
$$;
REVOKE EXECUTE ON FUNCTION patients_grant_worker() FROM PUBLIC;

DO $$ BEGIN PERFORM patients_grant_worker(); END $$;
