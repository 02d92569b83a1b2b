# logrotate's way: with --log-file, the file is moved away, SIGHUP, and
# the next lines go to a new file at the same path; the daemons keep
# running and nothing is lost between the two files.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"
. "$PATIENTS_SRC/tests/lib/batches.sh"
. "$PATIENTS_SRC/tests/lib/gateway.sh"

topic=it0402
new_topic $topic 1
new_topic $topic.dlq 1
fresh_db it0402
port=$(gw_port 28042)
admin=$(gw_port 28142)
keys=$STACK_DIR/0402.keys
gw_key "$keys" acme ak_0402 's3cret'
wlog=$STACK_DIR/0402-worker.file.log
glog=$STACK_DIR/0402-gateway.file.log

gw_start gw0402 "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" --topic $topic --log-file "$glog"
start_daemon w0402 "$WORKER_BIN" --topic $topic --dlq-topic $topic.dlq --group g0402 --log-file "$wlog"
url=http://127.0.0.1:$port/v1/patients

gw_put "$url" ak_0402 s3cret "$(gw_body 0 3 a)"
assert_eq "first PUT" "$GW_STATUS" 200
wait_for "the worker logs the first batch to its file" 20 1 grep -c event=batch_applied "$wlog"
assert_eq "the gateway logs to its file" "$(grep -c 'event=request ' "$glog" || true)" 1
assert_eq "nothing of theirs on stderr once the file is open" \
	"$(grep -c 'event=batch_applied' "$STACK_DIR/w0402.log" || true)" 0

mv "$wlog" "$wlog.1"
mv "$glog" "$glog.1"
kill -HUP "$(cat "$STACK_DIR/w0402.daemon.pid")" "$(cat "$STACK_DIR/gw0402.daemon.pid")"
wait_for "the gateway reopened (its reload is logged in the new file)" 10 1 grep -c event=keys_reloaded "$glog"

gw_put "$url" ak_0402 s3cret "$(gw_body 10 3 b)"
assert_eq "second PUT" "$GW_STATUS" 200
wait_for "the worker logs the second batch to the new file" 20 1 grep -c event=batch_applied "$wlog"
assert_eq "the rotated worker file kept the first batch only" "$(grep -c event=batch_applied "$wlog.1")" 1
assert_eq "the rotated gateway file kept the first request only" "$(grep -c 'event=request ' "$glog.1")" 1
assert_eq "the new gateway file has the second request" "$(grep -c 'event=request ' "$glog")" 1
assert_eq "both batches in PostgreSQL" "$(sql 'select count(*) from patients')" 6
for d in w0402 gw0402; do
	assert_eq "$d survived SIGHUP" "$(kill -0 "$(cat "$STACK_DIR/$d.daemon.pid")" && echo alive)" alive
done
stop_daemon w0402
stop_daemon gw0402
assert_eq "worker: no sanitizer report" "$(cat "$wlog" "$wlog.1" "$STACK_DIR/w0402.log" | grep -c 'Sanitizer\|runtime error' || true)" 0
