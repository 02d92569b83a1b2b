# Kafka stops confirming: a PUT is answered 503 within the publish timeout,
# /readyz says not ready, a SIGTERM still answers what is in flight; once
# the broker is back, the client's retry is a 200 and PostgreSQL holds that
# batch whole and nothing of the refused one.
#
# The broker stopped here is a second one this scenario starts for itself
# (tests/lib/stack.sh in a folder of its own): stopping the stack's shared
# broker would break any scenario running after a failure in the middle,
# and librdkafka's mock cluster could not show the worker's side.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

k2=$STACK_DIR/kafka0206
mkdir -p "$k2"
trap 'stack_kafka_down "$k2"' EXIT
# Its ports derive from this run's own stack (200 above), not a fixed base:
# runs side by side must not share them (stack_ports_beside).
stack_ports_beside "$k2" "$STACK_DIR" 200
(stack_kafka_up "$k2") >"$k2.up.log" 2>&1 ||
	{ cat "$k2.up.log"; exit 1; }
ln -sf "$k2/kafka.pid" "$STACK_DIR/kafka0206.daemon.pid" # the runner's safety net
brokers=127.0.0.1:$(. "$k2/ports"; echo "$KAFKA_PORT")
topic=patients.v1 # created on the second broker by stack_kafka_up
fresh_db it0206
start_daemon w0206 "$WORKER_BIN" --brokers "$brokers" --topic $topic --dlq-topic $topic.dlq --group g0206
port=$(gw_port 28060)
admin=$(gw_port 28160)
keys=$STACK_DIR/0206.keys
gw_key "$keys" acme ak_0206 s3cret
gw_args=(--listen "127.0.0.1:$port" --keys-file "$keys" --brokers "$brokers" --topic $topic
	--publish-timeout-ms 3000)
# A grace longer than the scenario: batch B must wait for Kafka, not get
# the fast 503 (the second start below has the default, 5 s).
gw_start gw0206 "$admin" "${gw_args[@]}" --kafka-down-grace-ms 60000
url=http://127.0.0.1:$port/v1/patients

gw_put "$url" ak_0206 s3cret "$(gw_body 0 10 A)"
assert_eq "broker up: 200" "$GW_STATUS" 200
wait_for "batch A in PostgreSQL" 20 10 sql "select count(*) from patients"

stack_kafka_down "$k2"
wait_for "/readyz: not ready once the broker is gone" 30 "not ready" curl -s "http://127.0.0.1:$admin/readyz"

# Batch B, in flight when SIGTERM comes: answered (503, at the timeout), then exit 0.
gw_body 100 50 B >"$STACK_DIR/0206.B"
curl -sS -o "$STACK_DIR/0206.B.out" -w '%{http_code} %{time_total}' -X PUT "$url" \
	-H 'X-API-Key: ak_0206' -H 'X-Secret-Key: s3cret' -H 'Content-Type: application/json' \
	--data-binary "@$STACK_DIR/0206.B" >"$STACK_DIR/0206.B.status" &
curl_pid=$!
sleep 0.5
gw_pid=$(cat "$STACK_DIR/gw0206.daemon.pid")
kill -TERM "$gw_pid"
wait $curl_pid
read -r status seconds <"$STACK_DIR/0206.B.status" || true
echo "# batch B answered $status after ${seconds}s"
assert_eq "broker down: 503" "$status" 503
assert_eq "503 body" "$(cat "$STACK_DIR/0206.B.out")" \
	'{"error":{"status":503,"message":"Kafka did not confirm the batch in time; nothing was promised, retrying is safe","details":[]}}'
assert_eq "503 at the 3 s timeout" "$(echo "$seconds >= 2.9 && $seconds <= 3.8" | bc)" 1
rc=0
wait "$gw_pid" || rc=$? # no second TERM: that one would mean "exit at once"
rm -f "$STACK_DIR/gw0206.daemon.pid"
assert_eq "SIGTERM with a batch in flight: exit 0 once it is answered" "$rc" 0
assert_match "the stop was logged" "$(cat "$STACK_DIR/gw0206.log")" "event=gateway_stopping active=1 inflight=1"

# While the broker is down the gateway starts, answers and is not ready;
# once no broker was reachable for --kafka-down-grace-ms (5 s), a PUT gets
# 503 at once instead of after the publish timeout.
WAIT=healthz gw_start gw0206 "$admin" "${gw_args[@]}"
assert_eq "/readyz: not ready while Kafka is down" "$(curl -s "http://127.0.0.1:$admin/readyz")" "not ready"
for ((i = 0; i < 40; i++)); do
	gw_put "$url" ak_0206 s3cret "$(gw_body 200 1 D)" --max-time 1
	[ "$GW_STATUS" = 503 ] && break
	sleep 0.5
done
out=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' -X PUT "$url" -H 'X-API-Key: ak_0206' \
	-H 'X-Secret-Key: s3cret' -H 'Content-Type: application/json' --data-binary "$(gw_body 200 1 D)")
read -r status seconds <<<"$out"
echo "# known down: 503 after ${seconds}s"
assert_eq "Kafka known down: 503 at once (${seconds}s)" "$status $(echo "$seconds < 1" | bc)" "503 1"

(stack_kafka_up "$k2") >>"$k2.up.log" 2>&1 ||
	{ cat "$k2.up.log"; exit 1; }
wait_for "/readyz: ready once the broker is back" 60 ready curl -s "http://127.0.0.1:$admin/readyz"

# The client retries B (as C, to tell the two apart in the table).
gw_put "$url" ak_0206 s3cret "$(gw_body 100 50 C)"
assert_eq "broker back: the retry is a 200" "$GW_STATUS" 200
wait_for "the retried batch is in PostgreSQL, whole" 30 50 \
	sql "select count(*) from patients where first_name like 'José C %'"
assert_match "no partial batch: all or none of the refused one" \
	"$(sql "select count(*) from patients where first_name like 'José B %'")" '^(0|50)$'
assert_eq "the refused batch was never applied" \
	"$(sql "select count(*) from patients where first_name like 'José B %'")" 0
assert_eq "two batches recorded (A and the retry)" "$(sql 'select count(*) from patient_batches')" 2

stop_daemon gw0206
stop_daemon w0206 || true
assert_eq "no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/gw0206.log" || true)" 0
