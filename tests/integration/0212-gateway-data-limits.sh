# Data and limits, end to end through a gateway with its default
# --max-body-bytes and a worker: control characters in names are a 422
# naming the field; an ignored key may nest to the documented depth (64
# levels in all) and the 400 past it says so; the largest valid batch, as
# Python's json.dumps writes it by default (every non-ASCII character a
# \uXXXX escape, ", " and ": " separators: 3,156,014 bytes), is a 200 and
# lands in PostgreSQL; a poison batch that large still reaches the DLQ.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

topic=it0212
new_topic $topic 2
new_topic $topic.dlq 1
fresh_db it0212
port=$(gw_port 28090)
admin=$(gw_port 28190)
keys=$STACK_DIR/0212.keys
gw_key "$keys" acme ak_0212 's3cret'
gw_start gw0212 "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" --topic $topic
start_daemon w0212 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g0212
url=http://127.0.0.1:$port/v1/patients
err() { printf '{"error":{"status":%s,"message":"%s","details":[%s]}}' "$1" "$2" "${3:-}"; }
one() { # FIELDS...: a batch of one patient with these fields after the code
	printf '{"patients":[{"code":"c1","gender":"female","birthdate":"1990-01-02",%s}]}' "$1"
}

# 1. Control characters: C0 (escaped; raw ones are not JSON), DEL and C1
# (raw or escaped), in first_name and last_name as in code and email.
cc() { # DESCRIPTION FIELD FIELDS
	gw_put "$url" ak_0212 s3cret "$(one "$3")"
	assert_eq "422 $1" "$GW_STATUS $GW_BODY" \
		"422 $(err 422 'validation failed: 1 error' "{\"index\":0,\"field\":\"$2\",\"message\":\"must not contain control characters\"}")"
}
cc "first_name with a line feed" first_name '"first_name":"Ana\nMaria"'
cc "first_name with a tab" first_name '"first_name":"Ana\tMaria"'
cc "first_name with ESC" first_name '"first_name":"\u001b[31mAna"'
cc "first_name with a raw DEL" first_name $'"first_name":"Ana\x7f"'
cc "first_name with a raw C1 (U+0085)" first_name $'"first_name":"Ana\xc2\x85"'
cc "last_name with a carriage return" last_name '"first_name":"Ana","last_name":"Ruiz\r"'
cc "last_name with U+009B" last_name '"first_name":"Ana","last_name":"\u009b2J"'
cc "code with a tab (as before)" code '"first_name":"Ana","code":"c\t1"'
gw_put "$url" ak_0212 s3cret "$(one '"first_name":"Ana María","last_name":"Núñez\u00a0Ruiz"')"
assert_eq "200 for letters and a no-break space" "$GW_STATUS" 200

# 2. An ignored key nested deep: 64 levels in all are taken, 65 are a 400
# that names the limit.
deep() { # LEVELS (in all, the body's own 3 included)
	local n=$(($1 - 3)) open close
	open=$(printf '[%.0s' $(seq "$n"))
	close=$(printf ']%.0s' $(seq "$n"))
	printf '{"patients":[{"code":"d%s","first_name":"Deep","gender":"male","birthdate":"1990-01-02","x":%snull%s}]}' "$1" "$open" "$close"
}
gw_put "$url" ak_0212 s3cret "$(deep 20)"
assert_eq "200 with an ignored key 20 levels deep" "$GW_STATUS" 200
gw_put "$url" ak_0212 s3cret "$(deep 64)"
assert_eq "200 with an ignored key 64 levels deep" "$GW_STATUS" 200
gw_put "$url" ak_0212 s3cret "$(deep 65)"
msg="body nests too deep: at most 64 levels of arrays and objects, the body's own 3 included"
assert_eq "400 at 65 levels, naming the limit" "$GW_STATUS $GW_BODY" \
	"400 $(err 400 "$msg" "{\"index\":null,\"field\":\"body\",\"message\":\"$msg\"}")"

