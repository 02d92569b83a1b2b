# HTTPS served by the gateway itself with a self-signed certificate made
# here: the same answers as plain HTTP; plain HTTP on a public address is
# refused unless allowed.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

topic=it0204
new_topic $topic 1
keys=$STACK_DIR/0204.keys
gw_key "$keys" acme ak_0204 s3cret
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
	-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
	-keyout "$STACK_DIR/0204.key" -out "$STACK_DIR/0204.crt" 2>/dev/null
tls_port=$(gw_port 28040)
plain_port=$(gw_port 28045)
gw_start gw0204tls "$(gw_port 28140)" --listen "127.0.0.1:$tls_port" --keys-file "$keys" --topic $topic \
	--tls-cert "$STACK_DIR/0204.crt" --tls-key "$STACK_DIR/0204.key"
gw_start gw0204plain "$(gw_port 28145)" --listen "127.0.0.1:$plain_port" --keys-file "$keys" --topic $topic

# The same requests to both: statuses and bodies must match (ids differ).
cases=(
	"ak_0204 s3cret $(gw_body 0 5)"
	"ak_0204 wrong $(gw_body 0 5)"
	"ak_0204 s3cret $(gw_body 0 1001)"
	"ak_0204 s3cret {"
)
for c in "${cases[@]}"; do
	read -r key secret body <<<"$c"
	gw_put "https://localhost:$tls_port/v1/patients" "$key" "$secret" "$body" --cacert "$STACK_DIR/0204.crt"
	tls="$GW_STATUS $GW_BODY"
	assert_common_headers "https"
	gw_put "http://127.0.0.1:$plain_port/v1/patients" "$key" "$secret" "$body"
	assert_eq "HTTPS answers as HTTP: ${tls:0:60}" "$tls" "$GW_STATUS $GW_BODY"
done
assert_eq "HTTPS 200 body" "$(gw_put "https://localhost:$tls_port/v1/patients" ak_0204 s3cret "$(gw_body 0 5)" --cacert "$STACK_DIR/0204.crt"; echo "$GW_STATUS $GW_BODY")" \
	'200 {"data":[{"message":"Success"}]}'
assert_eq "TLS 1.2 and up only" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$STACK_DIR/0204.crt" --tls-max 1.1 "https://localhost:$tls_port/healthz" || true)" 000
assert_eq "plain HTTP to the TLS port fails" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$tls_port/healthz" || true)" 000
assert_eq "three batches in Kafka: two over HTTPS, one over HTTP" \
	"$(kcat -b "$PATIENTS_KAFKA_BROKERS" -C -t $topic -e -q -f 'x\n' | wc -l)" 3
stop_daemon gw0204tls
stop_daemon gw0204plain

# Plain HTTP on every address: refused at start (EX_CONFIG) unless allowed.
rc=0
out=$("$GATEWAY_BIN" --listen "0.0.0.0:$plain_port" --keys-file "$keys" --admin-listen '' 2>&1) || rc=$?
assert_eq "plain HTTP on 0.0.0.0 refused: exit 78" "$rc" 78
assert_match "it says why" "$out" "refusing plain HTTP on 0.0.0.0:$plain_port"
gw_start gw0204open "$(gw_port 28146)" --listen "0.0.0.0:$plain_port" --keys-file "$keys" --topic $topic --allow-plain-http
assert_eq "--allow-plain-http lets it listen on 0.0.0.0" "$(curl -s "http://127.0.0.1:$plain_port/healthz")" ok
stop_daemon gw0204open
gw_start gw0204pub "$(gw_port 28147)" --listen "0.0.0.0:$tls_port" --keys-file "$keys" --topic $topic \
	--tls-cert "$STACK_DIR/0204.crt" --tls-key "$STACK_DIR/0204.key"
assert_eq "TLS on 0.0.0.0 needs no flag" "$(curl -s --cacert "$STACK_DIR/0204.crt" "https://localhost:$tls_port/healthz")" ok
stop_daemon gw0204pub
for n in tls plain open pub; do
	assert_eq "$n: no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/gw0204$n.log" || true)" 0
done
