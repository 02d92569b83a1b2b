# Limits under abuse: a body over the limit is refused before it is read, a
# slow client is cut off while others are served, one address cannot hold
# more than its share of connections, an oversized head is refused, junk
# bytes crash nothing.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

topic=it0207
new_topic $topic 1
port=$(gw_port 28070)
admin=$(gw_port 28170)
keys=$STACK_DIR/0207.keys
gw_key "$keys" acme ak_0207 s3cret
gw_start gw0207 "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" --topic $topic \
	--read-timeout-s 2 --max-connections-per-ip 4 --max-header-bytes 16384 --max-body-bytes 1048576
pid=$(cat "$STACK_DIR/gw0207.daemon.pid")
url=http://127.0.0.1:$port/v1/patients
ms() { echo $(($(date +%s%N) / 1000000)); }

# 413 from the Content-Length alone: with "Expect: 100-continue" (curl's
# default for big bodies) not one byte of the 2 MiB is sent.
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$STACK_DIR/0207.big"
out=$(curl -s -o /dev/null -w '%{http_code} %{size_upload}' -X PUT "$url" -H 'X-API-Key: ak_0207' \
	-H 'X-Secret-Key: s3cret' -H 'Content-Type: application/json' -H 'Expect: 100-continue' \
	--data-binary "@$STACK_DIR/0207.big")
assert_eq "2 MiB: 413 before the body is read (0 bytes uploaded)" "$out" "413 0"
gw_put "$url" ak_0207 s3cret "@$STACK_DIR/0207.big" -H 'Transfer-Encoding: chunked'
assert_eq "2 MiB chunked (no length): 413 still" "$GW_STATUS" 413
gw_put "$url" ak_0207 s3cret "@$STACK_DIR/0207.big" -H 'Expect:'
assert_eq "2 MiB sent at once anyway: 413" "$GW_STATUS" 413

# A slow client: half a request head, then nothing. Others are served meanwhile.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'PUT /v1/patients HTTP/1.1\r\nHost: x\r\nX-API-Key: ak_0207\r\n' >&3
t0=$(ms)
gw_put "$url" ak_0207 s3cret "$(gw_body 0 100)"
assert_eq "another client is served while the slow one hangs" "$GW_STATUS" 200
assert_eq "... at once" "$(($(ms) - t0 < 1500))" 1
timeout 10 cat <&3 >/dev/null || true
waited=$(($(ms) - t0))
exec 3<&-
echo "# the slow client was cut off after $waited ms"
assert_eq "the slow client is cut off after the 2 s read timeout" "$((waited >= 1500 && waited < 5000))" 1

# A slow body: the head is complete, the body never comes.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'PUT /v1/patients HTTP/1.1\r\nHost: x\r\nX-API-Key: ak_0207\r\nX-Secret-Key: s3cret\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"pat' >&3
t0=$(ms)
timeout 10 cat <&3 >/dev/null || true
waited=$(($(ms) - t0))
exec 3<&-
assert_eq "a stalled body is cut off too ($waited ms)" "$((waited >= 1500 && waited < 5000))" 1
wait_for "it is logged as a timeout, without an answer" 5 1 grep -c 'status=aborted tenant=acme patients=0 duration_ms=[0-9.]* end=timeout' "$STACK_DIR/gw0207.log"

# Four connections from one address are its share: a fifth is not served.
for fd in 4 5 6 7; do
	eval "exec $fd<>/dev/tcp/127.0.0.1/$port"
	printf 'GET /healthz HTTP/1.1\r\n' >&"$fd"
done
assert_eq "the 5th connection from one address is refused" \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/healthz" || true)" 000
for fd in 4 5 6 7; do eval "exec $fd<&-"; done
wait_for "once they are closed, it is served again" 5 ok curl -s "http://127.0.0.1:$port/healthz"

# A request head over --max-header-bytes: refused (431, by libmicrohttpd itself).
assert_eq "an oversized head: 431" \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" "http://127.0.0.1:$port/healthz")" 431

# Junk: random bytes, a bad request line, a huge Content-Length, a lying one.
head -c 65536 /dev/urandom >"$STACK_DIR/0207.junk"
for i in 1 2 3; do
	(exec 3<>"/dev/tcp/127.0.0.1/$port"; cat "$STACK_DIR/0207.junk" >&3; timeout 3 cat <&3 >/dev/null) 2>/dev/null || true
done
(exec 3<>"/dev/tcp/127.0.0.1/$port"; printf 'PUT /v1/patients HTTP/1.1\r\nHost: x\r\nX-API-Key: ak_0207\r\nX-Secret-Key: s3cret\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999999\r\n\r\n' >&3; timeout 3 cat <&3 >/dev/null) 2>/dev/null || true
(exec 3<>"/dev/tcp/127.0.0.1/$port"; printf 'PUT /v1/patients HTTP/1.1\r\nHost: x\r\nX-API-Key: ak_0207\r\nX-Secret-Key: s3cret\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"patients":[]}' >&3; timeout 3 cat <&3 >/dev/null) 2>/dev/null || true
(exec 3<>"/dev/tcp/127.0.0.1/$port"; printf '\x00\x01\x02 / HTTP/9.9\r\n\r\n' >&3; timeout 3 cat <&3 >/dev/null) 2>/dev/null || true
gw_put "$url" ak_0207 s3cret "$(gw_body 0 1)"
assert_eq "after all that, a batch is still a 200" "$GW_STATUS" 200
assert_eq "same process" "$(cat "$STACK_DIR/gw0207.daemon.pid")" "$pid"
wait_for "every connection is gone in the end" 10 1 \
	sh -c "curl -s http://127.0.0.1:$admin/metrics | grep -c '^patients_gateway_connections 0\$'"
stop_daemon gw0207
assert_eq "no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/gw0207.log" || true)" 0
