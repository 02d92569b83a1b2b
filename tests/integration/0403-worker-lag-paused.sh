# patients_worker_consumer_lag keeps counting while PostgreSQL is away and
# the worker has paused its partitions: librdkafka's statistics stop
# refreshing a paused partition's high watermark, so the worker asks the
# broker. More batches than the appliers' queues hold (2 x 128) arrive
# first, so the consumer holds one and pauses after 10 s; then 200 more
# arrive, which the lag must count; it falls back to 0 once PostgreSQL is
# back and everything is applied.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

topic=it0403
new_topic $topic 2
new_topic $topic.dlq 1
fresh_db it0403
wadmin=$(gw_port 28403)
wm=http://127.0.0.1:$wadmin/metrics
produce() { # FROM TO: one-patient batches, alternating tenants (both partitions)
	for ((b = $1; b < $2; b++)); do
		printf 't%d:' $((b % 2))
		envelope "t$((b % 2))" $((b + 1)) 2026-11-24T10:00:00.000Z "$b" 1 "b$b"
	done | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -K:
}
lag() { # the sum over the partitions' series, empty when there are none
	curl -s "$wm" | awk '/^patients_worker_consumer_lag\{/ { s += $2; n++ } END { if (n) print s }'
}
db() { # allow|refuse this scenario's database
	psql -X -q -d postgres -c "alter database it0403 allow_connections $([ "$1" = allow ] && echo true || echo false)" \
		-c "select pg_terminate_backend(pid) from pg_stat_activity where datname = 'it0403' and pid <> pg_backend_pid()" >/dev/null
}

produce 0 10
start_daemon w0403 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g0403 \
	--retry-max-ms 1000 --admin-listen "127.0.0.1:$wadmin"
wait_for "first 10 batches applied" 60 10 sql "select count(*) from patient_batches"
wait_for "lag 0 once they are" 30 0 lag

start=$SECONDS
db refuse
produce 10 310
wait_for "the worker paused its partitions (queues full for 10 s)" 90 yes \
	sh -c "grep -q event=consumption_paused '$STACK_DIR/w0403.log' && echo yes"
wait_for "lag: the 300 batches waiting" 30 300 lag
produce 310 510
wait_for "lag keeps counting while paused: 500 (nothing applied)" 30 500 lag
echo "# lag followed the paused partitions $((SECONDS - start)) s into the outage"

db allow
wait_for "all 510 batches applied after the outage" 120 510 sql "select count(*) from patient_batches"
wait_for "lag back to 0" 30 0 lag
assert_match "and it resumed its partitions" "$(cat "$STACK_DIR/w0403.log")" "event=consumption_resumed"
stop_daemon w0403 && rc=0 || rc=$?
assert_eq "SIGTERM: clean exit" "$rc" "0"
assert_eq "no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/w0403.log" || true)" 0
