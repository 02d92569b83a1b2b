# Batches larger than the worker's per-partition fetch limit
# (max.partition.fetch.bytes 256 KiB), up to about the largest the gateway
# takes (a 1 MiB body, near fetch.max.bytes), uncompressed, in one partition
# between small ones: each is still fetched whole and applied, in order.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"

topic=it0109
new_topic $topic 1
new_topic $topic.dlq 1
fresh_db it0109

# 1000 patients with every text field near its 255-byte limit: close to
# the largest body the gateway takes (1 MiB).
largest() { # SEQ
	awk -v seq="$1" 'function rep(c, n,   s) { s = ""; while (n-- > 0) s = s c; return s }
	BEGIN {
		printf "{\"v\":1,\"tenant\":\"big\",\"request_id\":\"%08x-%04x-7000-8000-%012x\",", int(seq / 65536), seq % 65536, seq
		printf "\"received_at\":\"2026-11-25T10:00:00.000Z\",\"body\":{\"patients\":["
		for (i = 0; i < 1000; i++) {
			if (i) printf ","
			printf "{\"code\":\"%s%05d\",\"first_name\":\"%s\",\"last_name\":\"%s\",", rep("C", 245), i, rep("F", 250), rep("L", 250)
			printf "\"gender\":\"female\",\"birthdate\":\"1990-01-01\",\"email\":\"%s%05d@example.com\"}", rep("e", 55), i
		}
		printf "]}}\n"
	}'
}
long_tag=$(printf 'x%.0s' $(seq 200))
{
	printf 'acme:'; envelope acme 1 2026-11-25T10:00:00.000Z 0 10 small
	printf 'big:'; largest 2
	printf 'acme:'; envelope acme 3 2026-11-25T10:00:01.000Z 100 1000 "$long_tag"
	printf 'acme:'; envelope acme 4 2026-11-25T10:00:02.000Z 5000 10 small
} >"$STACK_DIR/0109.jsonl"
assert_eq "the largest batch is over 900 kB" "$(sed -n 2p "$STACK_DIR/0109.jsonl" | wc -c | awk '{ print ($1 > 900000) ? "yes" : $1 }')" "yes"
assert_eq "the long-name batch is over 256 KiB" "$(sed -n 3p "$STACK_DIR/0109.jsonl" | wc -c | awk '{ print ($1 > 262144) ? "yes" : $1 }')" "yes"
kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -K: -X compression.codec=none \
	-X message.max.bytes=4000000 <"$STACK_DIR/0109.jsonl"

out=$("$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g --exit-at-end 2>"$STACK_DIR/0109.log")
assert_match "all four applied, none dead-lettered" "$out" "^applied 4 batches, 2020 patients .*, 0 sent to the DLQ"
assert_eq "in order" "$(sql "select string_agg(kafka_offset::text, ',' order by applied_at, kafka_offset) from patient_batches")" "0,1,2,3"
assert_eq "every patient there" "$(sql "select count(*) from patients")" "2020"
assert_eq "the largest batch's fields intact" "$(sql "select count(*) from patients where tenant = 'big' and length(first_name) = 250 and length(last_name) = 250 and length(code) = 250")" "1000"
