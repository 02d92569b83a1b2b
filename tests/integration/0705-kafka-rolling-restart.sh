# Rolling restart of the three nodes under load (4 concurrent clients): each
# node stopped (TERM: controlled shutdown), started again and back in the
# ISR of every partition before the next one. Only 200 and 503, no 200
# lost, nothing applied twice, every 200's patients in the table.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/cluster_it.sh"

cluster_it_up
cluster_it_daemons 0705 28705 10000

pids=()
for c in 0 1 2 3; do
	cluster_load_client $tag "$url" ak_$tag s3cret $c 300 &
	pids+=($!)
done
sleep 2
fault=$(date +%s%N)
for n in 1 2 3; do
	t=$SECONDS
	cluster_node_stop "$CLUSTER_DIR" $n TERM
	cluster_node_start "$CLUSTER_DIR" $n
	cluster_wait_isr "$CLUSTER_DIR" $topic 180 || { echo "not ok - node $n back in sync"; exit 1; }
	echo "ok - node $n restarted and back in sync in $((SECONDS - t))s"
done
touch "$STACK_DIR/$tag.stop"
for p in "${pids[@]}"; do wait "$p"; done
cluster_load_check $tag "$fault" "$STACK_DIR/w$tag.log"
stop_daemon gw$tag
stop_daemon w$tag || true
assert_eq "no sanitizer report" "$(cat "$STACK_DIR"/*$tag.log | grep -c 'Sanitizer\|runtime error' || true)" 0
