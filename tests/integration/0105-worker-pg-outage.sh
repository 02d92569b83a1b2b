# PostgreSQL stopped for 20 s mid-stream, then started again: the worker
# never exits, retries, and every batch is applied exactly once. 300
# batches arrive meanwhile, more than the appliers' queues take (128 each),
# so the consumer holds one, and after 10 s pauses its partitions to keep
# polling (group membership) without buffering more.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/stack.sh"

topic=it0105
new_topic $topic 4
new_topic $topic.dlq 1
fresh_db it0105
produce() { # FROM TO
	for ((b = $1; b < $2; b++)); do
		printf 't%d:' $((b % 4))
		envelope "t$((b % 4))" $((b + 1)) 2026-11-24T10:00:00.000Z $((b * 10)) 10 "b$b"
	done | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -K:
}

produce 0 20
start_daemon w0105 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g --retry-max-ms 2000
wait_for "first 20 batches applied" 60 20 sql "select count(*) from patient_batches"

stack_pg_down "$STACK_DIR"
produce 20 320
sleep 20
assert_eq "worker still running while PostgreSQL is down" "$(kill -0 "$(cat "$STACK_DIR/w0105.daemon.pid")" && echo alive)" "alive"
stack_pg_up "$STACK_DIR" >/dev/null

wait_for "all 320 batches applied after the outage" 90 320 sql "select count(*) from patient_batches"
produce 320 325
wait_for "and it goes on" 60 325 sql "select count(*) from patient_batches"
assert_eq "each batch exactly once" "$(sql 'select count(*), count(distinct request_id) from patient_batches')" "325|325"
assert_eq "every patient there" "$(sql 'select count(*) from patients')" "3250"
assert_match "the worker logged its retries" "$(cat "$STACK_DIR/w0105.log")" "event=batch_retry"
assert_match "it paused its partitions during the stall" "$(cat "$STACK_DIR/w0105.log")" "event=consumption_paused"
assert_match "and resumed them after" "$(cat "$STACK_DIR/w0105.log")" "event=consumption_resumed"
stop_daemon w0105 && rc=0 || rc=$?
assert_eq "SIGTERM: clean exit" "$rc" "0"
assert_match "left the group cleanly" "$(tail -n 3 "$STACK_DIR/w0105.log")" "event=worker_stopping batches="
