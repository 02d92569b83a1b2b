# The default limit is 600 requests a minute per key: 601 quick requests
# from one key meet a 429 with Retry-After at the 601st (give or take what
# the smooth limiter earned back while they ran), another key is not
# affected, and every answer says how much is left.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

assert_match "--help documents the default of 600, per instance" "$("$GATEWAY_BIN" --help)" \
	"default 600.*per gateway instance|per gateway instance.*default 600"
topic=it0205
new_topic $topic 1
port=$(gw_port 28050)
admin=$(gw_port 28150)
keys=$STACK_DIR/0205.keys
gw_key "$keys" acme ak_a 'sa'
gw_key "$keys" acme ak_b 'sb'
# No --rate-limit: the default is what is tested.
gw_start gw0205 "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" --topic $topic
url=http://127.0.0.1:$port/v1/patients

# 601 cheap requests (an empty batch: 422) and a few more, in one curl, one
# status per line: the limiter earns one back every 100 ms while they run.
cfg=$STACK_DIR/0205.curl
{
	echo 'silent'
	echo 'request = "PUT"'
	echo 'header = "X-API-Key: ak_a"'
	echo 'header = "X-Secret-Key: sa"'
	echo 'header = "Content-Type: application/json"'
	echo 'data = "{\"patients\":[]}"'
	echo 'write-out = "%{http_code}\n"'
	for ((i = 1; i <= 640; i++)); do
		echo "url = \"$url\""
		echo 'output = "/dev/null"'
	done
} >"$cfg"
t0=$(date +%s%N)
codes=$(curl -K "$cfg")
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
first429=$(echo "$codes" | grep -n '^429$' | head -n 1 | cut -d: -f1 || true)
n422=$(echo "$codes" | head -n 600 | grep -c '^422$')
echo "# 640 requests in $elapsed_ms ms; first 429 at #${first429:-none}"
assert_eq "the first 600 are served" "$n422" 600
# GCRA earns one request back every 100 ms: a slow machine may see the 429 a little later.
earned=$((elapsed_ms / 100 + 1))
assert_match "a 429 came" "${first429:-none}" '^[0-9]+$'
assert_eq "the 429 comes at the 601st (+ $earned earned back)" \
	"$([ "$first429" -ge 601 ] && [ "$first429" -le $((601 + earned)) ] && echo yes)" yes
# the 601st may have been earned back: spend until refused, then look at one 429
for ((i = 0; i < earned + 5; i++)); do
	gw_put "$url" ak_a sa '{"patients":[]}'
	[ "$GW_STATUS" = 429 ] && break
done
assert_eq "429 body" "$GW_STATUS $GW_BODY" \
	'429 {"error":{"status":429,"message":"over 600 requests per minute for this API key","details":[]}}'
assert_match "429 Retry-After in seconds" "$(gw_header Retry-After)" '^[1-9][0-9]*$'
assert_eq "429 X-RateLimit-Remaining" "$(gw_header X-RateLimit-Remaining)" 0
assert_eq "429 X-RateLimit-Limit" "$(gw_header X-RateLimit-Limit)" 600
assert_match "429 X-RateLimit-Reset about a minute" "$(gw_header X-RateLimit-Reset)" '^(5[0-9]|60)$'
assert_common_headers "429"

gw_put "$url" ak_b sb "$(gw_body 0 1)"
assert_eq "another key is not limited" "$GW_STATUS $(gw_header X-RateLimit-Remaining)" "200 599"
sleep 1.1
gw_put "$url" ak_a sa "$(gw_body 0 1)"
assert_eq "a second later the limited key may send again" "$GW_STATUS" 200
stop_daemon gw0205
