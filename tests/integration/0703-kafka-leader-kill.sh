# The node leading the partition being written is killed -9 under load
# (4 concurrent clients, 400 PUTs) on the 3-node SASL_SSL cluster (RF 3,
# min.insync.replicas 2, acks=all, idempotent producer). The gateway keeps
# answering (200, or 503 at its publish timeout, never a hang), the worker
# keeps applying; every 200 is in patient_batches once with its patients.
# 503'd batches may land anyway (Kafka had them, the answer came too late):
# counted, and allowed (README, "Production Kafka").
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/cluster_it.sh"

cluster_it_up
cluster_it_daemons 0703 28703 10000

# The tenant's partition (key = tenant) and its leader, from a first batch.
gw_put "$url" ak_$tag s3cret "$(gw_body 900000 1 first)"
assert_eq "first PUT: 200" "$GW_STATUS" 200
rid=$(gw_header X-Request-Id)
wait_for "first batch applied" 60 1 sql "select count(*) from patient_batches where request_id = '$rid'"
part=$(sql "select partition from patient_batches where request_id = '$rid'")
leader=$(cluster_leader "$CLUSTER_DIR" $topic "$part")
echo "# partition $part led by node $leader"

pids=()
for c in 0 1 2 3; do
	cluster_load_client $tag "$url" ak_$tag s3cret $c 100 &
	pids+=($!)
done
# Kill once the load is well under way.
for ((i = 0; i < 600; i++)); do
	[ "$(cat "$STACK_DIR/$tag".c* 2>/dev/null | wc -l)" -ge 80 ] && break
	sleep 0.1
done
fault=$(date +%s%N)
cluster_node_stop "$CLUSTER_DIR" "$leader" KILL
echo "# node $leader killed -9 after $(cat "$STACK_DIR/$tag".c* | wc -l) answers"
for p in "${pids[@]}"; do wait "$p"; done
new=$(cluster_leader "$CLUSTER_DIR" $topic "$part")
echo "# partition $part now led by node $new"
assert_match "a new leader took over" "$new" '^[1-3]$'
assert_eq "the new leader is another node" "$((new != leader))" 1

cluster_load_check $tag "$fault" "$STACK_DIR/w$tag.log"

# Leave the cluster whole for the next scenario.
cluster_node_start "$CLUSTER_DIR" "$leader"
cluster_wait_isr "$CLUSTER_DIR" $topic 180 || { echo "not ok - node $leader back in sync"; exit 1; }
echo "ok - node $leader back in sync"
stop_daemon gw$tag
stop_daemon w$tag || true
assert_eq "no sanitizer report" "$(cat "$STACK_DIR"/*$tag.log | grep -c 'Sanitizer\|runtime error' || true)" 0
