# The offset fence (DESIGN.md s.4), without a standby: PostgreSQL is made to
# go back in time under a running worker, the way a failover to an
# asynchronous standby or a restore does it (the tail's batches and their
# offset gone), and then to go forward behind its back, the way another
# member that took the partition does. The worker must re-apply exactly what
# was dropped, and must not write what another member already moved past.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

topic=it0110
new_topic $topic 1
new_topic $topic.dlq 1
fresh_db it0110
# Batch b (offset b) writes codes p<b*10>..p<b*10+9>: every batch its own rows.
produce() { # FROM TO
	for ((b = $1; b < $2; b++)); do
		printf 't:'
		envelope t $((b + 1)) 2026-11-24T10:00:00.000Z $((b * 10)) 10 "b$b"
	done | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -K:
}
offset() { sql "select next_offset from consumer_offsets where group_id = 'g' and topic = '$topic'"; }

produce 0 10
wadmin=$(gw_port 28250)
start_daemon w0110 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g --retry-max-ms 1000 \
	--admin-listen "127.0.0.1:$wadmin"
wait_for "10 batches applied" 60 10 sql "select count(*) from patient_batches"

# Back in time: batches 4..9 and their offset are gone, as after promoting a
# standby that never received them. Kafka still has them.
sql "begin;
  delete from patients where request_id in (select request_id from patient_batches where kafka_offset >= 4);
  delete from patient_batches where kafka_offset >= 4;
  update consumer_offsets set next_offset = 4 where group_id = 'g' and topic = '$topic';
  commit;" >/dev/null
assert_eq "the database lost 6 batches" "$(sql "select count(*) from patient_batches")" "4"
produce 10 15
wait_for "the lost batches re-applied, and the new ones" 60 15 sql "select count(*) from patient_batches"
assert_eq "each batch once" "$(sql "select count(*), count(distinct request_id), min(kafka_offset), max(kafka_offset) from patient_batches")" "15|15|0|14"
assert_eq "every patient there" "$(sql "select count(*) from patients")" "150"
assert_eq "batch 6's rows are batch 6's" "$(sql "select first_name from patients where code = 'p65'")" "José b6 65"
wait_for "offset at 15" 30 15 offset
assert_match "the fence was logged" "$(cat "$STACK_DIR/w0110.log")" "event=offset_fence partition=0 offset=10 expected=10 stored=4 action=rewind"
assert_match "and the rewind" "$(cat "$STACK_DIR/w0110.log")" "event=partition_rewound topic=$topic partition=0 start=4 from=postgresql"

# Forward behind its back: another member applied up to offset 20 (its rows
# not shown here). This worker must not write 15..19, nor move the offset.
sql "update consumer_offsets set next_offset = 20 where group_id = 'g' and topic = '$topic'" >/dev/null
produce 15 21
wait_for "the batch after the other member's is applied" 60 1 sql "select count(*) from patient_batches where kafka_offset = 20"
assert_eq "nothing another member owned was written" "$(sql "select count(*) from patient_batches where kafka_offset between 15 and 19")" "0"
assert_eq "no rows of theirs" "$(sql "select count(*) from patients")" "160"
wait_for "offset at 21" 30 21 offset
assert_eq "worker still running" "$(kill -0 "$(cat "$STACK_DIR/w0110.daemon.pid")" && echo alive)" "alive"
assert_match "rewinds counted" "$(curl -s "http://127.0.0.1:$wadmin/metrics")" $'\npatients_worker_offset_rewinds_total [2-9]'

stop_daemon w0110 && rc=0 || rc=$?
assert_eq "SIGTERM: clean exit" "$rc" "0"
