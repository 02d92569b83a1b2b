# Poison goes to the DLQ with its reason and origin in headers, and the
# partition moves on: a malformed message, an invalid batch and a batch that
# breaks a database constraint, each followed by a good batch.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"

topic=it0103
new_topic $topic 1
new_topic $topic.dlq 1
fresh_db it0103
# A rule the DBA added that validation knows nothing of: SQLSTATE 23514.
sql "ALTER TABLE patients ADD CONSTRAINT no_blocked_codes CHECK (code <> 'p666')"
{
	printf 'acme:%s\n' 'this is not json'
	printf 'acme:'; envelope acme 1 2026-11-24T10:00:00.000Z 1 2 good1
	printf 'acme:'; envelope acme 2 2026-11-24T10:00:01.000Z 10 2 bad | sed 's/"birthdate":"[0-9-]*"/"birthdate":"2023-02-29"/'
	printf 'acme:'; envelope acme 3 2026-11-24T10:00:02.000Z 20 2 good2
	printf 'acme:'; envelope acme 4 2026-11-24T10:00:03.000Z 665 2 blocked
	printf 'acme:'; envelope acme 5 2026-11-24T10:00:04.000Z 30 2 good3
} | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -K:

out=$("$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g --exit-at-end 2>"$STACK_DIR/0103.log")
assert_match "three applied, three dead-lettered" "$out" "^applied 3 batches, 6 patients .*, 3 sent to the DLQ"
assert_eq "good batches applied, poison ones not" "$(sql "select string_agg(code, ',' order by code) from patients")" "p1,p2,p20,p21,p30,p31"
assert_eq "PostgreSQL offset is past everything" "$(sql "select next_offset from consumer_offsets where group_id='g'")" "6"

dlq=$(kcat -b "$PATIENTS_KAFKA_BROKERS" -C -t $topic.dlq -e -q -f '%o|%k|%h\n')
assert_eq "three messages on the DLQ" "$(echo "$dlq" | wc -l)" "3"
assert_match "malformed: class and origin" "$(echo "$dlq" | sed -n 1p)" \
	'^0\|acme\|error\.class=undecodable,error\.message=[^,]+,source\.topic=it0103,source\.partition=0,source\.offset=0$'
assert_match "invalid batch: names the field" "$(echo "$dlq" | sed -n 2p)" \
	'error\.class=invalid,error\.message=[^,]*birthdate[^,]*,source\.topic=it0103,source\.partition=0,source\.offset=2$'
assert_match "constraint: SQLSTATE 23514" "$(echo "$dlq" | sed -n 3p)" \
	'error\.class=sql,error\.message=SQLSTATE 23514[^,]*,source\.topic=it0103,source\.partition=0,source\.offset=4$'
assert_eq "the original value, byte for byte" \
	"$(kcat -b "$PATIENTS_KAFKA_BROKERS" -C -t $topic.dlq -o 0 -c 1 -e -q -f '%s')" "this is not json"
