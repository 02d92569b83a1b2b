# SIGTERM: the gateway stops accepting at once, answers the request in
# flight (a slow upload that was mid-body) with a 200 only once Kafka has
# it, flushes and exits 0.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

topic=it0208
new_topic $topic 1
port=$(gw_port 28080)
admin=$(gw_port 28180)
keys=$STACK_DIR/0208.keys
gw_key "$keys" acme ak_0208 s3cret
gw_start gw0208 "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" --topic $topic
pid=$(cat "$STACK_DIR/gw0208.daemon.pid")
url=http://127.0.0.1:$port/v1/patients

gw_body 0 1000 >"$STACK_DIR/0208.body"
curl -sS -D "$STACK_DIR/0208.h" -o "$STACK_DIR/0208.out" -w '%{http_code}' --limit-rate 60k -X PUT "$url" \
	-H 'X-API-Key: ak_0208' -H 'X-Secret-Key: s3cret' -H 'Content-Type: application/json' \
	--data-binary "@$STACK_DIR/0208.body" >"$STACK_DIR/0208.status" &
slow=$!
sleep 1
kill -TERM "$pid"
wait_for "SIGTERM: stop accepting" 5 000 sh -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/healthz || true"
wait $slow
assert_eq "the upload in flight is answered 200" "$(cat "$STACK_DIR/0208.status") $(cat "$STACK_DIR/0208.out")" \
	'200 {"data":[{"message":"Success"}]}'
assert_match "... telling the client to go elsewhere" "$(tr -d '\r' <"$STACK_DIR/0208.h")" $'\nConnection: close\n'
rc=0
wait "$pid" || rc=$?
rm -f "$STACK_DIR/gw0208.daemon.pid"
assert_eq "exit 0" "$rc" 0
rid=$(tr -d '\r' <"$STACK_DIR/0208.h" | sed -n 's/^X-Request-Id: //Ip')
assert_match "the batch is in Kafka" "$(kcat -b "$PATIENTS_KAFKA_BROKERS" -C -t $topic -e -q -f '%s\n')" "\"request_id\":\"$rid\""
log=$(cat "$STACK_DIR/gw0208.log")
assert_match "stopping, then stopped, logged" "$log" "event=gateway_stopping active=1 .*event=gateway_stopped requests=1 published=1"
assert_eq "no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/gw0208.log" || true)" 0
