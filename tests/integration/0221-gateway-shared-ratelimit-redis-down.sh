# The shared rate limit fails open. Two gateways (--rate-limit 60, shared
# through a Redis that is not there yet):
#   - Redis unreachable at start: both start and serve, each on its own limit;
#   - Redis comes up: they share it (70 PUTs over both: 60 allowed);
#   - Redis killed -9 in the middle of a run: no 5xx, no hang (curl
#     --max-time), each gateway back on its own 60, fallbacks counted, the
#     change logged once;
#   - Redis back (empty): shared again.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"
. "$PATIENTS_SRC/tests/lib/redis.sh"

topic=it0221
new_topic $topic 1
rport=$(gw_port 26490)
keys=$STACK_DIR/0221.keys
for k in start shared kill local; do gw_key "$keys" acme "ak_$k" "s_$k"; done
body=$(gw_body 0 1)
declare -A url admin
# 100 ms, not the default 5, so that the loaded CI machine does not time out
# a live Redis now and then (an extra down/up in the log); retries every
# 300 ms, not 1 s, to keep it short.
for g in a b; do
	port=$(gw_port 28070)
	admin[$g]=$(gw_port 28170)
	gw_start gw0221$g "${admin[$g]}" --listen "127.0.0.1:$port" --keys-file "$keys" \
		--topic $topic --rate-limit 60 --rate-limit-redis "redis://127.0.0.1:$rport" \
		--rate-limit-redis-timeout-ms 100 --rate-limit-redis-retry-ms 300
	url[$g]=http://127.0.0.1:$port/v1/patients
done
echo "ok - Redis unreachable at start: both gateways started and are ready"
metric() { gw_metric "${admin[$1]}" "$2"; }
downs() { grep -c 'event=ratelimit_redis_down' "$STACK_DIR/gw0221$1.log" || true; }
ups() { grep -c 'event=ratelimit_redis_up' "$STACK_DIR/gw0221$1.log" || true; }

for g in a b; do
	gw_put "${url[$g]}" ak_start s_start "$body" --max-time 5
	assert_eq "$g serves without Redis: 200 on its own limit" \
		"$GW_STATUS $(gw_header X-RateLimit-Limit) $(gw_header X-RateLimit-Remaining)" "200 60 59"
	assert_eq "$g: Redis down (gauge)" "$(metric $g patients_gateway_ratelimit_redis_up)" 0
	assert_match "$g: the fallback counted" "$(metric $g patients_gateway_ratelimit_fallback_total)" '^[1-9]'
done

# Redis comes up: shared from the next attempt (300 ms).
redis_start redis0221 "$rport"
sleep 0.5
spread() { # KEY SECRET COUNT_EACH TAG -> statuses in $STACK_DIR/0221.TAG.{a,b}
	local g pids=()
	for g in a b; do
		redis_curl_cfg "$STACK_DIR/0221.$4.$g.curl" "${url[$g]}" "$1" "$2" "$body" "$3"
		curl -K "$STACK_DIR/0221.$4.$g.curl" >"$STACK_DIR/0221.$4.$g" &
		pids+=($!)
	done
	wait "${pids[@]}" # not a bare wait: redis-server is a child too
}
t0=$(date +%s%N)
spread ak_shared s_shared 35 shared
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
codes=$(cat "$STACK_DIR"/0221.shared.[ab])
n200=$(grep -c '^200$' <<<"$codes" || true)
echo "# Redis up: 70 requests over 2 gateways in $elapsed_ms ms: $n200 allowed"
assert_eq "every answer a 200 or a 429" "$(grep -c '^\(200\|429\)$' <<<"$codes")" 70
assert_eq "60 allowed over both (+ one a second earned back: $((elapsed_ms / 1000 + 1)))" \
	"$([ "$n200" -ge 60 ] && [ "$n200" -le $((60 + elapsed_ms / 1000 + 1)) ] && echo yes)" yes
for g in a b; do
	assert_eq "$g: Redis up (gauge), logged once" \
		"$(metric $g patients_gateway_ratelimit_redis_up) $(ups $g)" "1 1"
done
fa=$(metric a patients_gateway_ratelimit_fallback_total)
fb=$(metric b patients_gateway_ratelimit_fallback_total)

# Killed in the middle of a run: 40 PUTs to each gateway, one every 50 ms.
pids=()
for g in a b; do
	(for ((i = 0; i < 40; i++)); do
		curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 5 -X PUT "${url[$g]}" \
			-H 'X-API-Key: ak_kill' -H 'X-Secret-Key: s_kill' \
			-H 'Content-Type: application/json' --data-binary "$body"
		sleep 0.05
	done >"$STACK_DIR/0221.kill.$g") &
	pids+=($!)
done
sleep 1
redis_kill redis0221
wait "${pids[@]}"
codes=$(cat "$STACK_DIR"/0221.kill.[ab])
slowest=$(awk '{print $2}' <<<"$codes" | sort -n | tail -n 1)
echo "# Redis killed mid-run: statuses $(awk '{print $1}' <<<"$codes" | sort | uniq -c | tr -s ' \n' ' '), slowest answer ${slowest}s"
assert_eq "every answer a 200 or a 429, none a 5xx nor a timeout" \
	"$(awk '$1 != 200 && $1 != 429' <<<"$codes")" ""
assert_eq "no answer slower than 2 s" "$(awk '$2 >= 2' <<<"$codes")" ""

# Down: each gateway on its own 60 (a fresh key: 70 to each, 60 allowed each).
t0=$(date +%s%N)
spread ak_local s_local 70 local
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
for g in a b; do
	n=$(grep -c '^200$' "$STACK_DIR/0221.local.$g" || true)
	echo "# Redis down: $g allowed $n of 70 in $elapsed_ms ms"
	assert_eq "$g: its own 60 (+ $((elapsed_ms / 1000 + 1)) earned back)" \
		"$([ "$n" -ge 60 ] && [ "$n" -le $((60 + elapsed_ms / 1000 + 1)) ] && echo yes)" yes
	assert_eq "$g: Redis down (gauge), the change logged once more" \
		"$(metric $g patients_gateway_ratelimit_redis_up) $(downs $g)" "0 2"
done
assert_match "a: fallbacks counted" "$(($(metric a patients_gateway_ratelimit_fallback_total) - fa))" '^[1-9][0-9]+$'
assert_match "b: fallbacks counted" "$(($(metric b patients_gateway_ratelimit_fallback_total) - fb))" '^[1-9][0-9]+$'

# Back, empty: shared again. ak_local is spent on both gateways' own limits,
# not in the new Redis: a 200 with 59 left is Redis deciding, and b sees a's.
redis_start redis0221 "$rport"
sleep 0.6
gw_put "${url[a]}" ak_local s_local "$body" --max-time 5
assert_eq "Redis back: a shares again (200, 59 left of 60)" \
	"$GW_STATUS $(gw_header X-RateLimit-Remaining)" "200 59"
gw_put "${url[b]}" ak_local s_local "$body" --max-time 5
assert_eq "b counts from what a spent (200, 58 left)" \
	"$GW_STATUS $(gw_header X-RateLimit-Remaining)" "200 58"
for g in a b; do
	assert_eq "$g: Redis up again (gauge), logged" \
		"$(metric $g patients_gateway_ratelimit_redis_up) $(ups $g)" "1 2"
	stop_daemon gw0221$g && rc=0 || rc=$?
	assert_eq "gateway $g: SIGTERM, clean exit" "$rc" 0
	assert_eq "gateway $g: no sanitizer report" \
		"$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/gw0221$g.log" || true)" 0
done
redis_kill redis0221
