# A worker on an unmigrated database refuses to start and says how to fix it;
# --migrate is idempotent.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS it0104" -c "CREATE DATABASE it0104 OWNER patients_migrator" >/dev/null
export PGDATABASE=it0104
rc=0
msg=$("$WORKER_BIN" --topic it0104 2>&1 >/dev/null) || rc=$?
assert_eq "exits with EX_CONFIG" "$rc" "78"
assert_match "says to run --migrate" "$msg" "run \`patients-worker --migrate\`"
# As the migrator (run.sh's PATIENTS_DB is the worker role, which may not).
assert_eq "first --migrate applies the schema" "$(PATIENTS_DB=user=patients_migrator "$WORKER_BIN" --migrate)" "schema is current (2 migrations applied)"
assert_eq "second --migrate has nothing to do" "$(PATIENTS_DB=user=patients_migrator "$WORKER_BIN" --migrate)" "schema is current (0 migrations applied)"
assert_eq "tables exist" "$(sql "select count(*) from pg_tables where tablename in ('patients','patient_batches','consumer_offsets','schema_migrations')")" "4"
