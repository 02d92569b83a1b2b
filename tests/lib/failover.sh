# shellcheck shell=bash
# The failover scenarios (tests/integration/05NN-pg-failover-*.sh): a
# primary and a standby of their own (tests/lib/stack.sh, stack_ha_*), the
# real gateway and worker, sustained PUT load from concurrent curl clients,
# and the checks every scenario makes once the dust settles:
#   - every request answered 200 has its request id in patient_batches (lost),
#     once (twice), and no batch is there that no client sent;
#   - patients equals the table the sent requests make: each code holds the
#     newest applied batch that wrote it (codes overlap, so an older batch
#     winning, or a newer one missing, shows).
# Each client is one tenant (t0, t1, ...: several partitions), sends batches
# of FO_N patients cycling over FO_WINDOW code ranges, and writes one line
# per request to $FO/load.C: status,request_id,code_from,count,tag.

# shellcheck source=gateway.sh
. "$PATIENTS_SRC/tests/lib/gateway.sh"

FO_CLIENTS=${FO_CLIENTS:-4}
FO_N=${FO_N:-10}
FO_WINDOW=${FO_WINDOW:-8}
FO_MAX=${FO_MAX:-400}
FO_PACE=${FO_PACE:-0.1}
FO_CLIENT_PIDS=()

fo_ms() { echo $(($(date +%s%N) / 1000000)); }

fo_cleanup() {
	[ -n "${FO:-}" ] || return 0
	touch "$FO/stop"
	for p in "${FO_CLIENT_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	stack_ha_down "$FO"
	return 0
}

# A primary (node a) and standby (node b) in MODE sync|async under
# $STACK_DIR/NAME (FO), the schema migrated on the primary, the scenario's
# topics, and a gateway with one key per client; GW_URL for the clients.
fo_setup() { # NAME MODE
	FO=$STACK_DIR/$1
	FO_NAME=$1
	mkdir -p "$FO"
	# The pair is a plain cluster of its own (trust, no TLS, user postgres):
	# whatever the run sets for its main cluster must not reach it.
	unset PATIENTS_DB PGSSLMODE PGSSLROOTCERT PGSSLCERT PGSSLKEY PGPASSWORD PGPASSFILE PGSERVICE PGTARGETSESSIONATTRS
	trap fo_cleanup EXIT
	stack_ha_up "$FO" "$2" || return 1
	# shellcheck disable=SC1091
	. "$FO/ha.env"
	PGHOST=$HA_A_SOCK PGPORT=$HA_A_PORT PGDATABASE=patients PGUSER=postgres \
		"$WORKER_BIN" --migrate >/dev/null || return 1
	FO_TOPIC=it$1
	new_topic "$FO_TOPIC" 12
	new_topic "$FO_TOPIC.dlq" 1
	local port admin c
	port=$(gw_port 28500)
	admin=$(gw_port 28600)
	for ((c = 0; c < FO_CLIENTS; c++)); do gw_key "$FO/keys" "t$c" "ak_t$c" "secret-t$c"; done
	gw_start "gw$1" "$admin" --listen "127.0.0.1:$port" --keys-file "$FO/keys" \
		--topic "$FO_TOPIC" --rate-limit 1000000 || return 1
	GW_URL=http://127.0.0.1:$port/v1/patients
}

# The patients database on NODE (its socket), one query, tuples only.
fo_sql() { # NODE SQL
	local sock=$FO/$1/sock port
	port=$(stack_ha_port "$FO" "$1")
	[ -S "$FO/$1/inspect/.s.PGSQL.$port" ] && sock=$FO/$1/inspect
	psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres -d patients -tAc "$2"
}

fo_batches() { fo_sql "$1" 'select count(*) from patient_batches'; }

