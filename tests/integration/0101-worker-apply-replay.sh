# 50 batches from 5 tenants across 12 partitions land as exact rows; replaying
# the whole topic with a new group changes nothing, not even updated_at.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"

topic=it0101
new_topic $topic 12
new_topic $topic.dlq 1
fresh_db it0101

# Tenant t<k> gets batches of 20 codes; its batch j rewrites codes j*10..j*10+19,
# so every batch after the first updates 10 rows and creates 10.
for ((b = 0; b < 50; b++)); do
	t=$((b % 5)) j=$((b / 5))
	printf 't%d:' $t # the key: one tenant's batches stay in order in one partition
	envelope "t$t" $((b + 1)) "2026-11-24T10:00:$(printf %02d $j).000Z" $((j * 10)) 20 "b$b"
done | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -K:

out=$("$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g1 --exit-at-end 2>"$STACK_DIR/0101-w1.log")
assert_match "worker reports what it applied" "$out" "^applied 50 batches, 1000 patients"
assert_eq "rows: 5 tenants x 110 codes" "$(sql 'select count(*) from patients')" "550"
assert_eq "patient_batches: each batch once" "$(sql 'select count(*), count(distinct request_id) from patient_batches')" "50|50"
# Code p95 of t0 was last written by t0's batch 9 (b=45), whose first names say b45.
assert_eq "newest batch wins" "$(sql "select first_name, last_name, gender, birthdate, email from patients where tenant='t0' and code='p95'")" \
	"José b45 95|Núñez 95|male|1985-12-12|p95@example.com"
assert_eq "null last_name stays NULL" "$(sql "select last_name is null from patients where tenant='t1' and code='p3'")" "t"
assert_eq "absent email is NULL" "$(sql "select email is null from patients where tenant='t1' and code='p4'")" "t"
assert_eq "offsets recorded per partition" \
	"$(sql "select sum(next_offset) from consumer_offsets where group_id='g1' and topic='$topic'")" "50"

before=$(sql "select md5(string_agg(tenant||code||updated_at::text, ',' order by tenant, code)) from patients")
digest=$(table_digest)
out=$("$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group replay1 --from-beginning --exit-at-end 2>"$STACK_DIR/0101-w2.log")
assert_match "replay read every batch" "$out" "^applied 50 batches, 1000 patients \(0 rows written\)"
assert_eq "replay: same content" "$(table_digest)" "$digest"
assert_eq "replay: same updated_at" "$(sql "select md5(string_agg(tenant||code||updated_at::text, ',' order by tenant, code)) from patients")" "$before"
assert_eq "replay: no batch recorded twice" "$(sql 'select count(*) from patient_batches')" "50"
assert_eq "nothing dead-lettered" "$(kcat -b "$PATIENTS_KAFKA_BROKERS" -C -t $topic.dlq -e -q -f 'x\n' 2>/dev/null | wc -l)" "0"
