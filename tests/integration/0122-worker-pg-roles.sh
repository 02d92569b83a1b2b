# Least privilege: a database set up as sql/roles.sql says (the migrator owns
# the schema and migrates, the worker role has only its grants). The worker
# applies batches as patients_worker, which cannot delete, truncate or
# create. A worker missing a grant stays not ready, names the missing
# privilege, and becomes ready by itself once it is granted.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/stack.sh"

topic=it0122
new_topic $topic 2
new_topic $topic.dlq 1
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS it0122" -c "CREATE DATABASE it0122" >/dev/null
export PGDATABASE=it0122
# As a DBA would: the script first, then --migrate as the migrator.
psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -f "$PATIENTS_SRC/sql/roles.sql" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -f "$PATIENTS_SRC/sql/roles.sql" >/dev/null
echo "ok - sql/roles.sql runs twice"
assert_eq "--migrate as the migrator" "$(PATIENTS_DB=user=patients_migrator "$WORKER_BIN" --migrate)" "schema is current (2 migrations applied)"
assert_eq "the migrator owns the tables" \
	"$(sql "select string_agg(distinct tableowner, ',') from pg_tables where schemaname = 'public'")" "patients_migrator"
assert_eq "the worker role cannot migrate" \
	"$(PATIENTS_DB=user=patients_worker "$WORKER_BIN" --migrate >/dev/null 2>&1 && echo yes || echo no)" "no"

as_worker() { psql -X -q -U patients_worker -v ON_ERROR_STOP=1 -tA -c "$1" >/dev/null 2>&1 && echo allowed || echo denied; }
assert_eq "patients_worker: no DELETE on patients" "$(as_worker 'delete from patients')" "denied"
assert_eq "patients_worker: no DELETE on patient_batches" "$(as_worker 'delete from patient_batches')" "denied"
assert_eq "patients_worker: reads no audit column" "$(as_worker 'select tenant from patient_batches')" "denied"
assert_eq "patients_worker: no DELETE on consumer_offsets" "$(as_worker 'delete from consumer_offsets')" "denied"
assert_eq "patients_worker: no TRUNCATE" "$(as_worker 'truncate patients')" "denied"
assert_eq "patients_worker: no CREATE TABLE" "$(as_worker 'create table x (i int)')" "denied"
assert_eq "patients_worker: no ALTER TABLE" "$(as_worker 'alter table patients add column x int')" "denied"
assert_eq "patients_worker: no writes to schema_migrations" "$(as_worker 'insert into schema_migrations values (99, $$x$$)')" "denied"

produce() { # FROM TO
	for ((b = $1; b < $2; b++)); do
		printf 't%d:' $((b % 2))
		envelope "t$((b % 2))" $((b + 1)) 2026-11-24T10:00:00.000Z $((b * 10)) 10 "b$b"
	done | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -K:
}
readyz() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz"; }

produce 0 10
out=$(PATIENTS_DB=user=patients_worker "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g \
	--exit-at-end 2>"$STACK_DIR/0122-w1.log")
assert_match "as patients_worker: every batch applied" "$out" "^applied 10 batches, 100 patients \(100 rows written\)"
assert_eq "rows and offsets in PostgreSQL" \
	"$(sql "select (select count(*) from patients), (select count(*) from patient_batches), (select sum(next_offset) from consumer_offsets where group_id = 'g')")" "100|10|10"

# A grant taken away: not ready, says which one, waits (no exit, no batch).
sql "revoke update on patients from patients_worker"
produce 10 20
admin=$(stack_free_port 21220)
PATIENTS_DB=user=patients_worker start_daemon w0122 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq \
	--group g --admin-listen 127.0.0.1:$admin
wait_for "missing UPDATE on patients: logged by name" 30 1 \
	grep -c 'event=privilege_missing table=patients privilege=UPDATE' "$STACK_DIR/w0122.log"
sleep 3
assert_eq "not ready meanwhile" "$(readyz $admin)" "503"
assert_eq "still running" "$(kill -0 "$(cat "$STACK_DIR/w0122.daemon.pid")" && echo alive)" "alive"
assert_eq "logged once, not at every check" "$(grep -c 'event=privilege_missing' "$STACK_DIR/w0122.log")" "1"
assert_eq "nothing applied without the grant" "$(sql 'select count(*) from patient_batches')" "10"
sql "grant update on patients to patients_worker"
wait_for "granted again: ready by itself" 60 200 readyz $admin
wait_for "and the waiting batches applied" 60 20 sql "select count(*) from patient_batches"
assert_eq "each batch once" "$(sql 'select count(*), count(distinct request_id) from patient_batches')" "20|20"
stop_daemon w0122
