# The replicated, authenticated cluster (tests/lib/cluster.sh): both daemons
# reach it over SASL_SSL with their own SCRAM users, their passwords read
# from --kafka-props-file, and a PUT becomes rows in PostgreSQL. The ACLs
# hold: with the gateway's credentials kcat cannot read the topic, with the
# worker's it cannot write it (and each can do what it must). The password
# is in no ps line, no log line, no /metrics.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/cluster_it.sh"

cluster_it_up
topic=$CLUSTER_TOPIC
. "$CLUSTER_DIR/users"

# ACLs first, with kcat (librdkafka, like the daemons).
out=$(timeout 30 kcat -F "$GW_PROPS" -b "$CLUSTER_BROKERS" -C -t $topic -p 0 -o beginning -e 2>&1) && rc=0 || rc=$?
assert_match "gateway's user cannot read $topic" "$rc $out" '^[1-9][0-9]* .*(authoriz|Authoriz)'
out=$(echo acl-probe | timeout 30 kcat -F "$WK_PROPS" -b "$CLUSTER_BROKERS" -P -t $topic -p 0 2>&1) && rc=0 || rc=$?
assert_match "worker's user cannot write $topic" "$rc $out" '^[1-9][0-9]* .*(authoriz|Authoriz)'
out=$(echo acl-probe | timeout 30 kcat -F "$GW_PROPS" -b "$CLUSTER_BROKERS" -P -t $topic.dlq -p 0 2>&1) && rc=0 || rc=$?
assert_match "gateway's user cannot write the DLQ" "$rc $out" '^[1-9][0-9]* .*(authoriz|Authoriz)'
# The positive side, so the refusals above are the ACLs and not a broken
# setup. Each broker applies a new ACL when it reads the metadata log, at
# its own pace, so the partition's leader may lack it for a moment after
# the cluster came up: this write failed once, on a freshly started
# cluster, and passed on the next run. It may be retried for 30 s.
dlq_write() {
	echo acl-probe | timeout 10 kcat -F "$WK_PROPS" -b "$CLUSTER_BROKERS" -P -t $topic.dlq -p 0 \
		>"$STACK_DIR/0701.dlq-write" 2>&1 && echo written || tail -n 2 "$STACK_DIR/0701.dlq-write"
}
wait_for "worker's user writes the DLQ" 30 written dlq_write
assert_eq "the probe is on the DLQ (read as admin)" \
	"$(timeout 30 kcat -F "$(cluster_props "$CLUSTER_DIR" admin)" -b "$CLUSTER_BROKERS" -C -t $topic.dlq -p 0 -o -1 -c 1 -e -q 2>/dev/null)" acl-probe
out=$(timeout 30 kcat -F "$WK_PROPS" -b "$CLUSTER_BROKERS" -C -t $topic -p 0 -o beginning -e -q 2>&1 >/dev/null) && rc=0 || rc=$?
assert_eq "worker's user reads $topic" "$rc $(echo "$out" | grep -ci authoriz || true)" "0 0"

# The daemons, over SASL_SSL; the worker only takes what is sent from now on
# (the topic is shared by the 07NN scenarios).
fresh_db it0701
start_daemon w0701 "$WORKER_BIN" --brokers "$CLUSTER_BROKERS" --kafka-props-file "$WK_PROPS" \
	--topic $topic --dlq-topic $topic.dlq --group g0701 --from-time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	--admin-listen 127.0.0.1:0
port=$(gw_port 28701)
admin=$(gw_port 28711)
keys=$STACK_DIR/0701.keys
rm -f "$keys"
gw_key "$keys" t0701 ak_0701 s3cret
gw_start gw0701 "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" --brokers "$CLUSTER_BROKERS" \
	--kafka-props-file "$GW_PROPS" --topic $topic --publish-timeout-ms 10000
url=http://127.0.0.1:$port/v1/patients
gw_put "$url" ak_0701 s3cret "$(gw_body 0 20 A)"
assert_eq "PUT over the SASL_SSL cluster: 200" "$GW_STATUS" 200
rid=$(gw_header X-Request-Id)
wait_for "the batch is in PostgreSQL" 60 1 sql "select count(*) from patient_batches where request_id = '$rid'"
assert_eq "its 20 patients" "$(sql "select count(*) from patients where tenant = 't0701'")" 20

# Secrets: not in ps, the logs, the metrics.
# (The pattern comes from a file descriptor: on grep's command line it
# would be in ps itself.)
for u in gateway worker; do
	pw=PW_$u
	assert_eq "$u's password not in ps" "$(ps -eww -o args | grep -c -F -f <(printf '%s\n' "${!pw}") || true)" 0
	assert_eq "$u's password not in the logs" \
		"$(cat "$STACK_DIR"/gw0701.log "$STACK_DIR"/w0701.log | grep -c -F -f <(printf '%s\n' "${!pw}") || true)" 0
done
assert_eq "password not in /metrics" \
	"$(curl -s "http://127.0.0.1:$admin/metrics" | grep -c -F -f <(printf '%s\n' "$PW_gateway") || true)" 0

stop_daemon gw0701
stop_daemon w0701 || true
assert_eq "no sanitizer report" "$(cat "$STACK_DIR"/gw0701.log "$STACK_DIR"/w0701.log | grep -c 'Sanitizer\|runtime error' || true)" 0
