# Every status of DESIGN.md s.2's table with its body and headers, through
# the real gateway and the real broker; the 200's message is in Kafka with
# key = tenant and the envelope of s.3.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

topic=it0201
new_topic $topic 3
port=$(gw_port 28010)
admin=$(gw_port 28110)
keys=$STACK_DIR/0201.keys
gw_key "$keys" acme ak_0201 's3cret'
gw_start gw0201 "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" --topic $topic
url=http://127.0.0.1:$port/v1/patients
err() { printf '{"error":{"status":%s,"message":"%s","details":[%s]}}' "$1" "$2" "${3:-}"; }

# 200, and the message in Kafka
gw_put "$url" ak_0201 s3cret "$(gw_body 0 3)" -H 'X-Request-Id: client-42'
assert_eq "200 status" "$GW_STATUS" 200
assert_eq "200 body exactly as the seed" "$GW_BODY" '{"data":[{"message":"Success"}]}'
assert_eq "200 content type" "$(gw_header Content-Type)" "application/json"
assert_common_headers "200"
assert_eq "200 spends one of 600" "$(gw_header X-RateLimit-Limit) $(gw_header X-RateLimit-Remaining)" "600 599"
rid=$(gw_header X-Request-Id)
msg=$(kcat -b "$PATIENTS_KAFKA_BROKERS" -C -t $topic -e -q -f '%k|%s\n')
assert_eq "one message in Kafka" "$(echo "$msg" | wc -l)" 1
assert_match "key = tenant, envelope v1 with our request id" "$msg" \
	"^acme\|\{\"v\":1,\"tenant\":\"acme\",\"request_id\":\"$rid\",\"client_request_id\":\"client-42\",\"received_at\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z\",\"body\":"
assert_eq "the body travels verbatim" "${msg#*\"body\":}" "$(gw_body 0 3)}"

# 400
gw_put "$url" ak_0201 s3cret '{"patients":'
assert_eq "400 not JSON" "$GW_STATUS $GW_BODY" "400 $(err 400 'body is not valid JSON' '{"index":null,"field":"body","message":"body is not valid JSON"}')"
assert_common_headers "400"
gw_put "$url" ak_0201 s3cret '[1]'
assert_eq "400 not an object" "$GW_STATUS $GW_BODY" "400 $(err 400 'body must be a JSON object' '{"index":null,"field":"body","message":"body must be a JSON object"}')"
gw_put "$url" ak_0201 s3cret $'{"patients":[{"code":"\xc3\x28"}]}'
assert_eq "400 bad UTF-8" "$GW_STATUS $GW_BODY" "400 $(err 400 'body is not valid UTF-8' '{"index":null,"field":"body","message":"body is not valid UTF-8"}')"

# 401: the same answer whatever is wrong
want401="401 $(err 401 'missing or invalid credentials (X-API-Key, X-Secret-Key)')"
gw_put "$url" ak_0201 wrong "$(gw_body 0 1)"
assert_eq "401 wrong secret" "$GW_STATUS $GW_BODY" "$want401"
assert_common_headers "401"
gw_put "$url" nobody s3cret "$(gw_body 0 1)"
assert_eq "401 unknown key" "$GW_STATUS $GW_BODY" "$want401"
gw_curl -X PUT "$url" -H 'X-API-Key: ak_0201' -H 'Content-Type: application/json' -d "$(gw_body 0 1)"
assert_eq "401 missing secret" "$GW_STATUS $GW_BODY" "$want401"
gw_curl -X PUT "$url" -H 'X-Secret-Key: s3cret' -H 'Content-Type: application/json' -d "$(gw_body 0 1)"
assert_eq "401 missing key" "$GW_STATUS $GW_BODY" "$want401"
gw_curl -X PUT "$url" -H 'Content-Type: application/json' -d "$(gw_body 0 1)"
assert_eq "401 no credentials" "$GW_STATUS $GW_BODY" "$want401"

# 404, 405
gw_put "http://127.0.0.1:$port/v1/patient" ak_0201 s3cret "$(gw_body 0 1)"
assert_eq "404" "$GW_STATUS $GW_BODY" "404 $(err 404 'not found')"
assert_common_headers "404"
gw_curl -X POST "$url" -H 'X-API-Key: ak_0201' -H 'X-Secret-Key: s3cret' -d '{}'
assert_eq "405 POST" "$GW_STATUS $GW_BODY" "405 $(err 405 'method not allowed')"
assert_eq "405 Allow: PUT" "$(gw_header Allow)" "PUT"
assert_common_headers "405"
gw_curl "$url"
assert_eq "405 GET" "$GW_STATUS $(gw_header Allow)" "405 PUT"

