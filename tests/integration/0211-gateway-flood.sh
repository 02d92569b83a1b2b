# A trickle flood: 1050 connections from 42 loopback addresses (25 each,
# under the per-address cap), each sending one byte of a request head every
# 2 s and coming back 1 s after the gateway ends it, for 20 s. A legitimate
# client probing with a valid PUT every 0.5 s must be answered during the
# flood, and at once after it. What makes it work: connections without a
# whole head are shed, oldest first, once --max-connections are open, and
# a head must be whole within --head-timeout-s however busy the client
# keeps it (libmicrohttpd's idle timer alone let the flood hold every slot).
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

# 1050 sockets here, up to 2 x --max-connections in the gateway.
ulimit -n 8192
topic=it0211
new_topic $topic 1
port=$(gw_port 28090)
admin=$(gw_port 28190)
keys=$STACK_DIR/0211.keys
gw_key "$keys" acme ak_0211 s3cret
# The defaults that matter here: --max-connections 512,
# --max-connections-per-ip 64, --head-timeout-s 10, --read-timeout-s 30.
gw_start gw0211 "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" --topic $topic \
	--rate-limit 6000
pid=$(cat "$STACK_DIR/gw0211.daemon.pid")

python3 "$PATIENTS_SRC/tests/lib/flood.py" --port "$port" --key ak_0211 --secret s3cret \
	--addresses 42 --per-address 25 --interval 2 --duration 20 --warmup 4 --after 6 \
	>"$STACK_DIR/0211.json"
summary() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])" "$STACK_DIR/0211.json" "$1"; }
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); [d.pop(k) for k in ('during','after')]; print('#', json.dumps(d))" "$STACK_DIR/0211.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('# during:', ' '.join('%s:%s/%ss' % (r['t'], r['status'], r['s']) for r in d['during'])); print('# after:', ' '.join('+%s:%s/%ss' % (r['since_close'], r['status'], r['s']) for r in d['after']))" "$STACK_DIR/0211.json"
grep 'event=connections_ended' "$STACK_DIR/gw0211.log" | sed 's/^/# /' | tail -n 5 || true

assert_eq "the flood had 1000+ connections open at once" "$(($(summary peak_open) >= 1000))" 1
during=$(summary probes_during)
ok=$(summary probes_during_200)
# Generous for a loaded machine: most, not all, of the probes.
assert_eq "the probe is answered 200 during the flood ($ok of $during)" "$((during >= 20 && ok * 10 >= during * 8))" 1
assert_eq "the gateway ended flood connections itself" "$(($(summary ended_by_server) > 500))" 1
rec=$(summary recovered_after_s)
assert_match "after the flood, the probe is answered within 3 s (took ${rec} s)" \
	"$(python3 -c "import sys; r=sys.argv[1]; print('yes' if r != 'None' and float(r) <= 3 else 'no')" "$rec")" '^yes$'
assert_eq "every probe after the flood is a 200" "$(summary probes_after_200)" "$(summary probes_after)"

metrics=$(curl -s "http://127.0.0.1:$admin/metrics")
echo "$metrics" | grep '^patients_gateway_connections_ended_total' | sed 's/^/# /' || true
assert_match "shed connections are counted" "$metrics" 'patients_gateway_connections_ended_total\{reason="shed"\} [1-9]'

# Deadlines, not idle timers: a head trickling a byte every 0.5 s is cut at
# --head-timeout-s (10), a body doing the same after --body-grace-s (10) at
# --body-min-rate (4096 B/s); the idle timer (30 s) never fired for either.
cut=$(python3 "$PATIENTS_SRC/tests/lib/flood.py" trickle --port "$port" --key ak_0211 --secret s3cret)
echo "# trickling clients cut after: $cut"
within() { python3 -c "import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print('yes' if v is not None and 9 <= v <= 16 else 'no: %s' % v)" "$cut" "$1"; }
assert_eq "a trickling head is cut at its 10 s deadline" "$(within head_cut_s)" yes
assert_eq "a trickling body is cut once under the minimum rate" "$(within body_cut_s)" yes
metrics=$(curl -s "http://127.0.0.1:$admin/metrics")
assert_match "counted as head_timeout" "$metrics" 'patients_gateway_connections_ended_total\{reason="head_timeout"\} 1'
assert_match "and body_too_slow" "$metrics" 'patients_gateway_connections_ended_total\{reason="body_too_slow"\} 1'
assert_match "logged as such" "$(cat "$STACK_DIR/gw0211.log")" 'status=aborted tenant=acme patients=0 duration_ms=[0-9.]* end=body_too_slow'
wait_for "every flood connection is gone in the end" 15 1 \
	sh -c "curl -s http://127.0.0.1:$admin/metrics | grep -c '^patients_gateway_connections 0\$'"
assert_eq "same process" "$(cat "$STACK_DIR/gw0211.daemon.pid")" "$pid"
stop_daemon gw0211
assert_eq "no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/gw0211.log" || true)" 0
