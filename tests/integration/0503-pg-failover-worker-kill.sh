# Both at once: asynchronous standby, replication cut, primary killed -9
# under load and, during the failover, the worker too; a new worker starts
# while no node accepts writes, then the standby is promoted. The new
# worker must start each partition where the new primary's consumer_offsets
# say and re-apply the dropped batches: 0 lost, 0 twice, the table as the
# accepted requests make it. The worker's conninfo names the two nodes'
# Unix socket folders (host=/a/sock,/b/sock).
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/failover.sh"

fo_setup 0503 async
# A killed member holds its partitions until its session times out: the
# broker's minimum, so the new worker gets them within seconds.
worker=("$WORKER_BIN" --topic "$FO_TOPIC" --dlq-topic "$FO_TOPIC.dlq" --group g0503 --retry-max-ms 1000
	-X session.timeout.ms=6000
	--db "host=$HA_A_SOCK,$HA_B_SOCK port=$HA_A_PORT,$HA_B_PORT dbname=patients user=postgres target_session_attrs=read-write")
start_daemon w0503 "${worker[@]}"
fo_load_start

fo_cut_then_kill
kill -KILL "$(cat "$STACK_DIR/w0503.daemon.pid")"
wait "$(cat "$STACK_DIR/w0503.daemon.pid")" 2>/dev/null || true
echo "ok - worker killed -9"
start_daemon w0503 "${worker[@]}"
sleep 2
fo_failover b "$STACK_DIR/w0503.log"
fo_settle b w0503

stack_ha_inspect "$FO" a
fo_dropped a b
fo_sqlstates "$STACK_DIR/w0503.log"
assert_match "the failover dropped batches (the test tested something)" "$FO_DROPPED" '^[1-9][0-9]*$'
fo_check b
assert_eq "the worker re-applied every dropped batch" "$FO_REAPPLIED" "$FO_DROPPED"
