# contrib/prometheus: promtool checks the rules and runs their unit tests
# (each alert once firing, once quiet), and checks the scrape example; then
# tests/contract/rules_check.py checks the conventions (for:, severity,
# summary, a runbook that is a README heading), that every alert has both
# tests, and that every metric and label value the rules name is one a real
# gateway and a real worker export on /metrics.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

dir=$PATIENTS_SRC/contrib/prometheus
assert_match "promtool is there (Debian's prometheus package)" "$(promtool --version 2>&1 | head -n 1)" '^promtool, version 2\.'
out=$(cd "$dir" && promtool check rules patients.rules.yml 2>&1) || { echo "$out"; exit 1; }
assert_match "promtool check rules" "$out" 'SUCCESS: [0-9]+ rules found'
out=$(cd "$dir" && promtool test rules patients.rules.test.yml 2>&1) || { echo "$out"; exit 1; }
assert_match "promtool test rules" "$out" 'SUCCESS'
out=$(cd "$dir" && promtool check config scrape.yml 2>&1) || { echo "$out"; exit 1; }
assert_match "promtool check config scrape.yml (with the rules)" "$out" 'is valid prometheus config file syntax'

# The unit tests can fail: the same tests against rules with one threshold off.
sed 's/patients_worker_db_up == 0/patients_worker_db_up == 1/' "$dir/patients.rules.yml" >"$STACK_DIR/patients.rules.yml"
cp "$dir/patients.rules.test.yml" "$STACK_DIR/"
rc=0
out=$(cd "$STACK_DIR" && promtool test rules patients.rules.test.yml 2>&1) || rc=$?
assert_eq "a wrong rule fails its tests" "$rc" 1
assert_match "... naming the alert" "$out" 'alertname: PatientsWorkerDatabaseDown'

# What the daemons really export.
topic=it0602
new_topic $topic 2
new_topic $topic.dlq 1
fresh_db it0602
port=$(gw_port 28620)
gadmin=$(gw_port 28621)
wadmin=$(gw_port 28622)
keys=$STACK_DIR/0602.keys
gw_key "$keys" acme ak_0602 s0602
gw_start gw0602 "$gadmin" --listen "127.0.0.1:$port" --keys-file "$keys" --topic $topic
start_daemon w0602 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g0602 \
	--admin-listen "127.0.0.1:$wadmin"
wait_for "worker ready" 30 ready curl -s "http://127.0.0.1:$wadmin/readyz"
# The lag family has samples only for assigned partitions.
wait_for "worker has its partitions" 30 2 sh -c \
	"curl -s http://127.0.0.1:$wadmin/metrics | awk '\$1 == \"patients_worker_partitions_assigned\" { print \$2 }'"
curl -s "http://127.0.0.1:$gadmin/metrics" >"$STACK_DIR/0602.gateway.metrics"
curl -s "http://127.0.0.1:$wadmin/metrics" >"$STACK_DIR/0602.worker.metrics"
rc=0
/usr/bin/python3 "$PATIENTS_SRC/tests/contract/rules_check.py" "$dir/patients.rules.yml" \
	"$dir/patients.rules.test.yml" "$PATIENTS_SRC/README.md" \
	"$STACK_DIR/0602.gateway.metrics" "$STACK_DIR/0602.worker.metrics" >"$STACK_DIR/0602.check" || rc=$?
cat "$STACK_DIR/0602.check"
assert_eq "conventions, test pairs, metrics and label values" "$rc" 0

# ... and it can fail: a metric name with a typo, an alert without its quiet test.
sed 's/patients_gateway_kafka_up == 0/patients_gateway_kafka_upp == 0/' "$dir/patients.rules.yml" >"$STACK_DIR/0602.typo.yml"
rc=0
out=$(/usr/bin/python3 "$PATIENTS_SRC/tests/contract/rules_check.py" "$STACK_DIR/0602.typo.yml" \
	"$dir/patients.rules.test.yml" "$PATIENTS_SRC/README.md" \
	"$STACK_DIR/0602.gateway.metrics" "$STACK_DIR/0602.worker.metrics") || rc=$?
assert_eq "a metric the daemons do not export fails" "$rc:$(echo "$out" | grep -c '^not ok - PatientsGatewayNotReady: the daemons export patients_gateway_kafka_upp')" 1:1

stop_daemon gw0602
stop_daemon w0602
assert_eq "no sanitizer report" \
	"$(cat "$STACK_DIR/gw0602.log" "$STACK_DIR/w0602.log" | grep -c 'Sanitizer\|runtime error' || true)" 0
