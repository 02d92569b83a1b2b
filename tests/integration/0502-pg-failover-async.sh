# Asynchronous standby, tail lost. Replication is cut first (primary_conninfo
# cleared on the standby), the primary goes on committing batches the
# standby never gets, then it is killed -9 and the standby promoted: the new
# primary is missing those batches, and its consumer_offsets are behind the
# worker's position. The worker (reaching PostgreSQL through PGHOST/PGPORT
# lists and PGTARGETSESSIONATTRS=read-write) must resume from what the new
# primary says and re-apply exactly the dropped batches from Kafka: 0 lost,
# 0 twice, the table as the accepted requests make it. On a worker that goes
# on from its own position the dropped batches stay lost (issue 13).
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/failover.sh"

fo_setup 0502 async
start_daemon w0502 env PGHOST="$HA_A_SOCK,$HA_B_SOCK" PGPORT="$HA_A_PORT,$HA_B_PORT" PGDATABASE=patients \
	PGUSER=postgres PGTARGETSESSIONATTRS=read-write \
	"$WORKER_BIN" --topic "$FO_TOPIC" --dlq-topic "$FO_TOPIC.dlq" --group g0502 --retry-max-ms 1000
fo_load_start

fo_cut_then_kill
fo_failover b "$STACK_DIR/w0502.log"
fo_settle b w0502

stack_ha_inspect "$FO" a
fo_dropped a b
fo_sqlstates "$STACK_DIR/w0502.log"
assert_match "the failover dropped batches (the test tested something)" "$FO_DROPPED" '^[1-9][0-9]*$'
fo_check b
assert_eq "the worker re-applied every dropped batch" "$FO_REAPPLIED" "$FO_DROPPED"
