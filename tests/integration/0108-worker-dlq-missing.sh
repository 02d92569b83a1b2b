# The DLQ topic missing (a typo, or deleted): a poison batch waits and
# nothing is stored past it, while other partitions go on; a stop does not
# wait for the broker's 30 s delivery timeout; once the topic exists, the
# next start sends the batch there and moves on.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"

topic=it0108
new_topic $topic 2
fresh_db it0108
{
	printf 'acme:%s\n' 'this is not json'
	printf 'acme:'; envelope acme 1 2026-11-24T10:00:00.000Z 1 2 after-poison
} | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -p 0 -K:
{ printf 'beta:'; envelope beta 2 2026-11-24T10:00:00.000Z 10 2 other; } |
	kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -p 1 -K:

start_daemon w0108 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g --from-beginning \
	--db-connections 2
wait_for "the other partition's batch applied" 60 1 \
	sql "select count(*) from patient_batches where tenant = 'beta'"
sleep 2
assert_eq "nothing past the poison applied" \
	"$(sql "select count(*) from patient_batches where tenant = 'acme'")" "0"
assert_eq "no offset stored for the poison's partition" \
	"$(sql "select count(*) from consumer_offsets where group_id = 'g' and partition = 0")" "0"

t0=$(date +%s)
stop_daemon w0108 && rc=0 || rc=$?
t1=$(date +%s)
assert_eq "SIGTERM: clean exit" "$rc" "0"
# The DLQ send polls for a stop every 100 ms; it used to hold the stop for
# the whole delivery timeout (30 s) and the producer's flush (10 s).
assert_eq "the stop did not wait for the broker" "$([ $((t1 - t0)) -lt 10 ] && echo prompt)" "prompt"
assert_match "the poison batch was let go, not skipped" "$(cat "$STACK_DIR/w0108.log")" \
	"event=batch_abandoned partition=0 offset=0 reason=stopping"
assert_eq "not logged as dead-lettered" \
	"$(grep -c 'event=batch_dead_lettered' "$STACK_DIR/w0108.log" || true)" "0"

new_topic $topic.dlq 1
out=$("$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g --exit-at-end 2>>"$STACK_DIR/w0108.log")
assert_match "the restart sends it and moves on" "$out" "^applied 1 batches, 2 patients .*, 1 sent to the DLQ"
assert_eq "the batch after the poison applied" \
	"$(sql "select count(*) from patient_batches where tenant = 'acme'")" "1"
assert_eq "the poison on the DLQ once, with its origin" \
	"$(kcat -b "$PATIENTS_KAFKA_BROKERS" -C -t $topic.dlq -e -q -f '%h\n' | sed 's/.*source\.partition=\([0-9]*\),source\.offset=\([0-9]*\)$/\1:\2/')" "0:0"
