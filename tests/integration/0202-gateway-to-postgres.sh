# The whole pipeline: a 1000-patient PUT through the real gateway, the real
# broker and the real worker is in PostgreSQL within seconds, scoped to the
# tenant of the credentials; a second PUT of the same codes updates them.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

topic=it0202
new_topic $topic 12
new_topic $topic.dlq 1
fresh_db it0202
port=$(gw_port 28020)
admin=$(gw_port 28120)
keys=$STACK_DIR/0202.keys
gw_key "$keys" acme ak_acme 'acme-secret'
gw_key "$keys" beta ak_beta 'beta-secret'
gw_start gw0202 "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" --topic $topic
start_daemon w0202 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g0202
url=http://127.0.0.1:$port/v1/patients

gw_body 0 1000 first >"$STACK_DIR/0202.body"
start=$(date +%s%N)
gw_put "$url" ak_acme acme-secret "@$STACK_DIR/0202.body"
assert_eq "1000 patients: 200" "$GW_STATUS $GW_BODY" '200 {"data":[{"message":"Success"}]}'
rid=$(gw_header X-Request-Id)
wait_for "1000 rows in patients within 10 s" 10 1000 sql "select count(*) from patients where tenant = 'acme'"
echo "# visible after $((($(date +%s%N) - start) / 1000000)) ms"
assert_eq "the batch is recorded under the gateway's request id" \
	"$(sql "select tenant, patients from patient_batches where request_id = '$rid'")" "acme|1000"
assert_eq "rows carry the request id" "$(sql "select count(*) from patients where request_id = '$rid'")" 1000
assert_eq "a row as sent" "$(sql "select first_name, gender, birthdate from patients where tenant='acme' and code='p7'")" \
	"José first 7|male|1957-08-08"

# Same codes from another tenant: rows of their own. Same codes again from acme: updated.
gw_put "$url" ak_beta beta-secret "$(gw_body 0 10 beta)"
assert_eq "beta: 200" "$GW_STATUS" 200
gw_put "$url" ak_acme acme-secret "$(gw_body 0 10 second)"
assert_eq "acme update: 200" "$GW_STATUS" 200
wait_for "beta's 10 rows" 10 10 sql "select count(*) from patients where tenant = 'beta'"
wait_for "acme's rows updated" 10 10 sql "select count(*) from patients where tenant = 'acme' and first_name like 'José second %'"
assert_eq "acme still has 1000" "$(sql "select count(*) from patients where tenant = 'acme'")" 1000

stop_daemon w0202
stop_daemon gw0202
assert_eq "gateway: no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/gw0202.log" || true)" 0
