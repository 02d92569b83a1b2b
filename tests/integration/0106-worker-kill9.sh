# kill -9 of the worker at random points during 200 batches, restarted each
# time: the final table equals the one an undisturbed worker builds, and
# patient_batches holds each request id once.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"

topic=it0106
new_topic $topic 6
new_topic $topic.dlq 1
# 200 batches of 400 over 6 tenants, overlapping codes so order matters.
# Big enough that a batch takes milliseconds: with small ones the worker
# ran through dozens between two looks at the table, and the kills no
# longer landed mid-stream often enough.
for ((b = 0; b < 200; b++)); do
	printf 't%d:' $((b % 6))
	envelope "t$((b % 6))" $((b + 1)) "2026-11-24T10:$(printf %02d $((b / 60))):$(printf %02d $((b % 60))).000Z" $(((b / 6) * 200)) 400 "b$b"
done | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -K:

fresh_db it0106ref
"$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group ref --exit-at-end >/dev/null 2>"$STACK_DIR/0106-ref.log"
expected=$(table_digest)
assert_eq "reference run applied all 200" "$(sql 'select count(*) from patient_batches')" "200"

fresh_db it0106
kills=0
# A killed member holds its partitions until its session times out: the
# broker's minimum, so each round costs seconds, not the default 45.
fast=(-X session.timeout.ms=6000)
for ((round = 0; round < 12; round++)); do
	[ "$(sql 'select count(*) from patient_batches')" = 200 ] && break
	start_daemon w0106 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group crashy "${fast[@]}"
	# Killed a random number of batches further on (or, now and then, while
	# still starting), so the kills land mid-stream however fast it runs.
	target=$(($(sql 'select count(*) from patient_batches') + RANDOM % 25))
	for ((i = 0; i < 300; i++)); do
		[ "$(sql 'select count(*) from patient_batches')" -ge "$target" ] && break
		sleep 0.05
	done
	kill -KILL "$(cat "$STACK_DIR/w0106.daemon.pid")" 2>/dev/null && kills=$((kills + 1))
	wait "$(cat "$STACK_DIR/w0106.daemon.pid")" 2>/dev/null || true
	rm -f "$STACK_DIR/w0106.daemon.pid"
done
echo "# killed $kills times"
# The last one runs to the end undisturbed.
"$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group crashy "${fast[@]}" --exit-at-end >/dev/null 2>>"$STACK_DIR/w0106.log"
assert_match "killed at least 3 times" "$kills" '^([3-9]|[1-9][0-9])$'
assert_eq "every batch applied once" "$(sql 'select count(*), count(distinct request_id) from patient_batches')" "200|200"
assert_eq "table equals the undisturbed run's" "$(table_digest)" "$expected"
# Batches of one partition are applied one after the other, in offset order
# (a batch's applied_at is its transaction's start): none began before the
# one before it in its partition.
assert_eq "each partition applied in offset order" \
	"$(sql "select count(*) from (select kafka_offset, lag(kafka_offset) over (partition by partition order by applied_at, kafka_offset) as prev from patient_batches) x where prev > kafka_offset")" "0"
