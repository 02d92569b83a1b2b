# Older data never overwrites newer: a batch received earlier but produced
# later leaves the row as the newer batch wrote it; the request id breaks a
# tie in received_at.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"

topic=it0102
new_topic $topic 1
new_topic $topic.dlq 1
fresh_db it0102
{
	printf 'acme:'; envelope acme 20 2026-11-24T10:00:05.000Z 1 2 newer
	printf 'acme:'; envelope acme 10 2026-11-24T10:00:01.000Z 1 3 older   # p1,p2 older; p3 new
	printf 'acme:'; envelope acme 30 2026-11-24T10:00:05.000Z 4 1 tie-high
	printf 'acme:'; envelope acme 25 2026-11-24T10:00:05.000Z 4 1 tie-low # same time, lower id
} | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -K:

out=$("$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g --exit-at-end 2>"$STACK_DIR/0102.log")
assert_match "all four batches read" "$out" "^applied 4 batches, 7 patients \(4 rows written\)"
assert_eq "p1 keeps the newer batch" "$(sql "select first_name, request_id from patients where code='p1'")" \
	"José newer 1|00000000-0014-7000-8000-000000000014"
assert_eq "p2 keeps the newer batch" "$(sql "select first_name from patients where code='p2'")" "José newer 2"
assert_eq "p3, new in the older batch, is created" "$(sql "select first_name from patients where code='p3'")" "José older 3"
assert_eq "tie on received_at: higher request_id wins" "$(sql "select first_name from patients where code='p4'")" "José tie-high 4"
