# ACLs hold for the DLQ too: a worker whose user may not write the DLQ
# topic waits at a poison batch, as 0108 specifies for a missing DLQ topic:
# nothing past it is applied, its offset stays, and the log says why
# (authorization, never a secret). Once the ACL is granted (kafka-acls,
# no restart), the poison batch reaches the DLQ and the batches after it
# are applied, each exactly once.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/cluster_it.sh"

cluster_it_up
topic=$CLUSTER_TOPIC dlq=$CLUSTER_TOPIC.dlq tag=0706
. "$CLUSTER_DIR/users"
acl_write_dlq() { # add|remove
	cluster_tool "$CLUSTER_DIR" kafka.admin.AclCommand --bootstrap-server "$CLUSTER_BROKERS" \
		--command-config "$CLUSTER_DIR/admin.java.properties" "--$1" --force \
		--allow-principal User:worker --operation Write --topic "$dlq" >>"$STACK_DIR/$tag.acl.log" 2>&1
}
# Whatever happens below, the next scenario finds the ACLs of cluster_grant.
trap 'acl_write_dlq add || true' EXIT
acl_write_dlq remove
end_offset() { # PARTITION (the next offset written there)
	cluster_kcat "$CLUSTER_DIR" -Q -t "$1" 2>/dev/null | sed -n 's/.* offset \([0-9]*\)$/\1/p'
}
poison=$(end_offset "$topic:0:-1")
dlq_from=$(end_offset "$dlq:0:-1")
echo "# poison at partition 0 offset $poison; DLQ from offset $dlq_from"

fresh_db it$tag
wadmin=$(gw_port 28746)
start_daemon w$tag "$WORKER_BIN" --brokers "$CLUSTER_BROKERS" --kafka-props-file "$(cluster_props "$CLUSTER_DIR" worker)" \
	--topic $topic --dlq-topic $dlq --group g$tag --from-time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	--retry-max-ms 2000 --admin-listen "127.0.0.1:$wadmin"
t0=$SECONDS
{
	printf 't0706:%s\n' 'this is not json'
	printf 't0706:'; envelope t0706 1 2026-12-01T10:00:00.000Z 1 2 after-poison
	printf 't0706:'; envelope t0706 2 2026-12-01T10:00:01.000Z 3 2 after-poison
} | cluster_kcat "$CLUSTER_DIR" -P -t $topic -p 0 -K:
{ printf 'u0706:'; envelope u0706 3 2026-12-01T10:00:00.000Z 10 2 other; } |
	cluster_kcat "$CLUSTER_DIR" -P -t $topic -p 1 -K:

wait_for "the other partition's batch applied" 90 1 \
	sql "select count(*) from patient_batches where tenant = 'u0706'"
# (The DLQ producer is idempotent: a user with Write on no topic is refused
# its producer id, CLUSTER_AUTHORIZATION_FAILED, and the producer is dead
# for good; each retry makes a new one.)
wait_for "the cause logged: authorization" 60 1 \
	bash -c "grep -c 'event=dlq_[a-z_]* .*AUTHORIZATION_FAILED' '$STACK_DIR/w$tag.log' | sed 's/^[1-9][0-9]*$/1/'"
grep 'event=dlq_' "$STACK_DIR/w$tag.log" | head -n 3 | sed 's/^/# /'
sleep 3 # a few more retries
assert_eq "nothing past the poison applied" "$(sql "select count(*) from patient_batches where tenant = 't0706'")" 0
assert_eq "no offset stored for the poison's partition" \
	"$(sql "select count(*) from consumer_offsets where group_id = 'g$tag' and partition = 0")" 0
assert_eq "not logged as dead-lettered" "$(grep -c 'event=batch_dead_lettered' "$STACK_DIR/w$tag.log" || true)" 0
assert_match "it retries, and says so" "$(grep 'event=batch_retry' "$STACK_DIR/w$tag.log" | tail -n 1)" \
	"partition=0 offset=$poison attempt="
retries=$(curl -s "http://127.0.0.1:$wadmin/metrics" | sed -n 's/^patients_worker_retries_total \([0-9]*\).*/\1/p')
echo "# patients_worker_retries_total=$retries while stuck"
assert_match "the retries metric shows it" "$retries" '^[1-9]'
assert_eq "worker's password not in the log" \
	"$(grep -c -F -f <(printf '%s\n' "$PW_worker") "$STACK_DIR/w$tag.log" || true)" 0

granted=$(date +%s%N)
acl_write_dlq add
trap - EXIT
wait_for "after the grant: the batches after the poison applied" 90 2 \
	sql "select count(*) from patient_batches where tenant = 't0706'"
echo "# unstuck $(( ($(date +%s%N) - granted) / 1000000 )) ms after kafka-acls --add returned"
assert_eq "the poison on the DLQ once, with its origin" \
	"$(cluster_kcat "$CLUSTER_DIR" -C -t $dlq -p 0 -o "$dlq_from" -e -q -f '%h\n' | grep -c "source.partition=0,source.offset=$poison$" || true)" 1
assert_match "logged as dead-lettered" "$(cat "$STACK_DIR/w$tag.log")" \
	"event=batch_dead_lettered partition=0 offset=$poison class=undecodable"
assert_eq "each batch applied once" "$(grep -o 'event=batch_applied request_id=[^ ]*' "$STACK_DIR/w$tag.log" | sort | uniq -d | wc -l)" 0
assert_eq "the offset moved past them" \
	"$(sql "select next_offset from consumer_offsets where group_id = 'g$tag' and partition = 0")" $((poison + 3))
assert_eq "their patients" "$(sql "select count(*) from patients where tenant = 't0706'")" 4
assert_eq "the worker is still the first process" "$(kill -0 "$(cat "$STACK_DIR/w$tag.daemon.pid")" && echo yes)" yes
stop_daemon w$tag
echo "# 0706 took $((SECONDS - t0))s after the cluster was up"
assert_eq "no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/w$tag.log" || true)" 0
