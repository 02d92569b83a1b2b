-- Least-privilege roles for patients (README, "Production PostgreSQL").
--
-- Run once per database, as a superuser, before the first
-- `patients-worker --migrate` (running it again is harmless):
--
--   psql -X -v ON_ERROR_STOP=1 -d patients -f /usr/share/patients/sql/roles.sql
--
-- It makes two roles, without passwords (set them with \password, or use
-- certificate authentication in pg_hba.conf):
--   patients_migrator  owns the schema and its tables; runs
--                      `patients-worker --migrate` and `--prune-*`.
--   patients_worker    what the running worker needs and nothing more
--                      (the grants are in migration 002).
-- Several worker logins may share the worker's grants:
--   CREATE ROLE worker_host2 LOGIN IN ROLE patients_worker;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'patients_migrator') THEN
        CREATE ROLE patients_migrator LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'patients_worker') THEN
        CREATE ROLE patients_worker LOGIN;
    END IF;
END
$$;

-- The migrator owns the schema the tables live in, so that it may create
-- and alter them; nobody else may create anything there (PostgreSQL before
-- 15 lets every role create in public).
ALTER SCHEMA public OWNER TO patients_migrator;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO patients_worker;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO patients_migrator, patients_worker',
                   current_database());
    -- A database migrated before this script (by a superuser): its tables
    -- and function go to the migrator, and the worker gets its grants.
    IF to_regclass('public.schema_migrations') IS NOT NULL THEN
        EXECUTE (SELECT string_agg(format('ALTER TABLE public.%I OWNER TO patients_migrator',
                                          tablename), '; ')
                 FROM pg_tables WHERE schemaname = 'public' AND tablename IN
                 ('patients', 'patient_batches', 'consumer_offsets', 'schema_migrations'));
    END IF;
    IF to_regprocedure('public.patients_grant_worker()') IS NOT NULL THEN
        ALTER FUNCTION public.patients_grant_worker() OWNER TO patients_migrator;
        PERFORM public.patients_grant_worker();
    END IF;
END
$$;
