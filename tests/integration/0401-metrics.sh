# Both /metrics endpoints, scraped as Prometheus would: every family has its
# HELP and TYPE lines, histograms their buckets, and the counters move with
# the traffic (a batch through the gateway, a malformed message straight to
# the topic). The worker's /readyz follows PostgreSQL.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

topic=it0401
new_topic $topic 3
new_topic $topic.dlq 1
fresh_db it0401
port=$(gw_port 28040)
gadmin=$(gw_port 28140)
wadmin=$(gw_port 28240)
keys=$STACK_DIR/0401.keys
gw_key "$keys" acme ak_acme 'acme-secret'
gw_start gw0401 "$gadmin" --listen "127.0.0.1:$port" --keys-file "$keys" --topic $topic
start_daemon w0401 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g0401 \
	--admin-listen "127.0.0.1:$wadmin"
gm=http://127.0.0.1:$gadmin/metrics
wm=http://127.0.0.1:$wadmin/metrics
wait_for "worker /readyz" 30 ready curl -s "http://127.0.0.1:$wadmin/readyz"

# The value of one sample (NAME{LABELS} as printed), empty if absent.
sample() { # URL SERIES
	curl -s "$1" | awk -v s="$2" '$1 == s { print $2 }'
}

# Every family rendered has exactly one HELP and one TYPE line before its
# samples, and every sample belongs to a declared family.
check_format() { # DESCRIPTION URL
	local bad
	bad=$(curl -s "$2" | awk '
		/^# HELP / { help[$3]++; next }
		/^# TYPE / { type[$3] = $4; if (!($3 in help)) print "TYPE before HELP: " $3; next }
		/^#/ { next }
		{
			name = $1; sub(/\{.*/, "", name); fam = name
			if (!(fam in type)) { sub(/_(bucket|sum|count)$/, "", fam) }
			if (!(fam in type)) print "undeclared: " name
			if ($2 !~ /^-?[0-9.e+]+$|^NaN$|^[+-]Inf$/) print "bad value: " $0
		}
		END { for (h in help) if (help[h] != 1) print "HELP twice: " h }')
	assert_eq "$1: well-formed exposition" "$bad" ""
}

check_format "gateway" "$gm"
check_format "worker" "$wm"
for f in patients_gateway_requests_total patients_gateway_request_duration_seconds \
	patients_gateway_publish_duration_seconds patients_gateway_patients_published_total \
	patients_gateway_batches_inflight patients_gateway_kafka_up; do
	assert_match "gateway declares $f" "$(curl -s "$gm" | grep "^# TYPE $f ")" "^# TYPE $f (counter|gauge|histogram)$"
done
for f in patients_worker_batches_total patients_worker_patients_upserted_total \
	patients_worker_dlq_total patients_worker_retries_total patients_worker_batch_duration_seconds \
	patients_worker_consumer_lag patients_worker_db_up patients_worker_kafka_up \
	patients_worker_partitions_assigned; do
	assert_match "worker declares $f" "$(curl -s "$wm" | grep "^# TYPE $f ")" "^# TYPE $f (counter|gauge|histogram)$"
done
assert_eq "worker: nothing applied yet" "$(sample "$wm" 'patients_worker_batches_total{outcome="applied"}')" 0
assert_eq "worker: PostgreSQL up" "$(sample "$wm" patients_worker_db_up)" 1
assert_eq "worker: Kafka up" "$(sample "$wm" patients_worker_kafka_up)" 1

# Traffic: one 200 and one 401 through the gateway, one poison message.
gw_put "http://127.0.0.1:$port/v1/patients" ak_acme acme-secret "$(gw_body 0 25 m)"
assert_eq "PUT of 25 patients" "$GW_STATUS" 200
gw_put "http://127.0.0.1:$port/v1/patients" ak_acme wrong "$(gw_body 0 1 m)"
assert_eq "wrong secret" "$GW_STATUS" 401
printf 'not json\n' | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t $topic -p 0
wait_for "25 rows" 20 25 sql "select count(*) from patients"

assert_eq "gateway counts the 200" "$(sample "$gm" 'patients_gateway_requests_total{status="200"}')" 1
assert_eq "gateway counts the 401" "$(sample "$gm" 'patients_gateway_requests_total{status="401"}')" 1
assert_eq "gateway counts the patients published" "$(sample "$gm" patients_gateway_patients_published_total)" 25
assert_eq "gateway's publish histogram saw one batch" \
	"$(sample "$gm" 'patients_gateway_publish_duration_seconds_bucket{le="+Inf"}')" 1
wait_for "worker counts the poison batch" 20 1 sample "$wm" 'patients_worker_dlq_total{class="undecodable"}'
assert_eq "worker counts the applied batch" "$(sample "$wm" 'patients_worker_batches_total{outcome="applied"}')" 1
assert_eq "worker counts the dead-lettered batch" "$(sample "$wm" 'patients_worker_batches_total{outcome="dead_lettered"}')" 1
assert_eq "worker counts the patients" "$(sample "$wm" patients_worker_patients_upserted_total)" 25
assert_eq "worker's histogram saw the batch" "$(sample "$wm" patients_worker_batch_duration_seconds_count)" 1
assert_eq "worker owns the 3 partitions" "$(sample "$wm" patients_worker_partitions_assigned)" 3
# The lag comes from librdkafka's statistics (every 5 s): a series per
# partition, 0 once everything is applied.
wait_for "lag of partition 0 reported and 0" 20 0 sample "$wm" 'patients_worker_consumer_lag{partition="0"}'
assert_eq "a lag series for each partition" "$(curl -s "$wm" | grep -c '^patients_worker_consumer_lag{')" 3

# PostgreSQL refuses this database's connections: the worker says it is
# not ready (its batches would wait) but keeps running.
psql -X -q -d postgres -c "alter database it0401 allow_connections false" \
	-c "select pg_terminate_backend(pid) from pg_stat_activity where datname = 'it0401'" >/dev/null
gw_put "http://127.0.0.1:$port/v1/patients" ak_acme acme-secret "$(gw_body 100 5 m)"
assert_eq "PUT while PostgreSQL refuses" "$GW_STATUS" 200
wait_for "worker /readyz says not ready" 30 "not ready" curl -s "http://127.0.0.1:$wadmin/readyz"
assert_eq "worker: db_up 0" "$(sample "$wm" patients_worker_db_up)" 0
wait_for "worker counts retries" 20 yes sh -c "[ \"\$(curl -s $wm | awk '\$1 == \"patients_worker_retries_total\" { print \$2 }')\" -ge 1 ] && echo yes"
psql -X -q -d postgres -c "alter database it0401 allow_connections true" >/dev/null
wait_for "worker ready again" 60 ready curl -s "http://127.0.0.1:$wadmin/readyz"
wait_for "the batch arrives" 30 30 sql "select count(*) from patients"

stop_daemon w0401
stop_daemon gw0401
for d in w0401 gw0401; do
	assert_eq "$d: no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/$d.log" || true)" 0
done
