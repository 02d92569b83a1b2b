# PostgreSQL over TLS with sslmode=verify-full and a CA the test made: the
# worker (as the least-privilege patients_worker role) applies a batch over
# an encrypted connection. Given the wrong CA it stays alive and not ready,
# without spinning, and says why in one log line, never with the password.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/stack.sh"

topic=it0121
new_topic $topic 2
new_topic $topic.dlq 1
fresh_db it0121
stack_pg_tls "$STACK_DIR"
ca=$STACK_DIR/pg/tls/ca.crt
stack_tls_ca "$STACK_DIR/other-ca"
# A password in the conninfo (trust authentication ignores it), to check it
# shows in no log line; PATIENTS_DB, not --db, so that it is not in ps either.
secret=pw-0121-$RANDOM$RANDOM
tls_db() { # CA
	echo "host=127.0.0.1 port=$PGPORT dbname=it0121 user=patients_worker password=$secret sslmode=verify-full sslrootcert=$1"
}
readyz() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz"; }

envelope t0 1 2026-11-24T10:00:00.000Z 0 5 tls | sed 's/^/t0:/' | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -K:
admin=$(stack_free_port 21210)
PATIENTS_DB=$(tls_db "$ca") start_daemon w0121 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq \
	--group g --admin-listen 127.0.0.1:$admin
wait_for "verify-full with the right CA: the batch is applied" 60 1 sql "select count(*) from patient_batches"
wait_for "and the worker is ready" 30 200 readyz $admin
assert_eq "its connections are TLS, as patients_worker" \
	"$(sql "select bool_and(s.ssl), count(*) > 0, min(a.usename) from pg_stat_ssl s join pg_stat_activity a using (pid) where a.datname = 'it0121' and a.application_name = 'patients-worker'")" \
	"t|t|patients_worker"
stop_daemon w0121

admin=$(stack_free_port 21215)
PATIENTS_DB=$(tls_db "$STACK_DIR/other-ca/ca.crt") start_daemon w0121b "$WORKER_BIN" --topic $topic \
	--dlq-topic $topic.dlq --group g --admin-listen 127.0.0.1:$admin
pid=$(cat "$STACK_DIR/w0121b.daemon.pid")
wait_for "wrong CA: the admin listener answers" 30 200 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/healthz"
cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
sleep 15
cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
assert_eq "wrong CA: still running" "$(kill -0 "$pid" && echo alive)" "alive"
assert_eq "wrong CA: not ready" "$(readyz $admin)" "503"
# Connection attempts once a second cost little; 3 s of CPU in 15 s is a loop.
assert_match "wrong CA: not spinning (CPU ticks in 15 s: $((cpu1 - cpu0)))" "$((cpu1 - cpu0))" '^[0-9]{1,2}$|^[12][0-9]{2}$'
log=$(cat "$STACK_DIR/w0121b.log")
assert_eq "wrong CA: one log line about PostgreSQL in 15 s of retries" \
	"$(grep -c 'event=postgresql_unavailable' <<<"$log")" "1"
assert_match "it says why" "$(grep 'event=postgresql_unavailable' <<<"$log")" 'certificate verify failed'
assert_eq "no password in the log" "$(grep -c -- "$secret" <<<"$log" || true)" "0"
stop_daemon w0121b && rc=0 || rc=$?
assert_eq "SIGTERM while waiting: clean exit" "$rc" "0"