# Waits until NODE holds at least COUNT batches (the load drives it).
fo_wait_batches() { # NODE COUNT TIMEOUT
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(fo_batches "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
		sleep 0.1
	done
	echo "not ok - $1 did not reach $2 batches in $3 s (has $(fo_batches "$1" 2>/dev/null))"
	exit 1
}

# The asynchronous standby's lost tail, made under load: 40 batches in,
# replication to b cut, 40 more committed on a alone (counted in batches,
# not seconds, so the tail is there however slow the machine is), then a
# killed (-9).
fo_cut_then_kill() {
	local cut
	fo_wait_batches a 40 60
	stack_ha_cut "$FO" b
	cut=$(fo_batches a)
	fo_wait_batches a $((cut + 40)) 60
	stack_ha_kill "$FO" a
}

fo_client() { # C
	local c=$1 s=0 from st rid hdr=$FO/c$1.hdr tag
	while [ ! -e "$FO/stop" ] && [ "$s" -lt "$FO_MAX" ]; do
		from=$(((s % FO_WINDOW) * FO_N))
		tag=c${c}s$s
		st=$(gw_body "$from" "$FO_N" "$tag" | curl -sS -m 30 -o /dev/null -D "$hdr" -w '%{http_code}' \
			-X PUT "$GW_URL" -H "X-API-Key: ak_t$c" -H "X-Secret-Key: secret-t$c" \
			-H 'Content-Type: application/json' --data-binary @- 2>/dev/null) || st=000
		rid=$(tr -d '\r' <"$hdr" 2>/dev/null | sed -n 's/^X-Request-Id: //Ip' | tail -n 1)
		echo "$st,$rid,$from,$FO_N,$tag" >>"$FO/load.$c"
		s=$((s + 1))
		sleep "$FO_PACE"
	done
}

fo_load_start() {
	local c
	rm -f "$FO/stop" "$FO"/load.*
	for ((c = 0; c < FO_CLIENTS; c++)); do
		: >"$FO/load.$c"
		fo_client "$c" &
		FO_CLIENT_PIDS+=($!)
	done
}

fo_load_stop() {
	touch "$FO/stop"
	for p in "${FO_CLIENT_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	FO_CLIENT_PIDS=()
}

# Every request so far, one CSV line each: client,status,request_id,code_from,count,tag.
fo_sent() {
	local c
	for ((c = 0; c < FO_CLIENTS; c++)); do sed "s/^/$c,/" "$FO/load.$c"; done
}

# Request ids answered 200 so far, one a line, sorted.
fo_accepted() { fo_sent | awk -F, '$2 == 200 { print $3 }' | sort; }

fo_ids() { fo_sql "$1" 'select request_id from patient_batches' | sort; }

# Waits until NODE holds every request id listed in FILE, or TIMEOUT
# seconds, or NODE holds no more batches than STALL seconds ago; prints how
# many are still missing.
fo_wait_applied() { # NODE FILE TIMEOUT STALL
	local start=$SECONDS last=-1 since=$SECONDS n missing
	while :; do
		missing=$(comm -23 "$2" <(fo_ids "$1" 2>/dev/null) | wc -l)
		[ "$missing" -eq 0 ] && break
		[ $((SECONDS - start)) -ge "$3" ] && break
		n=$(fo_batches "$1" 2>/dev/null || echo -1)
		if [ "$n" != "$last" ]; then
			last=$n
			since=$SECONDS
		elif [ $((SECONDS - since)) -ge "$4" ]; then
			break
		fi
		sleep 0.2
	done
	echo "$missing"
}

# The final checks on NODE (see the top of this file).
fo_check() { # NODE
	local node=$1 out port
	fo_sent >"$FO/sent.csv"
	port=$(stack_ha_port "$FO" "$node")
	out=$(psql -X -q -v ON_ERROR_STOP=1 -h "$FO/$node/sock" -p "$port" -U postgres -d patients -tA <<-EOF
		create temp table sent (client int, status text, rid text, code_from int, n int, tag text);
		\copy sent from '$FO/sent.csv' with (format csv)
		create temp table applied as select request_id::text as rid from patient_batches;
		select 'accepted=' || count(*) from sent where status = '200';
		select 'not200=' || count(*) from sent where status <> '200';
		select 'lost=' || count(*) from sent where status = '200' and rid not in (select rid from applied);
		select 'twice=' || (select count(*) - count(distinct request_id) from patient_batches);
		select 'unknown=' || count(*) from applied where rid not in (select rid from sent where rid <> '');
		create temp table want as
		  select distinct on (tenant, code) 't' || s.client as tenant, 'p' || g.i as code, s.rid, s.tag, g.i
		  from sent s, generate_series(s.code_from, s.code_from + s.n - 1) g(i)
		  where s.status = '200' or s.rid in (select rid from applied)
		  order by tenant, code, s.rid desc;
		select 'rows=' || count(*) from patients;
		select 'wrong_rows=' || count(*) from want w full join patients p using (tenant, code)
		  where p.request_id::text is distinct from w.rid
		     or p.first_name is distinct from 'José ' || w.tag || ' ' || w.i;
	EOF
	) || { echo "not ok - the final checks could not run"; exit 1; }
	echo "$out" | sed 's/^/# /'
	FO_ACCEPTED=$(echo "$out" | sed -n 's/^accepted=//p')
	assert_match "the load got answers 200" "$FO_ACCEPTED" '^[1-9][0-9]+$'
	assert_eq "lost: accepted requests missing from patient_batches" "$(echo "$out" | sed -n 's/^lost=//p')" 0
	assert_eq "twice: request ids more than once in patient_batches" "$(echo "$out" | sed -n 's/^twice=//p')" 0
	assert_eq "no batch in patient_batches that no client sent" "$(echo "$out" | sed -n 's/^unknown=//p')" 0
	assert_eq "patients equals the table the requests make (rows differing)" "$(echo "$out" | sed -n 's/^wrong_rows=//p')" 0
}

# The failures a worker logged (LOG), by event, SQLSTATE ("-": libpq's
# own, no server answer) and the start of the message, with their counts.
fo_sqlstates() { # LOG
	echo "# failures in $(basename "$1"):"
	grep -h 'sqlstate=' "$1" |
		sed -E 's/.*event=([a-z_]+).*sqlstate=([^ ]+)( .*message="([^"\\]{0,40}))?.*/\1 sqlstate=\2 \4/' |
		sort | uniq -c | sed 's/^ */#   /'
	return 0
}

# Promotes NODE (the old primary is already dead) and measures the time to
# recover: from the promotion until every request answered 200 before it is
# in NODE's patient_batches (FO_RECOVER_MS, empty if it never was). Keeps
# the load going 3 s more, then stops it. Saves what NODE held before the
# promotion ($FO/standby.ids) and where the worker's log LOG was then
# (FO_LOGPOS).
fo_failover() { # NODE LOG
	local node=$1 start missing
	fo_ids "$node" >"$FO/standby.ids"
	FO_LOGPOS=$(stat -c %s "$2")
	FO_LOG=$2
	stack_ha_promote "$FO" "$node" || exit 1
	start=$(fo_ms)
	echo "ok - $node promoted"
	fo_accepted >"$FO/before.ids"
	missing=$(fo_wait_applied "$node" "$FO/before.ids" 45 45)
	FO_RECOVER_MS=
	[ "$missing" -eq 0 ] && FO_RECOVER_MS=$(($(fo_ms) - start))
	echo "# time to recover (promotion to every batch accepted before it applied): ${FO_RECOVER_MS:-never} ms ($missing of $(wc -l <"$FO/before.ids") missing)"
	sleep 3
	fo_load_stop
}

# Waits until NODE has every accepted batch (or stalls 15 s), then stops
# worker NAME (SIGTERM must still exit 0) and the gateway.
fo_settle() { # NODE NAME
	local missing rc
	fo_accepted >"$FO/accepted.ids"
	missing=$(fo_wait_applied "$1" "$FO/accepted.ids" 90 15)
	echo "# after the load: $(wc -l <"$FO/accepted.ids") accepted, $missing not applied"
	stop_daemon "$2" && rc=0 || rc=$?
	assert_eq "worker $2: SIGTERM, clean exit" "$rc" 0
	assert_eq "worker $2: no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/$2.log" || true)" 0
	stop_daemon "gw$FO_NAME" && rc=0 || rc=$?
	assert_eq "gateway: SIGTERM, clean exit" "$rc" 0
	assert_eq "gateway: no sanitizer report" "$(grep -c 'Sanitizer\|runtime error' "$STACK_DIR/gw$FO_NAME.log" || true)" 0
}

