# Two gateways sharing one Redis (--rate-limit-redis) share the contract's
# 600 requests per minute per API key: 700 PUTs of a 1-patient batch, 350
# to each at the same time, get 600 (plus what GCRA earns back while they
# run: one every 100 ms) 200s, the rest 429; without the shared limit each
# gateway would allow its 350 and all 700 would pass. Once spent, both
# gateways refuse the key with the same headers.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"
. "$PATIENTS_SRC/tests/lib/redis.sh"

assert_match "--help documents --rate-limit-redis" "$("$GATEWAY_BIN" --help)" \
	"--rate-limit-redis redis://HOST"
topic=it0220
new_topic $topic 1
rport=$(gw_port 26390)
redis_start redis0220 "$rport"
keys=$STACK_DIR/0220.keys
gw_key "$keys" acme ak_shared_a 'sa'
declare -A url admin
for g in a b; do
	port=$(gw_port 28060)
	admin[$g]=$(gw_port 28160)
	# A generous timeout: on the loaded CI machine a 5 ms one could fall back
	# now and then and let a few more through; 0221 tests the falling back.
	gw_start gw0220$g "${admin[$g]}" --listen "127.0.0.1:$port" --keys-file "$keys" \
		--topic $topic --rate-limit-redis "redis://127.0.0.1:$rport" \
		--rate-limit-redis-timeout-ms 500
	url[$g]=http://127.0.0.1:$port/v1/patients
done

body=$(gw_body 0 1)
for g in a b; do redis_curl_cfg "$STACK_DIR/0220.$g.curl" "${url[$g]}" ak_shared_a sa "$body" 350; done
t0=$(date +%s%N)
curl -K "$STACK_DIR/0220.a.curl" >"$STACK_DIR/0220.a.codes" &
pa=$!
curl -K "$STACK_DIR/0220.b.curl" >"$STACK_DIR/0220.b.codes" &
pb=$!
wait $pa $pb || true
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
codes=$(cat "$STACK_DIR/0220.a.codes" "$STACK_DIR/0220.b.codes")
n200=$(grep -c '^200$' <<<"$codes" || true)
n429=$(grep -c '^429$' <<<"$codes" || true)
na=$(grep -c '^200$' "$STACK_DIR/0220.a.codes" || true)
echo "# 700 requests over 2 gateways in $elapsed_ms ms: $n200 allowed ($na by a), $n429 refused"
assert_eq "every answer is a 200 or a 429" "$((n200 + n429))" 700
# Exact but for what GCRA earns back meanwhile: one request per 100 ms.
earned=$((elapsed_ms / 100 + 1))
assert_eq "600 allowed over both (+ up to $earned earned back in $elapsed_ms ms)" \
	"$([ "$n200" -ge 600 ] && [ "$n200" -le $((600 + earned)) ] && [ "$n200" -lt 700 ] && echo yes)" yes
assert_eq "no request fell back to a local limit" \
	"$(gw_metric "${admin[a]}" patients_gateway_ratelimit_fallback_total) $(gw_metric "${admin[b]}" patients_gateway_ratelimit_fallback_total)" "0 0"
assert_eq "Redis up on both" \
	"$(gw_metric "${admin[a]}" patients_gateway_ratelimit_redis_up) $(gw_metric "${admin[b]}" patients_gateway_ratelimit_redis_up)" "1 1"

# Spent: a refuses the key; then 20 PUTs alternating a and b in one curl.
# A gateway of its own, b would allow all of its 10 (it had ~250 left);
# shared, both refuse but for what is earned back meanwhile, with the same
# headers (%header{} of curl's --write-out).
for ((i = 0; i < earned + 20; i++)); do
	gw_put "${url[a]}" ak_shared_a sa "$body"
	[ "$GW_STATUS" = 429 ] && break
done
assert_eq "a: 429" "$GW_STATUS" 429
cfg=$STACK_DIR/0220.ab.curl
redis_curl_cfg "$cfg" "${url[a]}" ak_shared_a sa "$body" 0
sed -i 's/^write-out = .*/write-out = "%{url} %{http_code} %header{x-ratelimit-limit} %header{x-ratelimit-remaining} %header{x-ratelimit-reset} %header{retry-after}\\n"/' "$cfg"
for ((i = 0; i < 10; i++)); do
	printf 'url = "%s"\noutput = "/dev/null"\nurl = "%s"\noutput = "/dev/null"\n' "${url[a]}" "${url[b]}"
done >>"$cfg"
t0=$(date +%s%N)
lines=$(curl -K "$cfg")
alt_ms=$((($(date +%s%N) - t0) / 1000000))
echo "$lines" | sed 's/^/# /'
n200=$(grep -c ' 200 ' <<<"$lines" || true)
assert_eq "alternating over a and b: at most the $((alt_ms / 100 + 1)) earned back in $alt_ms ms are allowed" \
	"$([ "$n200" -le $((alt_ms / 100 + 1)) ] && echo yes)" yes
assert_eq "b refuses the key a spent, with a's headers: Limit 600, Remaining 0, Reset 60, Retry-After 1" \
	"$(grep -c "^${url[b]} 429 600 0 60 1\$" <<<"$lines" || true)" "$((10 - $(grep -c "^${url[b]} 200 " <<<"$lines" || true)))"
assert_eq "so does a" \
	"$(grep -c "^${url[a]} 429 600 0 60 1\$" <<<"$lines" || true)" "$((10 - $(grep -c "^${url[a]} 200 " <<<"$lines" || true)))"
gw_put "${url[b]}" ak_shared_a sa "$body"
[ "$GW_STATUS" = 429 ] || gw_put "${url[b]}" ak_shared_a sa "$body"
assert_eq "b's 429 body" "$GW_STATUS $GW_BODY" \
	'429 {"error":{"status":429,"message":"over 600 requests per minute for this API key","details":[]}}'
assert_common_headers "429 from b"

# What Redis holds: a hash of the key, never the key; it expires.
rkeys=$(redis-cli -h 127.0.0.1 -p "$rport" --scan)
assert_match "Redis holds one key, a hash" "$rkeys" '^patients:rl:[0-9a-f]{32}$'
assert_eq "not the API key" "$(redis-cli -h 127.0.0.1 -p "$rport" --scan --pattern '*ak_shared*')" ""
assert_match "it expires (PTTL about a minute)" "$(redis-cli -h 127.0.0.1 -p "$rport" pttl "$rkeys")" '^[0-9]{5}$'

for g in a b; do
	stop_daemon gw0220$g && rc=0 || rc=$?
	assert_eq "gateway $g: SIGTERM, clean exit" "$rc" 0
	assert_eq "gateway $g: no sanitizer report" \
		"$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/gw0220$g.log" || true)" 0
	assert_eq "gateway $g: no API key in its log" "$(grep -c 'ak_shared' "$STACK_DIR/gw0220$g.log" || true)" 0
done
redis_kill redis0220
