# Kafka down, from the gateway's side (no broker listens at --brokers):
#
# 1. A PUT within the first seconds of an outage still waits for Kafka, up to
#    --publish-timeout-ms (a blip must not refuse good traffic); once no
#    broker has been reachable for --kafka-down-grace-ms, a PUT is answered
#    503 at once, with Retry-After, and /readyz says not ready.
# 2. The in-flight budget: 400 valid 0.7 MB batches sent at once (280 MB)
#    while Kafka is down; only --max-inflight-bytes (64 MiB) of them are held,
#    the others get 503 with Retry-After as soon as their body is read (and
#    dropped), and the gateway's peak RSS stays near the budget. Every byte
#    comes back to the budget once librdkafka has let go of the messages.
#
# The new settings are given as PATIENTS_* variables, which an older gateway
# ignores, so that this scenario fails on it on what it checks rather than
# on an unknown flag. (The recovery once the broker is back: 0206.)
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

dead=$(gw_port 28300) # nothing listens there
port=$(gw_port 28210)
admin=$(gw_port 28310)
keys=$STACK_DIR/0210.keys
gw_key "$keys" acme ak_0210 s3cret
url=http://127.0.0.1:$port/v1/patients
# PUT BODY [curl args]: like gw_put, with "STATUS SECONDS" in $GW_STATUS.
put_timed() {
	local body=$1
	shift
	GW_STATUS=$(curl -sS -D "$GW_HEADERS" -o "$GW_HEADERS.body" -w '%{http_code} %{time_total}' \
		-X PUT "$url" -H 'X-API-Key: ak_0210' -H 'X-Secret-Key: s3cret' \
		-H 'Content-Type: application/json' --data-binary "$body" "$@") || true
	GW_BODY=$(cat "$GW_HEADERS.body" 2>/dev/null)
}
small=$(printf '{"patients":[{"code":"c1","first_name":"Ada","gender":"female","birthdate":"1985-12-10"}]}')

# --- 1. the fast 503 ------------------------------------------------------
PATIENTS_KAFKA_DOWN_GRACE_MS=8000 WAIT=healthz gw_start gw0210a "$admin" --listen "127.0.0.1:$port" \
	--keys-file "$keys" --brokers "127.0.0.1:$dead" --publish-timeout-ms 3000
put_timed "$small"
read -r status seconds <<<"$GW_STATUS"
echo "# a PUT at the start of the outage: $status after ${seconds}s"
assert_eq "within the grace, a PUT waits for Kafka: 503 at the publish timeout" \
	"$status $(echo "$seconds >= 2.9" | bc)" "503 1"
assert_match "... saying Kafka did not confirm it" "$GW_BODY" 'Kafka did not confirm the batch in time'
wait_for "/readyz: not ready" 30 "not ready" curl -s "http://127.0.0.1:$admin/readyz"
# The grace (8 s) runs from the first sign of the outage; wait for it.
for ((i = 0; i < 40; i++)); do
	gw_put "$url" ak_0210 s3cret "$small" --max-time 1
	[ "$GW_STATUS" = 503 ] && break
	sleep 0.5
done
times=()
for i in 1 2 3 4 5; do
	put_timed "$small"
	read -r status seconds <<<"$GW_STATUS"
	times+=("$seconds")
	assert_eq "known down, PUT $i: 503" "$status" 503
	assert_eq "... at once (${seconds}s)" "$(echo "$seconds < 1" | bc)" 1
done
echo "# fast 503 latencies (s): ${times[*]}"
assert_eq "the fast 503's body" "$GW_BODY" \
	'{"error":{"status":503,"message":"Kafka is unreachable; nothing was stored, retry later","details":[]}}'
assert_eq "... with Retry-After" "$(gw_header Retry-After)" 5
assert_common_headers "the fast 503"
assert_eq "/readyz agrees" "$(curl -s "http://127.0.0.1:$admin/readyz")" "not ready"
# A body already on its way is read and dropped, then answered.
head -c 300000 /dev/zero | tr '\0' ' ' >"$STACK_DIR/0210.pad"
put_timed "@$STACK_DIR/0210.pad" -H 'Expect:'
read -r status seconds <<<"$GW_STATUS"
assert_eq "a 300 KB body sent at once: 503 at once too (${seconds}s)" "$status $(echo "$seconds < 2" | bc)" "503 1"
stop_daemon gw0210a

# --- 2. the in-flight budget ------------------------------------------------
# ASan keeps freed memory in a quarantine (256 MB by default): keep it small
# here, or the peak RSS would measure the quarantine, not the gateway.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
PATIENTS_KAFKA_DOWN_GRACE_MS=600000 WAIT=healthz gw_start gw0210b "$admin" --listen "127.0.0.1:$port" \
	--keys-file "$keys" --brokers "127.0.0.1:$dead" --publish-timeout-ms 8000 \
	--max-connections-per-ip 0 --rate-limit 100000
pid=$(cat "$STACK_DIR/gw0210b.daemon.pid")
rss_kb() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$pid/status"; }
base=$(rss_kb VmRSS)
python3 "$PATIENTS_SRC/tests/lib/inflight.py" --port "$port" --key ak_0210 --secret s3cret \
	--count 400 --timeout 90 >"$STACK_DIR/0210.json"
peak=$(rss_kb VmHWM)
echo "# $(cat "$STACK_DIR/0210.json")"
echo "# gateway RSS before: $((base / 1024)) MiB; peak (VmHWM) with 400 x 0.7 MB in flight: $((peak / 1024)) MiB"
count() { python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(g['n'] for k, g in d['answers'].items() if k.startswith(sys.argv[2])))" "$STACK_DIR/0210.json" "$1"; }
field() { python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
g = [g for k, g in d['answers'].items() if k.startswith(sys.argv[2])]
print(g[0][sys.argv[3]] if g else '-')" "$STACK_DIR/0210.json" "$1" "$2"; }
refused=$(count "503 the gateway is at its limit of bytes in flight")
held=$(count "503 Kafka did not confirm")
echo "# held for Kafka: $held, refused by the budget: $refused"
assert_eq "every batch answered 503 (Kafka is down)" "$(count 503)" 400
# 64 MiB / 683 KB: at most 98 held at once.
assert_eq "the budget held at most 98 batches ($held)" "$((held >= 20 && held <= 98))" 1
assert_eq "the others were refused by the budget ($refused)" "$((refused == 400 - held))" 1
assert_eq "... with Retry-After: 1" "$(field "503 the gateway is at its limit" retry_after)" "['1']"
assert_eq "... and an X-Request-Id" "$(field "503 the gateway is at its limit" request_id)" "$refused"
assert_eq "... before the publish timeout ($(field "503 the gateway is at its limit" max_s) s)" \
	"$(echo "$(field "503 the gateway is at its limit" max_s) < 8" | bc)" 1
# Bounded by the budget, not by 400 x 0.7 MB = 280 MB (before it: ~700 MB).
assert_eq "peak RSS grew by less than 160 MiB ($(((peak - base) / 1024)) MiB)" "$(((peak - base) < 160 * 1024))" 1
wait_for "every byte back in the budget once librdkafka let go" 30 1 \
	sh -c "curl -s http://127.0.0.1:$admin/metrics | grep -c '^patients_gateway_inflight_bytes 0\$'"
stop_daemon gw0210b
for n in gw0210a gw0210b; do
	assert_eq "$n: no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/$n.log" || true)" 0
done
