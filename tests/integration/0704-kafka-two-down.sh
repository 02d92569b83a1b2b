# Two of the three nodes down: with acks=all and min.insync.replicas=2 no
# batch can be acknowledged, so every PUT is answered 503 (never 200) at the
# publish timeout and the gateway's /readyz says not ready (503) until they
# are back, then ready again without a restart. Both nodes
# brought back, the same gateway and worker go on without a restart: PUTs
# are 200 again and reach PostgreSQL.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/cluster_it.sh"

cluster_it_up
wadmin=$(gw_port 28744)
cluster_it_daemons 0704 28704 3000 --admin-listen "127.0.0.1:$wadmin"
# (Retried: the nodes may have just been restarted by the scenario before.)
for ((i = 0; i < 20; i++)); do
	gw_put "$url" ak_$tag s3cret "$(gw_body 900000 1 first)"
	[ "$GW_STATUS" = 200 ] && break
done
assert_eq "all up: 200" "$GW_STATUS" 200
rid=$(gw_header X-Request-Id)
wait_for "first batch applied" 60 1 sql "select count(*) from patient_batches where request_id = '$rid'"
part=$(sql "select partition from patient_batches where request_id = '$rid'")
leader=$(cluster_leader "$CLUSTER_DIR" $topic "$part")
# Keep one node that is not the leader: the two others go, the leader among them.
keep=$(( leader % 3 + 1 ))
down=()
for n in 1 2 3; do [ "$n" != "$keep" ] && down+=("$n"); done
fault=$(date +%s%N)
gwlines=$(wc -l <"$STACK_DIR/gw$tag.log")
cluster_node_stop "$CLUSTER_DIR" "${down[0]}" KILL
cluster_node_stop "$CLUSTER_DIR" "${down[1]}" KILL
echo "# nodes ${down[*]} killed, node $keep left"

# Two clients, 10 PUTs each, while two nodes are down.
pids=()
for c in 0 1; do
	cluster_load_client $tag "$url" ak_$tag s3cret $c 10 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done # (a bare wait would wait for the daemons)
all=$STACK_DIR/$tag.all
cat "$STACK_DIR/$tag".c* >"$all"
echo "# while down: sent=$(wc -l <"$all") 200=$(awk '$3 == 200' "$all" | wc -l) 503=$(awk '$3 == 503' "$all" | wc -l)"
assert_eq "two of three down: no PUT answered 200" "$(awk '$3 == 200' "$all" | wc -l)" 0
assert_eq "two of three down: every PUT answered 503" "$(awk '$3 == 503' "$all" | wc -l)" 20
assert_eq "503 within the publish timeout (longest under 6 s)" \
	"$(awk '{ d = ($2 - $1) / 1e9; if (d > m) m = d } END { print (m < 6) }' "$all")" 1
# The surviving node has lost the controller quorum but still answers
# metadata (stale: it names the dead leaders and replicas), so a metadata
# request alone says "ready"; the gateway also probes each partition's
# leader and replicas (publisher_reachable, replicas.c): not ready while no
# majority of them can be reached. The main loop checks every 5 s.
wait_for "two of three down: gateway /readyz 503" 15 503 \
	curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/readyz"
sleep 3 # three more probes (one a second while not ready): still one line
assert_eq "the reason logged once, not per probe" \
	"$(tail -n +$((gwlines + 1)) "$STACK_DIR/gw$tag.log" | grep -c 'event=kafka_not_writable reason=' || true)" 1
gwlines=$(wc -l <"$STACK_DIR/gw$tag.log")

cluster_node_start "$CLUSTER_DIR" "${down[0]}"
cluster_node_start "$CLUSTER_DIR" "${down[1]}"
back=$(date +%s%N)
wait_for "gateway /readyz: 200 again, no restart" 180 200 \
	curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/readyz"
echo "# gateway ready again $(( ($(date +%s%N) - back) / 1000000 )) ms after the nodes were restarted"
assert_match "back to writable, logged" \
	"$(tail -n +$((gwlines + 1)) "$STACK_DIR/gw$tag.log" | grep -c 'event=kafka_writable' || true)" '^[1-9]'

# The client retries until a 200, as a partner would.
for ((i = 0; i < 120; i++)); do
	gw_put "$url" ak_$tag s3cret "$(gw_body 800000 5 retry)" --max-time 25
	[ "$GW_STATUS" = 200 ] && break
	sleep 1
done
assert_eq "nodes back: a PUT is 200 again" "$GW_STATUS" 200
echo "# first 200 $(( ($(date +%s%N) - back) / 1000000 )) ms after the nodes were restarted"
rid=$(gw_header X-Request-Id)
wait_for "the worker applies it, no restart" 120 1 sql "select count(*) from patient_batches where request_id = '$rid'"
wait_for "worker /readyz: ready" 60 ready curl -s "http://127.0.0.1:$wadmin/readyz"
awk '$4 != "" { print $4 }' "$all" >"$all.503"
assert_eq "none of the 503'd batches landed" \
	"$(sql "CREATE TEMP TABLE no(r uuid); COPY no FROM '$all.503'; SELECT count(*) FROM no WHERE r IN (SELECT request_id FROM patient_batches)")" 0
assert_eq "gateway and worker still the first processes" \
	"$(kill -0 "$(cat "$STACK_DIR/gw$tag.daemon.pid")" && kill -0 "$(cat "$STACK_DIR/w$tag.daemon.pid")" && echo yes)" yes

cluster_wait_isr "$CLUSTER_DIR" $topic 180 || { echo "not ok - replicas back in sync"; exit 1; }
echo "ok - replicas back in sync"
stop_daemon gw$tag
stop_daemon w$tag || true
assert_eq "no sanitizer report" "$(cat "$STACK_DIR"/*$tag.log | grep -c 'Sanitizer\|runtime error' || true)" 0
