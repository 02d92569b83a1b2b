# Bounded bookkeeping: --prune-batches-older-than deletes old patient_batches
# rows and --prune-group a finished backfill group's offsets, as the
# migrator, without breaking exactly-once: the live group's offsets are
# refused and kept, a restarted worker applies only the new batches, the
# pruned batches are not applied again and the table is unchanged.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/stack.sh"

topic=it0123
new_topic $topic 4
new_topic $topic.dlq 1
fresh_db it0123
produce() { # FROM TO
	for ((b = $1; b < $2; b++)); do
		printf 't%d:' $((b % 4))
		envelope "t$((b % 4))" $((b + 1)) 2026-11-24T10:00:00.000Z $((b * 10)) 10 "b$b"
	done | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -K:
}
w() { "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq "$@"; }
migrator() { PATIENTS_DB=user=patients_migrator "$@"; }

produce 0 30
start_daemon w0123 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group live
wait_for "30 batches applied by the live group" 60 30 sql "select count(*) from patient_batches"
out=$(w --group backfill-1 --from-beginning --exit-at-end 2>"$STACK_DIR/0123-b1.log")
assert_match "a backfill group re-applied them (no row changed)" "$out" "^applied 30 batches, 300 patients \(0 rows written\)"
live_offsets=$(sql "select string_agg(partition || ':' || next_offset, ',' order by partition) from consumer_offsets where group_id = 'live'")
digest=$(table_digest)
old_digest() { sql "select md5(string_agg(concat_ws('|', tenant, code, first_name, received_at, request_id), ',' order by tenant, code)) from patients where substr(code, 2)::int < 300"; }
digest_old=$(old_digest)
nb=$(sql "select count(*) from consumer_offsets where group_id = 'backfill-1'")
# Age what the test needs aged: the first 20 batches, the backfill's offsets.
sql "update patient_batches set applied_at = now() - interval '40 days' where kafka_offset < 5" >/dev/null
old=$(sql "select count(*) from patient_batches where applied_at < now() - interval '30 days'")
sql "update consumer_offsets set updated_at = now() - interval '2 days' where group_id = 'backfill-1'" >/dev/null

rc=0
msg=$(migrator w --group live --prune-group live 2>&1) || rc=$?
assert_eq "the live group (--group) is refused" "$rc" "1"
assert_match "saying why" "$msg" "live group"
rc=0
msg=$(migrator w --group live --prune-group backfill-0 2>&1) || rc=$?
assert_eq "a group with no offsets: nothing to do" "$rc" "0"
rc=0
msg=$(w --group live --prune-batches-older-than 30d 2>&1) || rc=$?
assert_eq "the worker role may not prune" "$rc" "1"
assert_match "permission denied" "$msg" "permission denied"
rc=0
msg=$(migrator w --group live --prune-batches-older-than 30 2>&1) || rc=$?
assert_eq "a duration needs a unit" "$rc" "2"

out=$(migrator w --group live --prune-batches-older-than 30d --prune-group backfill-1 2>"$STACK_DIR/0123-prune.log")
assert_match "prune reports the batch records it deleted" "$out" "pruned $old patient_batches rows applied before "
assert_match "and the offsets" "$out" "pruned $nb consumer_offsets rows of group backfill-1"
assert_eq "old batch records gone, the rest kept" "$(sql 'select count(*), min(kafka_offset) >= 5 from patient_batches')" "$((30 - old))|t"
assert_eq "backfill-1's offsets gone" "$(sql "select count(*) from consumer_offsets where group_id = 'backfill-1'")" "0"
assert_eq "the live group's offsets untouched" \
	"$(sql "select string_agg(partition || ':' || next_offset, ',' order by partition) from consumer_offsets where group_id = 'live'")" "$live_offsets"
assert_eq "patients untouched" "$(table_digest)" "$digest"
out=$(migrator w --group live --prune-batches-older-than 30d 2>/dev/null)
assert_match "pruning again: nothing left to prune" "$out" "^pruned 0 patient_batches rows"

# The live worker restarted: it resumes from its offsets and applies only
# the new batches; none of the pruned ones comes back.
stop_daemon w0123
before=$(grep -c event=batch_applied "$STACK_DIR/w0123.log")
produce 30 40
start_daemon w0123 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group live
wait_for "the 10 new batches applied" 60 $((40 - old)) sql "select count(*) from patient_batches"
sleep 2
assert_eq "no pruned batch applied again" "$(sql 'select count(*), count(distinct request_id), min(kafka_offset) >= 5 from patient_batches')" "$((40 - old))|$((40 - old))|t"
assert_eq "the old rows unchanged" "$(old_digest)" "$digest_old"
assert_eq "every patient there" "$(sql 'select count(*) from patients')" "400"
assert_eq "the live worker applied 10 batches after the restart" \
	"$(($(grep -c event=batch_applied "$STACK_DIR/w0123.log") - before))" "10"

# A group still being written is refused: it may be a running backfill.
out=$(w --group backfill-2 --from-beginning --exit-at-end 2>"$STACK_DIR/0123-b2.log")
assert_match "a replay with a new group writes no row" "$out" "^applied 40 batches, 400 patients \(0 rows written\)"
rc=0
msg=$(migrator w --group live --prune-group backfill-2 2>&1) || rc=$?
assert_eq "a group written in the last hour is refused" "$rc" "1"
assert_match "saying so" "$msg" "written in the last hour"
assert_eq "its offsets kept" "$(sql "select count(*) from consumer_offsets where group_id = 'backfill-2'")" "$(sql "select count(*) from consumer_offsets where group_id = 'live'")"
stop_daemon w0123
