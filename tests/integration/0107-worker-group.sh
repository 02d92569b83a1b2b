# Three workers in one group, one stopped mid-stream: every batch applied
# exactly once, by the survivors taking over its partitions.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"

topic=it0107
new_topic $topic 12
new_topic $topic.dlq 1
fresh_db it0107
produce() { # FROM TO
	for ((b = $1; b < $2; b++)); do
		printf 't%d:' $((b % 12))
		envelope "t$((b % 12))" $((b + 1)) 2026-11-24T10:00:00.000Z $((b * 10)) 10 "b$b"
	done | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -K:
}
for w in a b c; do
	start_daemon w0107$w "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group trio
done
# Produce only once the group has settled with all three, or the first to
# join could apply everything alone.
holders() { for w in a b c; do grep -q event=partition_assigned "$STACK_DIR/w0107$w.log" && echo $w; done | wc -l; }
wait_for "all three hold partitions" 60 3 holders
sleep 2 # a cooperative rebalance takes a second round
produce 0 60
wait_for "first 60 batches applied" 90 60 sql "select count(*) from patient_batches"
stop_daemon w0107b && rc=0 || rc=$?
assert_eq "the stopped worker exited 0" "$rc" "0"
produce 60 120
wait_for "the other two apply the rest" 90 120 sql "select count(*) from patient_batches"
assert_eq "each batch exactly once" "$(sql 'select count(*), count(distinct request_id) from patient_batches')" "120|120"
assert_eq "all patients" "$(sql 'select count(*) from patients')" "1200"
assert_match "more than one worker did the work" "$(grep -l event=batch_applied "$STACK_DIR"/w0107?.log | wc -l)" '^[23]$'
stop_daemon w0107a
stop_daemon w0107c
