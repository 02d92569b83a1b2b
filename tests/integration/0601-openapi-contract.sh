# docs/openapi.yaml against the live gateway: tests/contract/openapi_contract.py
# drives it through every status of DESIGN.md s.2's table (200, 400, 401,
# 404, 405, 413, 415, 422, 429, and 503 from a gateway whose Kafka is
# unreachable), plus /healthz and the admin listener, and checks each answer's
# status, headers and body against the document, and that every example in
# it is a real request or answer. Then the same checker must fail against
# copies of the document that are wrong in one place each.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

topic=it0601
new_topic $topic 1
port=$(gw_port 28601)
admin=$(gw_port 28611)
dport=$(gw_port 28602)
dadmin=$(gw_port 28612)
dead=$(gw_port 28603) # nothing listens there: a Kafka that is down
keys=$STACK_DIR/0601.keys
gw_key "$keys" acme ak_0601 s3cret-0601
gw_key "$keys" acme ak_0601_burst s3cret-0601 # spent on the 429 alone
# The limits the document's examples show, whatever the defaults become.
gw_start gw0601 "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" --topic $topic \
	--rate-limit 600
WAIT=healthz gw_start gw0601down "$dadmin" --listen "127.0.0.1:$dport" --keys-file "$keys" \
	--brokers "127.0.0.1:$dead" --topic $topic --publish-timeout-ms 1500

doc=$PATIENTS_SRC/docs/openapi.yaml
contract() { # DOC [ARGS...]
	/usr/bin/python3 "$PATIENTS_SRC/tests/contract/openapi_contract.py" --doc "$@" \
		--url "http://127.0.0.1:$port" --admin "http://127.0.0.1:$admin" \
		--key ak_0601 --secret s3cret-0601 --burst-key ak_0601_burst \
		--down-url "http://127.0.0.1:$dport" --down-admin "http://127.0.0.1:$dadmin"
}

rc=0
contract "$doc" >"$STACK_DIR/0601.out" 2>&1 || rc=$?
cat "$STACK_DIR/0601.out"
# A port taken between gw_port and the bind would send the checks to
# someone else's listener: both gateways must still be the ones we started.
for g in gw0601 gw0601down; do
	kill -0 "$(cat "$STACK_DIR/$g.daemon.pid")" 2>/dev/null || { tail -n 5 "$STACK_DIR/$g.log"; }
	assert_eq "$g is running (the answers were its own)" "$(kill -0 "$(cat "$STACK_DIR/$g.daemon.pid")" 2>/dev/null && echo yes)" yes
done
assert_eq "the live gateway conforms to docs/openapi.yaml" "$rc" 0
assert_match "every status of the table was driven" "$(cat "$STACK_DIR/0601.out")" \
	'contract: PUT /v1/patients: 1[0-9] statuses \[200, 400, 401, 404, 405, 413, 415, 422, 429, (501, )?503\]'

# A document that disagrees with the gateway in one place must fail.
mutate() { # NAME PYTHON (edits d, the loaded document)
	/usr/bin/python3 -c "
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
$2
yaml.safe_dump(d, open(sys.argv[2], 'w'), sort_keys=False)" "$doc" "$STACK_DIR/0601.$1.yaml"
}
s='d["components"]["schemas"]'
r='d["paths"]["/v1/patients"]["put"]["responses"]'
mutate success "$s['Success']['properties']['data']['items']['properties']['message']['const'] = 'OK'"
mutate no415 "del $r['415']"
mutate requestid "d['components']['headers']['X-Request-Id']['schema']['pattern'] = '^[0-9A-F-]{36}\$'"
mutate envelope "$s['ErrorDetail']['required'].append('code')"
for m in success:'-> 200' no415:'status 415 of PUT /v1/patients is not in the document' \
	requestid:'header X-Request-Id' envelope:"details/0: 'code' is a required property"; do
	name=${m%%:*}
	rc=0
	contract "$STACK_DIR/0601.$name.yaml" --no-optional >"$STACK_DIR/0601.$name.out" 2>&1 || rc=$?
	assert_eq "a wrong document ($name) fails the contract" "$rc" 1
	assert_match "... and says where ($name)" "$(grep -A1 '^not ok' "$STACK_DIR/0601.$name.out")" "${m#*:}"
done

stop_daemon gw0601
stop_daemon gw0601down
assert_eq "no sanitizer report" \
	"$(cat "$STACK_DIR/gw0601.log" "$STACK_DIR/gw0601down.log" | grep -c 'Sanitizer\|runtime error' || true)" 0
