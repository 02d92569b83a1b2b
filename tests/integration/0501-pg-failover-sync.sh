# Synchronous standby, primary killed -9 under load, standby promoted: every
# batch answered 200 is applied exactly once and the table is the one the
# accepted requests make. The worker reaches PostgreSQL through a libpq
# multi-host conninfo over TCP (host=127.0.0.1,127.0.0.1 port=A,B
# target_session_attrs=read-write) and follows the node that became primary.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/failover.sh"

fo_setup 0501 sync
start_daemon w0501 "$WORKER_BIN" --topic "$FO_TOPIC" --dlq-topic "$FO_TOPIC.dlq" --group g0501 --retry-max-ms 1000 \
	--db "host=127.0.0.1,127.0.0.1 port=$HA_A_PORT,$HA_B_PORT dbname=patients user=postgres target_session_attrs=read-write"
fo_load_start

fo_wait_batches a 60 60
stack_ha_kill "$FO" a
fo_failover b "$STACK_DIR/w0501.log"
fo_settle b w0501

stack_ha_inspect "$FO" a
fo_dropped a b
fo_sqlstates "$STACK_DIR/w0501.log"
# A commit the old primary flushed but the standby had not yet confirmed
# was never acknowledged to the worker, which retries it: at most one such
# batch per applier connection (2), and each applied again.
assert_match "synchronous: at most one unacknowledged commit per applier dropped" "$FO_DROPPED" '^[0-2]$'
fo_check b
assert_eq "the worker re-applied every dropped batch" "$FO_REAPPLIED" "$FO_DROPPED"
