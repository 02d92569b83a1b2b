# Credentials: a key added to the keys file works after SIGHUP, a removed
# one stops working, a broken file keeps the old keys; a slow upload that
# spans the reload is not dropped.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

topic=it0203
new_topic $topic 1
port=$(gw_port 28030)
admin=$(gw_port 28130)
keys=$STACK_DIR/0203.keys
echo '# tenant:api_key:sha256(secret)' >"$keys"
gw_key "$keys" acme ak_one 'secret-one'
gw_start gw0203 "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" --topic $topic
pid=$(cat "$STACK_DIR/gw0203.daemon.pid")
url=http://127.0.0.1:$port/v1/patients

gw_put "$url" ak_two secret-two "$(gw_body 0 1)"
assert_eq "a key not in the file: 401" "$GW_STATUS" 401

# A 1000-patient upload at 40 kB/s (about 4 s) with the reload in its middle.
gw_body 0 1000 >"$STACK_DIR/0203.body"
curl -sS -o /dev/null -w '%{http_code}' --limit-rate 40k -X PUT "$url" -H 'X-API-Key: ak_one' \
	-H 'X-Secret-Key: secret-one' -H 'Content-Type: application/json' \
	--data-binary "@$STACK_DIR/0203.body" >"$STACK_DIR/0203.slow" &
slow=$!
sleep 1
gw_key "$keys" beta ak_two 'secret-two'
kill -HUP "$pid"
wait_for "the reload is logged" 10 1 grep -c 'event=keys_reloaded keys=2' "$STACK_DIR/gw0203.log"
kill -0 $slow 2>/dev/null && echo "ok - the slow upload is still going after the reload"
wait $slow
assert_eq "the upload that spanned the reload: 200" "$(cat "$STACK_DIR/0203.slow")" 200

gw_put "$url" ak_two secret-two "$(gw_body 0 1)"
assert_eq "the new key after SIGHUP: 200" "$GW_STATUS" 200
gw_put "$url" ak_two secret-one "$(gw_body 0 1)"
assert_eq "the new key with the old key's secret: 401" "$GW_STATUS" 401
assert_eq "the new key's tenant scopes the batch" \
	"$(kcat -b "$PATIENTS_KAFKA_BROKERS" -C -t $topic -e -q -f '%k\n' | tail -n 1)" beta

grep -v ak_one "$keys" >"$keys.new" && mv "$keys.new" "$keys"
kill -HUP "$pid"
wait_for "the second reload is logged" 10 1 grep -c 'event=keys_reloaded keys=1' "$STACK_DIR/gw0203.log"
gw_put "$url" ak_one secret-one "$(gw_body 0 1)"
assert_eq "a removed key: 401" "$GW_STATUS" 401

echo 'this line is not a key' >>"$keys"
kill -HUP "$pid"
wait_for "a broken file is refused" 10 1 grep -c 'event=keys_reload_failed' "$STACK_DIR/gw0203.log"
assert_match "the error names the line" "$(grep keys_reload_failed "$STACK_DIR/gw0203.log")" '0203.keys:3: expected'
gw_put "$url" ak_two secret-two "$(gw_body 0 1)"
assert_eq "after a failed reload the old keys still work" "$GW_STATUS" 200
assert_match "metrics count the reloads" "$(curl -s "http://127.0.0.1:$admin/metrics")" \
	'key_reloads_total\{outcome="ok"\} 2.*key_reloads_total\{outcome="error"\} 1'
assert_eq "same process throughout" "$(cat "$STACK_DIR/gw0203.daemon.pid")" "$pid"
stop_daemon gw0203
assert_eq "no secret or key in the log" "$(grep -c 'secret-\|ak_one\|ak_two' "$STACK_DIR/gw0203.log" || true)" 0
