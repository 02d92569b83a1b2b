# HTTP framing (RFC 9112) at the edge: requests whose length a proxy in front
# could read differently (Content-Length with Transfer-Encoding, two lengths,
# an unknown coding, bare LF, NUL, a space in a header name, no Host or two)
# are refused at once and their connection closed, so that a credentialed PUT
# hidden in them is never executed; targets are matched exactly (absolute
# form accepted, %00 and %2F not routed); every answer carries our envelope
# and headers; after a 401/415/422/429 on a request read whole, the
# connection stays open and a pipelined request gets its own answer.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

topic=it0209
new_topic $topic 1
port=$(gw_port 28090)
admin=$(gw_port 28190)
keys=$STACK_DIR/0209.keys
gw_key "$keys" acme ak_0209 s3cret
# --rate-limit 2 for the 429: each exchange below uses keys of its own.
for k in ak_0209rl ak_n1 ak_n2 ak_n3 ak_n4; do gw_key "$keys" acme $k s3cret; done
gw_start gw0209 "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" --topic $topic \
	--rate-limit 2
url=http://127.0.0.1:$port/v1/patients
raw() { python3 "$PATIENTS_SRC/tests/lib/rawhttp.py" "$port" "$@"; }
published() { kcat -b "$PATIENTS_KAFKA_BROKERS" -C -t $topic -e -q -f '%o\n' | wc -l; }
ms() { echo $(($(date +%s%N) / 1000000)); }

B='{"patients":[{"code":"f1","first_name":"Ada","gender":"female","birthdate":"1985-12-10"}]}'
S='{"patients":[{"code":"smuggled","first_name":"Eve","gender":"female","birthdate":"1985-12-10"}]}'
CRED='X-API-Key: ak_0209\r\nX-Secret-Key: s3cret\r\nContent-Type: application/json\r\n'
# The request an attacker hides inside another one's body.
SMUGGLED="PUT /v1/patients HTTP/1.1\\r\\nHost: x\\r\\n${CRED}Content-Length: ${#S}\\r\\n\\r\\n$S"
smuggled_len=$(printf "$SMUGGLED" | wc -c)
envelope_re() { echo "^$1 connection=close request_id=1 body=\\{\"error\":\\{\"status\":$1,\"message\":\"[^\"]+\",\"details\":\\[\\]\\}\\}\$"; }

# --- framing: refused at once, connection closed, nothing hidden executed ---
before=$(published)
out=$(raw 2 "PUT /v1/patients HTTP/1.1\r\nHost: x\r\n${CRED}Content-Length: $((5 + smuggled_len))\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$SMUGGLED")
assert_match "Content-Length with Transfer-Encoding: 400 in the envelope" "$(echo "$out" | head -n 1)" "$(envelope_re 400)"
assert_eq "... and the connection is closed after that one answer" "$(echo "$out" | sed -n 2p)" closed

out=$(raw 2 "PUT /v1/patients HTTP/1.1\r\nHost: x\r\n${CRED}Content-Length: ${#B}\r\nContent-Length: $((${#B} + smuggled_len))\r\n\r\n$B$SMUGGLED")
assert_match "two different Content-Lengths: 400" "$(echo "$out" | head -n 1)" "$(envelope_re 400)"
assert_eq "... closed" "$(echo "$out" | sed -n 2p)" closed

for te in 'gzip, chunked' identity xchunked 'chunked, identity'; do
	t0=$(ms)
	out=$(raw 2 "PUT /v1/patients HTTP/1.1\r\nHost: x\r\n${CRED}Transfer-Encoding: $te\r\n\r\n5\r\n{\"pat\r\n0\r\n\r\n$SMUGGLED")
	assert_match "Transfer-Encoding: $te: 501 or 400" "$(echo "$out" | head -n 1)" "$(envelope_re '(501|400)')"
	assert_eq "... closed" "$(echo "$out" | sed -n 2p)" closed
	assert_eq "... at once ($(($(ms) - t0)) ms)" "$(($(ms) - t0 < 2500))" 1
done
out=$(raw 2 "PUT /v1/patients HTTP/1.0\r\nHost: x\r\n${CRED}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n$SMUGGLED")
assert_match "Transfer-Encoding in HTTP/1.0: 400" "$(echo "$out" | head -n 1)" "$(envelope_re 400)"

out=$(raw 2 "PUT /v1/patients HTTP/1.1\nHost: x\nX-API-Key: ak_0209\nX-Secret-Key: s3cret\nContent-Type: application/json\nContent-Length: ${#S}\n\n$S")
assert_match "bare LF line ends: 400" "$(echo "$out" | head -n 1)" "$(envelope_re 400)"
out=$(raw 2 "PUT /v1/patients HTTP/1.1\r\nHost: x\r\n${CRED}X-Pad: a\nContent-Length: ${#S}\r\n\r\n$S")
assert_match "one bare LF among CRLFs: 400" "$(echo "$out" | head -n 1)" "$(envelope_re 400)"
out=$(raw 2 "PUT /v1/patients HTTP/1.1\r\n${CRED}Content-Length: ${#S}\r\n\r\n$S")
assert_match "no Host: 400" "$(echo "$out" | head -n 1)" "$(envelope_re 400)"
out=$(raw 2 "PUT /v1/patients HTTP/1.1\r\nHost: x\r\nHost: y\r\n${CRED}Content-Length: ${#S}\r\n\r\n$S")
assert_match "two Hosts: 400" "$(echo "$out" | head -n 1)" "$(envelope_re 400)"
out=$(raw 2 "PUT /v1/patients HTTP/1.1\r\nHost: x\r\n${CRED}X Pad: a\r\nContent-Length: ${#S}\r\n\r\n$S")
assert_match "a space in a header name: 400" "$(echo "$out" | head -n 1)" "$(envelope_re 400)"
out=$(raw 2 "PUT /v1/patients HTTP/1.1\r\nHost: x\r\n${CRED}X-Pad: a\x00Transfer-Encoding: chunked\r\nContent-Length: ${#S}\r\n\r\n$S")
assert_match "a NUL in a header value: 400" "$(echo "$out" | head -n 1)" "$(envelope_re 400)"
out=$(raw 2 "PUT /v1/patients HTTP/1.1\r\nHost: x\r\n${CRED}X-Pad: a\r\n b\r\nContent-Length: ${#S}\r\n\r\n$S")
assert_match "a folded header line: 400" "$(echo "$out" | head -n 1)" "$(envelope_re 400)"

