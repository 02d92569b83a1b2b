# Misconfigured clients of the SASL_SSL cluster: a wrong SASL password, a
# plaintext client on the TLS port, a CA that did not sign the brokers'
# certificates. Each daemon stays up, never becomes ready, says why in its
# log (naming the cause, never the password), and does not spin: a few
# lines and little CPU while it waits.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/cluster_it.sh"

cluster_it_up
topic=$CLUSTER_TOPIC
. "$CLUSTER_DIR/users"
fresh_db it0702
rm -f "$STACK_DIR"/*0702*.log
keys=$STACK_DIR/0702.keys
rm -f "$keys"
gw_key "$keys" t0702 ak_0702 s3cret
tick=$(getconf CLK_TCK)

# One props file per case, for USER's file: same lines with one changed.
mkprops() { # USER CASE
	local src=$CLUSTER_DIR/$1.props f=$STACK_DIR/0702-$1-$2.props
	case $2 in
	password) sed "s/^sasl.password=.*/sasl.password=wrong-$PW_gateway-pw/" "$src" ;;
	plaintext) grep -v '^security.protocol\|^sasl\|^ssl' "$src" ;;
	ca) sed "s|^ssl.ca.location=.*|ssl.ca.location=$CLUSTER_DIR/tls/other-ca.pem|" "$src" ;;
	esac >"$f"
	echo "$f"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# check NAME PID ADMIN_PORT CAUSE_REGEX: over 8 s the daemon lives, is not
# ready, logged the cause, wrote few lines and used little CPU.
check() {
	local name=$1 pid=$2 admin=$3 cause=$4 t0 c0 c1 lines
	sleep 4 # past start-up (ASan makes it slow)
	c0=$(cpu_ticks "$pid")
	t0=$SECONDS
	sleep 8
	c1=$(cpu_ticks "$pid")
	assert_eq "$name: still running" "$(kill -0 "$pid" 2>/dev/null && echo yes)" yes
	assert_eq "$name: /readyz not ready" "$(curl -s "http://127.0.0.1:$admin/readyz")" "not ready"
	# In a logfmt line of ours (librdkafka's raw stderr lines do not count:
	# journald and the log shippers parse logfmt).
	assert_eq "$name: a log line names the cause" \
		"$(grep -cE "^<[0-7]>ts=.*$cause" "$STACK_DIR/$name.log" | awk '{ print ($1 > 0) }')" 1
	lines=$(wc -l <"$STACK_DIR/$name.log")
	echo "# $name: $lines log lines, $((c1 - c0)) CPU ticks in $((SECONDS - t0))s"
	assert_eq "$name: no spin (under 200 log lines)" "$((lines < 200))" 1
	assert_eq "$name: no spin (under 30% of a core)" "$(((c1 - c0) * 100 < 30 * tick * (SECONDS - t0)))" 1
	assert_eq "$name: no password in the log" \
		"$(grep -c -F -f <(printf '%s\n' "$PW_gateway" "$PW_worker" "$PW_admin") "$STACK_DIR/$name.log" || true)" 0
	assert_eq "$name: no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/$name.log" || true)" 0
}

declare -A cause=(
	[password]='SASL authentication error.*invalid credentials'
	[plaintext]='incorrect security.protocol configuration \(connecting to a SSL listener\?\)'
	[ca]='certificate verify failed'
)
n=0
for c in password plaintext ca; do
	n=$((n + 1))
	admin=$(gw_port $((28720 + n)))
	port=$(gw_port $((28730 + n)))
	WAIT=healthz gw_start "gw0702$c" "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" \
		--brokers "$CLUSTER_BROKERS" --kafka-props-file "$(mkprops gateway $c)" --topic $topic
	wadmin=$(gw_port $((28740 + n)))
	start_daemon "w0702$c" "$WORKER_BIN" --brokers "$CLUSTER_BROKERS" --kafka-props-file "$(mkprops worker $c)" \
		--topic $topic --dlq-topic $topic.dlq --group g0702 --admin-listen "127.0.0.1:$wadmin"
	# Both at once: the 12 s of watching are shared.
	check "gw0702$c" "$(cat "$STACK_DIR/gw0702$c.daemon.pid")" "$admin" "${cause[$c]}" &
	gpid=$!
	check "w0702$c" "$(cat "$STACK_DIR/w0702$c.daemon.pid")" "$wadmin" "${cause[$c]}"
	wait $gpid
	gw_put "http://127.0.0.1:$port/v1/patients" ak_0702 s3cret "$(gw_body 0 2 A)" --max-time 30
	assert_eq "gateway ($c): a PUT is 503" "$GW_STATUS" 503
	stop_daemon "gw0702$c"
	stop_daemon "w0702$c" || true
done
assert_eq "nothing reached PostgreSQL" "$(sql 'select count(*) from patient_batches')" 0