# 3. The largest valid batch: 1000 patients, code, first_name and last_name
# of 255 bytes, email of 254, gender "female", as json.dumps writes it.
largest() { # CODE_MODE: unique or same (every code the same: a poison batch)
	awk -v mode="$1" 'function rep(s, n,   r) { r = ""; while (n-- > 0) r = r s; return r }
	BEGIN {
		e = "\\u00e9"; n = "\\u00f1"
		printf "{\"patients\": ["
		for (i = 0; i < 1000; i++) {
			code = "c"
			for (k = 0; k < 10; k++) code = code ((mode == "unique" && int(i / 2 ^ k) % 2) ? e : n)
			if (i) printf ", "
			printf "{\"code\": \"%s%s\", \"first_name\": \"A%s\", \"last_name\": \"B%s\", ", code, rep(e, 117), rep(e, 127), rep(e, 127)
			printf "\"gender\": \"female\", \"birthdate\": \"1990-01-02\", \"email\": \"%s@%s.%s\"}", rep(e, 124), e, e
		}
		printf "]}"
	}'
}
largest unique >"$STACK_DIR/0212.largest"
assert_eq "the largest valid batch is 3,156,014 bytes" "$(wc -c <"$STACK_DIR/0212.largest")" 3156014
start=$SECONDS
gw_put "$url" ak_0212 s3cret "@$STACK_DIR/0212.largest"
assert_eq "200 for the largest valid batch with the default limit" "$GW_STATUS $GW_BODY" '200 {"data":[{"message":"Success"}]}'
wait_for "its 1000 patients in PostgreSQL, every field at its limit" 120 1000 sql \
	"select count(*) from patients where octet_length(code) = 255 and octet_length(first_name) = 255
	 and octet_length(last_name) = 255 and octet_length(email) = 254"
echo "# the largest batch applied $((SECONDS - start)) s after its PUT"
assert_eq "and the other three valid batches" "$(sql "select count(*) from patients")" 1003
head -c $((4 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$STACK_DIR/0212.over"
gw_put "$url" ak_0212 s3cret "@$STACK_DIR/0212.over"
assert_eq "413 one byte over the 4 MiB default" "$GW_STATUS $GW_BODY" "413 $(err 413 'the body is over the limit of 4194304 bytes')"
echo "# gateway peak RSS after it: $(awk '/^VmHWM/ { print $2, $3 }' "/proc/$(cat "$STACK_DIR/gw0212.daemon.pid")/status")"

# 4. As large, but poison (one code 1000 times), written straight to the
# topic: the worker's DLQ producer takes a message that large.
{
	printf 'big:{"v":1,"tenant":"big","request_id":"00000000-0001-7000-8000-000000000001",'
	printf '"received_at":"2026-11-25T10:00:00.000Z","body":'
	largest same
	printf '}\n'
} >"$STACK_DIR/0212.poison"
kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -K: -X message.max.bytes=4000000 <"$STACK_DIR/0212.poison"
dlq() { # the DLQ's messages: error class and value size
	kcat -b "$PATIENTS_KAFKA_BROKERS" -C -t $topic.dlq -e -q -f '%h %S\n' |
		sed -n 's/.*error.class=\([a-z]*\).* \([0-9]*\)$/\1 \2/p'
}
# (kcat takes a second or more per look: a deadline, not wait_for's count)
want="invalid $(($(wc -c <"$STACK_DIR/0212.poison") - 5))"
for ((deadline = SECONDS + 60; SECONDS < deadline; )); do
	got=$(dlq)
	[ "$got" = "$want" ] && break
	sleep 1
done
assert_eq "the poison batch in the DLQ, whole" "$got" "$want"

stop_daemon w0212
stop_daemon gw0212
for d in w0212 gw0212; do
	assert_eq "$d: no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/$d.log" || true)" 0
done