# 413, 415
head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$STACK_DIR/0201.big"
gw_put "$url" ak_0201 s3cret "@$STACK_DIR/0201.big"
assert_eq "413 5 MiB" "$GW_STATUS $GW_BODY" "413 $(err 413 'the body is over the limit of 4194304 bytes')"
assert_common_headers "413"
gw_curl -X PUT "$url" -H 'X-API-Key: ak_0201' -H 'X-Secret-Key: s3cret' -H 'Content-Type: text/plain' -d "$(gw_body 0 1)"
assert_eq "415 text/plain" "$GW_STATUS $GW_BODY" "415 $(err 415 'Content-Type must be application/json')"
assert_common_headers "415"
gw_curl -X PUT "$url" -H 'X-API-Key: ak_0201' -H 'X-Secret-Key: s3cret' -H 'Content-Type:' -d "$(gw_body 0 1)"
assert_eq "415 no content type" "$GW_STATUS" "415"
gw_put "$url" ak_0201 s3cret "$(gw_body 0 1)" -H 'Content-Type: Application/JSON; charset=utf-8'
assert_eq "a content type with parameters is JSON" "$GW_STATUS" "200"

# 422
gw_put "$url" ak_0201 s3cret "$(gw_body 0 1001)"
assert_eq "422 1001 patients" "$GW_STATUS $GW_BODY" \
	"422 $(err 422 'validation failed: 1 error' '{"index":null,"field":"patients","message":"has 1001 patients; at most 1000 are allowed"}')"
assert_common_headers "422"
dup='{"patients":[{"code":"a","first_name":"A","gender":"male","birthdate":"1990-01-01"},{"code":"b","first_name":"B","gender":"male","birthdate":"1990-01-01"},{"code":"a","first_name":"C","gender":"female","birthdate":"1990-01-01"}]}'
gw_put "$url" ak_0201 s3cret "$dup"
assert_eq "422 a duplicate code names both indexes" "$GW_STATUS $GW_BODY" \
	"422 $(err 422 'validation failed: 1 error' '{"index":2,"field":"code","message":"duplicate of patients[0]"}')"
gw_put "$url" ak_0201 s3cret '{"patients":[{"code":"a","first_name":" ","gender":"x","birthdate":"2023-02-29","email":"nope"}]}'
assert_eq "422 lists every error" "$GW_STATUS $(echo "$GW_BODY" | grep -o '"field":"[a-z_]*"' | tr '\n' ' ')" \
	'422 "field":"first_name" "field":"gender" "field":"birthdate" "field":"email" '

# 429 and 503 have scenarios of their own (0205, 0206); /healthz and the admin listener
gw_curl "http://127.0.0.1:$port/healthz"
assert_eq "/healthz on the public listener" "$GW_STATUS $GW_BODY" "200 ok"
assert_common_headers "/healthz"
assert_eq "/readyz on the admin listener" "$(curl -s "http://127.0.0.1:$admin/readyz")" "ready"
assert_eq "/readyz is not public" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" "404"
metrics=$(curl -s "http://127.0.0.1:$admin/metrics")
assert_match "metrics: 200s counted" "$metrics" $'\npatients_gateway_requests_total\\{status="200"\\} 3\n'
assert_match "metrics: 401s counted" "$metrics" $'\npatients_gateway_requests_total\\{status="401"\\} 5\n'
assert_match "metrics: patients published" "$metrics" $'\npatients_gateway_patients_published_total 4\n'
assert_match "metrics: kafka up" "$metrics" $'\npatients_gateway_kafka_up 1\n'
assert_match "metrics: publish latency histogram" "$metrics" $'\npatients_gateway_publish_duration_seconds_count 2\n'

# request ids grow
ids=()
for i in 1 2 3; do gw_curl "http://127.0.0.1:$port/healthz"; ids+=("$(gw_header X-Request-Id)"); done
assert_eq "request ids are monotonic" "$(printf '%s\n' "${ids[@]}" | sort -c && echo sorted)" "sorted"

stop_daemon gw0201
assert_eq "no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/gw0201.log" || true)" 0
assert_eq "no secret in the log" "$(grep -c 's3cret\|ak_0201' "$STACK_DIR/gw0201.log" || true)" 0