# What the failover dropped: batches the old primary OLD held (started again
# by stack_ha_inspect) that the promoted NEW did not have at promotion
# (FO_DROPPED), and how many of those NEW holds now (FO_REAPPLIED). Also
# from the worker's log after the promotion: batches applied there that NEW
# already had (FO_REDUNDANT: harmless, patient_batches and the row guard
# ignore them, but counted).
fo_dropped() { # OLD NEW
	fo_ids "$1" >"$FO/old.ids"
	fo_ids "$2" >"$FO/final.ids"
	comm -23 "$FO/old.ids" "$FO/standby.ids" >"$FO/dropped.ids"
	FO_DROPPED=$(wc -l <"$FO/dropped.ids")
	FO_REAPPLIED=$(comm -12 "$FO/dropped.ids" "$FO/final.ids" | wc -l)
	tail -c +$((FO_LOGPOS + 1)) "$FO_LOG" | sed -n 's/.*event=batch_applied request_id=\([^ ]*\).*/\1/p' | sort >"$FO/after.applied"
	FO_REDUNDANT=$(comm -12 "$FO/after.applied" "$FO/standby.ids" | wc -l)
	echo "# old primary held $(wc -l <"$FO/old.ids") batches, the new one $(wc -l <"$FO/standby.ids") at promotion: dropped $FO_DROPPED, re-applied $FO_REAPPLIED"
	echo "# applied after the promotion: $(sort -u "$FO/after.applied" | wc -l) batches ($(wc -l <"$FO/after.applied") applies), of which the new primary already had $FO_REDUNDANT"
	assert_eq "what the new primary had at promotion, the old one had too" \
		"$(comm -13 "$FO/old.ids" "$FO/standby.ids" | wc -l)" 0
	# A commit in doubt when the primary died (flushed, never acknowledged)
	# may be retried where it is already there: at most one per applier
	# connection (2). More means the worker went back further than what
	# PostgreSQL holds (Kafka's committed offsets, say).
	assert_match "batches applied again that the new primary already had: at most 2" "$FO_REDUNDANT" '^[0-2]$'
	stack_ha_node_down "$FO" "$1"
}