for target in '/v1/patients%00' '/v1%2Fpatients' '/v1/patients%2' '/v1/./patients' '/v1/x/../patients'; do
	out=$(raw 1 "PUT $target HTTP/1.1\r\nHost: x\r\n${CRED}Content-Length: ${#S}\r\n\r\n$S")
	assert_match "PUT $target is not the endpoint: 404 or 400" "$(echo "$out" | head -n 1)" '^(404|400) connection=[a-z-]+ request_id=1 body=\{"error":\{"status":(404|400),'
done
assert_eq "none of those was published" "$(published)" "$before"

# --- targets that are the endpoint --------------------------------------------
out=$(raw 1 "PUT http://127.0.0.1:$port/v1/patients HTTP/1.1\r\nHost: 127.0.0.1:$port\r\n${CRED}Content-Length: ${#B}\r\n\r\n$B")
assert_eq "absolute-form target: 200" "$(echo "$out" | head -n 1)" '200 connection=- request_id=1 body={"data":[{"message":"Success"}]}'
assert_eq "... published" "$(published)" "$((before + 1))"
before=$((before + 1))

long=$(head -c 65536 /dev/zero | tr '\0' a)
out=$(raw 1 "GET /$long HTTP/1.1\r\nHost: x\r\n\r\n")
assert_match "a 64 KiB request line: 414 with the envelope and X-Request-Id" "$(echo "$out" | head -n 1)" "$(envelope_re 414)"
gw_curl "http://127.0.0.1:$port/$long"
assert_eq "... (curl) 414" "$GW_STATUS" 414
assert_common_headers "414"

# --- refusals of a request read whole keep the connection ---------------------
next() { echo "PUT /v1/patients HTTP/1.1\r\nHost: x\r\nX-API-Key: $1\r\nX-Secret-Key: s3cret\r\nContent-Type: application/json\r\nContent-Length: ${#B}\r\n\r\n$B"; }
out=$(raw 2 "PUT /v1/patients HTTP/1.1\r\nHost: x\r\nX-API-Key: ak_0209\r\nX-Secret-Key: wrong\r\nContent-Type: application/json\r\nContent-Length: ${#S}\r\n\r\n$S$(next ak_n1)")
assert_match "401, read whole: no Connection: close" "$(echo "$out" | sed -n 1p)" '^401 connection=- request_id=1 body=\{"error":\{"status":401,'
assert_match "... and the pipelined PUT behind it gets its 200" "$(echo "$out" | sed -n 2p)" '^200 connection=- '
out=$(raw 2 "PUT /v1/patients HTTP/1.1\r\nHost: x\r\nX-API-Key: ak_n2\r\nX-Secret-Key: s3cret\r\nContent-Type: text/plain\r\nContent-Length: ${#S}\r\n\r\n$S$(next ak_n2)")
assert_match "415, read whole: kept" "$(echo "$out" | sed -n 1p)" '^415 connection=- request_id=1 '
assert_match "... then 200" "$(echo "$out" | sed -n 2p)" '^200 connection=- '
bad='{"patients":[{"code":"c1","first_name":"Ada","gender":"x","birthdate":"1985-12-10"}]}'
out=$(raw 2 "PUT /v1/patients HTTP/1.1\r\nHost: x\r\nX-API-Key: ak_n3\r\nX-Secret-Key: s3cret\r\nContent-Type: application/json\r\nContent-Length: ${#bad}\r\n\r\n$bad$(next ak_n3)")
assert_match "422, read whole: kept" "$(echo "$out" | sed -n 1p)" '^422 connection=- request_id=1 '
assert_match "... then 200" "$(echo "$out" | sed -n 2p)" '^200 connection=- '
gw_put "$url" ak_0209rl s3cret '{}' -H 'Content-Type: text/plain'
gw_put "$url" ak_0209rl s3cret '{}' -H 'Content-Type: text/plain'
out=$(raw 2 "PUT /v1/patients HTTP/1.1\r\nHost: x\r\nX-API-Key: ak_0209rl\r\nX-Secret-Key: s3cret\r\nContent-Type: application/json\r\nContent-Length: ${#S}\r\n\r\n$S$(next ak_n4)")
assert_match "429, read whole: kept" "$(echo "$out" | sed -n 1p)" '^429 connection=- request_id=1 '
assert_match "... then 200" "$(echo "$out" | sed -n 2p)" '^200 connection=- '
out=$(raw 2 "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
assert_match "404 without a body: kept" "$(echo "$out" | sed -n 1p)" '^404 connection=- request_id=1 '
assert_match "... then /healthz" "$(echo "$out" | sed -n 2p)" '^200 connection=- request_id=1 body=ok'
assert_eq "... and the connection is still open" "$(echo "$out" | sed -n 3p)" open
assert_eq "exactly the four legitimate PUTs were published" "$(published)" "$((before + 4))"

stop_daemon gw0209
assert_eq "no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/gw0209.log" || true)" 0
