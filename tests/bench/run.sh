#!/usr/bin/env bash
# ./dev.sh bench: end-to-end throughput against the machine's own limit.
#
# Everything is measured in one run on one stack of its own, so each figure
# is a ratio to a baseline taken minutes apart on the same (noisy, shared)
# machine:
#   - baseline: bench_loader, the worker's own upsert straight from a file
#     over the same number of connections, one transaction per batch;
#   - worker: the same batches already in Kafka, a fresh group, timed from
#     the worker's start until PostgreSQL holds every batch, with the
#     database's share of the CPU;
#   - scaling: 1, 2 and 4 worker processes in one group, formed first,
#     timed from the first batch produced to the last commit;
#   - gateway: 1000-patient PUTs per second (wrk) against kcat producing the
#     same bodies;
#   - peak RSS (VmHWM) of each daemon.
# The daemons are built here without sanitizers, -O2, from a copy of the tree.
#
#   tests/bench/run.sh            BENCH_BATCHES (200) x 1000 patients
#   tests/bench/run.sh --peers    and Kafka Connect + Debezium's JDBC sink on
#                                 the same patients (tests/bench/peers.sh)
#   tests/bench/run.sh --profile  and where a batch's time goes in PostgreSQL
#                                 (tests/bench/profile.sh)
#   tests/bench/run.sh --split    PostgreSQL alone on the last CPU, the
#                                 broker, the daemons, the loader and the
#                                 bench's clients on the others (taskset):
#                                 the worker's ratio when it and the broker
#                                 do not take PostgreSQL's CPU, as on hosts
#                                 of their own
#   KEEP_STACK=1 tests/bench/run.sh
#   PATIENTS_STACK_KAFKA=cluster tests/bench/run.sh   on the 3-node SASL_SSL
#                                 cluster (tests/lib/cluster.sh: RF 3,
#                                 min.insync.replicas 2, ACLs) instead of one
#                                 plaintext broker; the daemons log in as the
#                                 gateway and worker users, kcat as admin
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/stack.sh
. "$SRC/tests/lib/stack.sh"
# shellcheck source=peers.sh
. "$SRC/tests/bench/peers.sh"
# shellcheck source=../lib/cluster.sh
. "$SRC/tests/lib/cluster.sh"
KAFKA_MODE=${PATIENTS_STACK_KAFKA:-single}
# shellcheck source=profile.sh
. "$SRC/tests/bench/profile.sh"

PEERS=0
PROFILE=0
SPLIT=0
for arg in "$@"; do
	case $arg in
	--peers) PEERS=1 ;;
	--profile) PROFILE=1 ;;
	--split) SPLIT=1 ;;
	*) echo "usage: tests/bench/run.sh [--peers] [--profile] [--split]" >&2; exit 2 ;;
	esac
done
case $KAFKA_MODE in
single) ;;
cluster)
	[ "$PEERS" = 0 ] || { echo "bench: --peers runs on one broker only" >&2; exit 2; }
	[ "$SPLIT" = 0 ] || { echo "bench: --split runs on one broker only" >&2; exit 2; }
	;;
*) echo "bench: PATIENTS_STACK_KAFKA is single or cluster, not $KAFKA_MODE" >&2; exit 2 ;;
esac

BATCHES=${BENCH_BATCHES:-200}
PER_BATCH=1000
CONNECTIONS=${BENCH_CONNECTIONS:-2}
REPEAT=${BENCH_REPEAT:-3}
BUILD=${BENCH_BUILD:-$STACK_CACHE/bench-build}
NCPU=$(nproc)
CLK_TCK=$(getconf CLK_TCK)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# --- an optimised build of the working tree, kept between runs -----------
build() {
	say "building without sanitizers (-O2) in $BUILD"
	mkdir -p "$BUILD/src"
	# tar keeps mtimes, so an unchanged file does not rebuild.
	(cd "$SRC" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) |
		tar -xf - -C "$BUILD/src"
	(
		cd "$BUILD/src"
		[ -x configure ] || ./autogen.sh >/dev/null 2>&1
		[ -f Makefile ] || ./configure CFLAGS="-O2 -g" >/dev/null
		make -j"$NCPU" >/dev/null
		make -j"$NCPU" tests/bench/bench_loader >/dev/null
	) || die "build failed (rerun: cd $BUILD/src && make)"
	WORKER=$BUILD/src/daemon/worker/patients-worker
	GATEWAY=$BUILD/src/daemon/gateway/patients-gateway
	LOADER=$BUILD/src/tests/bench/bench_loader
}

# --- the data --------------------------------------------------------------
# BATCHES envelopes of PER_BATCH patients from 12 tenants; a tenant's batch j
# rewrites half of its batch j-1's codes and adds as many new ones, so the
# load is half updates, half inserts, as a daily sync would be.
# With "peer" (tests/bench/peers.sh): the same patients as one record each,
# JSON with schema keyed by tenant, and in $STACK_DIR/peer.final each
# tenant's last record as SQL VALUES rows (tenant, code, request id).
make_data() {
	say "generating $BATCHES batches of $PER_BATCH patients"
	awk -v batches="$BATCHES" -v per="$PER_BATCH" -v keyed="$1" -v final="$STACK_DIR/peer.final" 'BEGIN {
		if (keyed == "peer") { records(); exit }
		for (b = 0; b < batches; b++) {
			t = b % 12; j = int(b / 12)
			if (keyed) printf "t%d:", t
			printf "{\"v\":1,\"tenant\":\"t%d\",\"request_id\":\"%08x-%04x-7000-8000-%012x\",", t, int((b + 1) / 65536), (b + 1) % 65536, b + 1
			printf "\"received_at\":\"2026-11-24T10:%02d:%02d.000Z\",\"body\":", int(j / 60) % 60, j % 60
			body(j)
			printf "}\n"
		}
	}
	function body(j,   i, from) {
		from = j * per / 2
		printf "{\"patients\":["
		for (i = from; i < from + per; i++) {
			if (i > from) printf ","
			printf "{\"code\":\"ACME-%07d\",\"first_name\":\"María José %d\",\"last_name\":%s,", i, j, (i % 7) ? "\"García-Núñez Fernández\"" : "null"
			printf "\"gender\":\"%s\",\"birthdate\":\"%04d-%02d-%02d\"", (i % 2) ? "male" : "female", 1930 + i % 90, 1 + i % 12, 1 + i % 28
			if (i % 5) printf ",\"email\":\"patient.%07d@example-clinic.es\"", i
			printf "}"
		}
		printf "]}"
	}
	# Days since 1970-01-01 of a proleptic Gregorian date (Connect Date).
	function days(y, m, d,   era, yoe, doy, doe) {
		y -= (m <= 2); era = int(y / 400); yoe = y - era * 400
		doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
		doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
		return era * 146097 + doe - 719468
	}
	function records(   b, t, j, i, from, rid, ms, schema, sep) {
		schema = "{\"type\":\"struct\",\"name\":\"patient\",\"optional\":false,\"fields\":[" \
			"{\"field\":\"tenant\",\"type\":\"string\",\"optional\":false}," \
			"{\"field\":\"code\",\"type\":\"string\",\"optional\":false}," \
			"{\"field\":\"first_name\",\"type\":\"string\",\"optional\":false}," \
			"{\"field\":\"last_name\",\"type\":\"string\",\"optional\":true}," \
			"{\"field\":\"gender\",\"type\":\"string\",\"optional\":false}," \
			"{\"field\":\"birthdate\",\"type\":\"int32\",\"optional\":false,\"name\":\"org.apache.kafka.connect.data.Date\",\"version\":1}," \
			"{\"field\":\"email\",\"type\":\"string\",\"optional\":true}," \
			"{\"field\":\"received_at\",\"type\":\"int64\",\"optional\":false,\"name\":\"org.apache.kafka.connect.data.Timestamp\",\"version\":1}," \
			"{\"field\":\"request_id\",\"type\":\"string\",\"optional\":false,\"name\":\"io.debezium.data.Uuid\",\"version\":1}]}"
		for (b = 0; b < batches; b++) {
			t = b % 12; j = int(b / 12); from = j * per / 2
			rid = sprintf("%08x-%04x-7000-8000-%012x", int((b + 1) / 65536), (b + 1) % 65536, b + 1)
			# 2026-11-24T10:MM:SS.000Z, as the envelope says
			ms = (days(2026, 11, 24) * 86400 + 36000 + (int(j / 60) % 60) * 60 + j % 60) * 1000
			for (i = from; i < from + per; i++) {
				printf "t%d:{\"schema\":%s,\"payload\":{\"tenant\":\"t%d\",\"code\":\"ACME-%07d\",", t, schema, t, i
				printf "\"first_name\":\"María José %d\",\"last_name\":%s,", j, (i % 7) ? "\"García-Núñez Fernández\"" : "null"
				printf "\"gender\":\"%s\",\"birthdate\":%d,", (i % 2) ? "male" : "female", days(1930 + i % 90, 1 + i % 12, 1 + i % 28)
				printf "\"email\":%s,", (i % 5) ? sprintf("\"patient.%07d@example-clinic.es\"", i) : "null"
				printf "\"received_at\":%.0f,\"request_id\":\"%s\"}}\n", ms, rid
			}
			last[t] = sprintf("(\x27t%d\x27, \x27ACME-%07d\x27, \x27%s\x27)", t, from + per - 1, rid)
		}
		sep = ""
		for (t = 0; t < 12; t++) if (t in last) { printf "%s%s", sep, last[t] >final; sep = ", " }
		close(final)
	}'
}

# A PUT body per line (the envelope's "body"), for the gateway and kcat.
make_bodies() { sed -e 's/^.*"body"://' -e 's/}$//'; }

# --- measuring -------------------------------------------------------------
# Sampling must not cost what it measures (2 cores): these read /proc with
# bash builtins only, and the loop below asks PostgreSQL 4 times a second.

# CPU seconds (user+system) of a process and its reaped children.
cpu_of() { # PID
	local s f
	s=$(<"/proc/$1/stat") 2>/dev/null || { echo 0; return 0; }
	# The command name may hold spaces: split after its closing parenthesis,
	# so f[0] is field 3 and utime, stime, cutime, cstime are f[11..14].
	read -ra f <<<"${s##*) }"
	echo "scale=2; (${f[11]} + ${f[12]} + ${f[13]} + ${f[14]}) / $CLK_TCK" | bc
}

# CPU seconds of the PostgreSQL cluster: the postmaster (which reaps every
# backend, so their time lands in its children's fields) plus live backends.
pg_cpu() {
	local pm total c
	read -r pm <"$STACK_DIR/pg/data/postmaster.pid"
	total=$(cpu_of "$pm")
	for c in $(pgrep -P "$pm"); do
		total=$(echo "$total + $(cpu_of "$c")" | bc)
	done
	echo "$total"
}

kafka_cpu() {
	local n total=0
	if [ "$KAFKA_MODE" = single ]; then
		cpu_of "$(<"$STACK_DIR/kafka.pid")"
		return 0
	fi
	for n in 1 2 3; do
		total=$(echo "$total + $(cpu_of "$(<"$STACK_DIR/kcluster/n$n.pid")")" | bc)
	done
	echo "$total"
}

hwm_kb() { # PID
	local k v rest
	while read -r k v rest; do
		[ "$k" = VmHWM: ] && { echo "$v"; return 0; }
	done <"/proc/$1/status"
	echo 0
}

now() { date +%s.%N; }

# A database of its own for each run. Autovacuum is off on its tables: on a
# table that just took 200k rows it would start, at a time of its choosing,
# inside this run or a later one (it did: a run at half the rate with
# PostgreSQL as busy as ever), and every run is over in seconds.
fresh_db() { # NAME
	drop_db "$1"
	psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE $1" >/dev/null
	PGDATABASE=$1 "$WORKER" --migrate >/dev/null 2>&1
	psql -X -q -d "$1" -v ON_ERROR_STOP=1 -tA -c "SELECT format('ALTER TABLE %I SET (autovacuum_enabled = false);', tablename) FROM pg_tables WHERE schemaname = 'public'" |
		psql -X -q -d "$1" -v ON_ERROR_STOP=1 >/dev/null
}

# Once read: nothing of it is left for autovacuum to do during later runs.
drop_db() { # NAME
	psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
		-c "DROP DATABASE IF EXISTS $1" >/dev/null
}

# The batches as the gateway publishes them (lz4, idempotent, acks=all), so
# the worker reads and decompresses what it would in production.
produce_as_gateway() { # TOPIC
	kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t "$1" -K: -X enable.idempotence=true -X acks=all \
		-X compression.codec=lz4 -X linger.ms=2 <"$STACK_DIR/keyed.jsonl"
}

# Each run starts from a quiet database: the previous run's dirty buffers
# written out and its autovacuum (which a 200k-row table triggers) finished,
# so no run pays for the one before it; and from a quiet disk: what the
# broker took in (the gateway's runs write some 2 GB into its page cache)
# written back before the clock starts, not by the kernel during the run,
# beside PostgreSQL's WAL flushes.
settle() {
	local i
	sync
	psql -X -q -d postgres -c CHECKPOINT
	for ((i = 0; i < 100; i++)); do
		[ "$(psql -X -tA -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")" = 0 ] && break
		sleep 0.2
	done
}

batches_in() { PGDATABASE=$1 psql -X -tA -c 'SELECT count(*) FROM patient_batches'; }

# Seconds between the first and the last batch's commit: the steady rate,
# without the start (connections, group join, first fetch).
applied_span() {
	PGDATABASE=$1 psql -X -tA -c 'SELECT extract(epoch FROM max(applied_at) - min(applied_at)) FROM patient_batches'
}

# When the database committed the last batch, as epoch seconds.
last_applied() {
	PGDATABASE=$1 psql -X -tA -c 'SELECT extract(epoch FROM max(applied_at)) FROM patient_batches'
}

# Baseline: prints "seconds pg_cpu_seconds kafka_cpu_seconds span_seconds
# wal_bytes hot_updates updates". METHOD is bench_loader's -m (unnest, the
# worker's statement, by default); FILLFACTOR, when given, is set on the
# fresh patients table first (room in each page for HOT updates: only the
# primary key is indexed and an update changes none of its columns).
run_loader() { # [METHOD [CONNECTIONS [FILLFACTOR]]]
	local out cpu0 cpu1 t0 k0 w0 w1 hot
	fresh_db bench_base
	[ -z "${3:-}" ] || psql -X -q -d bench_base -v ON_ERROR_STOP=1 -c "ALTER TABLE patients SET (fillfactor = $3)"
	settle
	w0=$(psql -X -tA -d postgres -c 'SELECT pg_current_wal_insert_lsn()')
	cpu0=$(pg_cpu)
	k0=$(kafka_cpu)
	out=$(PGDATABASE=bench_base "$LOADER" -c "${2:-$CONNECTIONS}" -m "${1:-unnest}" "$DATA")
	cpu1=$(pg_cpu)
	k0=$(echo "$(kafka_cpu) - $k0" | bc)
	w1=$(psql -X -tA -d postgres -c "SELECT pg_current_wal_insert_lsn() - '$w0'::pg_lsn")
	echo "$out" >&2
	[ "$(batches_in bench_base)" = "$BATCHES" ] || die "the loader did not apply every batch"
	t0=$(echo "$out" | sed -n 's/.*, from \([0-9.]*\)$/\1/p')
	# The loader's backends flushed their statistics as they exited.
	hot=$(PGDATABASE=bench_base psql -X -tA -F' ' -c "SELECT n_tup_hot_upd, n_tup_upd FROM pg_stat_user_tables WHERE relname = 'patients'")
	echo "$(echo "$(last_applied bench_base) - $t0" | bc) $(echo "$cpu1 - $cpu0" | bc) $k0 $(applied_span bench_base) $w1 $hot"
	drop_db bench_base
}

# The loader's methods (bench_loader -m) over 1, 2 and 4 connections, all
# with the worker's guarantees, once each; ratios to the worker's statement
# over CONNECTIONS connections, run first and again last (the better of
# the two): run first alone, right after the gateway's runs, it came out
# 2 to 27% below the same run's baseline (and once, after a sync, at 0.80
# of its own run last), which made every method look faster.
run_methods() {
	local m c r p ref=0 label rows=() k last pg wal hot
	local all=("unnest:$CONNECTIONS" unnest:1 unnest:4 values:1 "values:$CONNECTIONS" values:4
		copy:1 "copy:$CONNECTIONS" copy:4 binary:1 "binary:$CONNECTIONS" binary:4
		unnest-ff80:1 "unnest-ff80:$CONNECTIONS" unnest-ff80:4 "unnest:$CONNECTIONS")
	last=$((${#all[@]} - 1))
	for k in "${!all[@]}"; do
		c=${all[$k]#*:}
		m=${all[$k]%:*}
		say "loader method $m over $c connection(s)"
		if [ "$m" = unnest-ff80 ]; then
			r=($(run_loader unnest "$c" 80))
			label="unnest, fillfactor 80"
		else
			r=($(run_loader "$m" "$c"))
			case $m in
			unnest) label="unnest text arrays (worker's)" ;;
			values) label="multi-row VALUES" ;;
			copy) label="COPY to temp, INSERT SELECT" ;;
			binary) label="unnest, binary arrays" ;;
			esac
		fi
		p=$(rate "${r[0]}")
		# The reference is the first and the last run: the better of the two.
		if [ "$k" = 0 ] || [ "$k" = "$last" ]; then
			[ "$p" -le "$ref" ] || ref=$p
		fi
		[ "$k" = "$last" ] && break
		rows+=("$label|$c|$p|$(share "${r[1]}" "${r[0]}")|$((r[4] / BATCHES))|$(
			[ "${r[6]:-0}" -gt 0 ] && echo $((100 * r[5] / r[6])) || echo -)")
	done
	echo
	echo "loader methods: the same batches, one transaction each, version guard, offset fence,"
	echo "patient_batches and consumer_offsets in it, fsync and synchronous_commit on"
	echo "(ratio: to unnest over $CONNECTIONS connections, the better of its runs first and last;"
	echo " wal/batch: WAL bytes written per batch; hot: updates that were HOT, of all updates)"
	printf '%-32s %5s %10s %5s %5s %10s %8s\n' "method" "conns" "all p/s" "ratio" "pg" "wal/batch" "hot"
	for k in "${!rows[@]}"; do
		IFS='|' read -r label c r pg wal hot <<<"${rows[$k]}"
		printf '%-32s %5s %10s %5s %4s%% %10s %7s%%\n' "$label" "$c" "$r" "$(ratio "$ref" "$r")" \
			"$pg" "$wal" "$hot"
	done
}

# Starts one session that waits in DB until CONDITION (SQL, a boolean)
# holds, checked there every 20 ms, and sets WAITER to its pid. It stands
# for a psql every 0.25 s, which cost a process, a backend and bash's
# forks each time: psql and the shell were 11% of the CPU samples of a
# profiled worker run, a load the loader's runs (timed without waiting)
# did not carry.
wait_start() { # DB CONDITION
	PGDATABASE=$1 psql -X -q -v ON_ERROR_STOP=1 -c "DO \$\$ BEGIN
		WHILE NOT ($2) LOOP PERFORM pg_sleep(0.02); END LOOP; END \$\$" >/dev/null 2>>"$STACK_DIR/wait.log" &
	WAITER=$!
}

# die, once the session wait_start began is stopped.
wait_die() { # MESSAGE
	kill "$WAITER" 2>/dev/null || true
	die "$1"
}

# Waits until DB holds every batch, the workers in PIDS running all along,
# then reads what they used and stops them. Sets FINISHED to "pg_cpu_seconds
# kafka_cpu_seconds worker_cpu_seconds peak_rss_kb", the first two since
# CPU0 and K0. In the shell that started the workers (it waits for them).
finish_workers() { # DB CPU0 K0 LOG
	local db=$1 cpu0=$2 k0=$3 log=$4 i h hwm=0 wsum=0 cpu1 k1 ended= st=0
	wait_start "$db" "(SELECT count(*) FROM patient_batches) = $BATCHES"
	# Whichever ends first: the wait, or a worker.
	wait -n -p ended "$WAITER" "${PIDS[@]}" || st=$?
	[ "$ended" = "$WAITER" ] || wait_die "a worker of ${#PIDS[@]} (pid $ended) exited (see $log)"
	[ "$st" = 0 ] || die "waiting for the batches failed (see $STACK_DIR/wait.log)"
	# Before the workers leave: their backends are still there to be read.
	cpu1=$(pg_cpu)
	k1=$(kafka_cpu)
	# VmHWM is a high-water mark and the CPU counters only grow: read once.
	for i in "${!PIDS[@]}"; do
		h=$(hwm_kb "${PIDS[$i]}")
		[ "$h" -gt "$hwm" ] && hwm=$h
		wsum=$(echo "$wsum + $(cpu_of "${PIDS[$i]}")" | bc)
	done
	kill -TERM "${PIDS[@]}"
	wait "${PIDS[@]}" || die "a worker did not exit cleanly on SIGTERM"
	FINISHED="$(echo "$cpu1 - $cpu0" | bc) $(echo "$k1 - $k0" | bc) $wsum $hwm"
}

# One worker, a fresh group, the batches already in Kafka, timed from its
# start to the last batch's commit in PostgreSQL: prints "seconds
# pg_cpu_seconds worker_cpu_seconds peak_rss_kb kafka_cpu_seconds
# span_seconds".
run_worker() {
	local db=bench_w1 t0 cpu0 k0 pg kafka ours hwm
	fresh_db "$db"
	settle
	cpu0=$(pg_cpu)
	k0=$(kafka_cpu)
	t0=$(now)
	PGDATABASE=$db "$WORKER" "${WORKER_KAFKA[@]}" --topic bench --dlq-topic bench.dlq --group "bench-1-$$" \
		--from-beginning --db-connections "$CONNECTIONS" --log-level info \
		2>>"$STACK_DIR/worker-1.log" &
	PIDS=($!)
	finish_workers "$db" "$cpu0" "$k0" "$STACK_DIR/worker-1.log"
	read -r pg kafka ours hwm <<<"$FINISHED"
	echo "$(echo "$(last_applied "$db") - $t0" | bc) $pg $ours $hwm $kafka $(applied_span "$db")"
	# What the peer's runs must end with (tests/bench/peers.sh).
	digest_of "$db" >"$STACK_DIR/digest.worker"
	drop_db "$db"
}

# The scaling run: N workers first form their group on an empty topic of
# the same 12 partitions, then the same batches are produced to it and the
# group is timed from the first message produced to the last commit. What
# is measured is the group's steady rate, not the group protocol: each
# member joining costs a rebalance round of 1-2 s with librdkafka 2.0
# (which rejoins at most once a second), as long as the whole 200k run.
# Prints "seconds pg_cpu_seconds worker_cpu_seconds peak_rss_kb
# kafka_cpu_seconds first_commit_seconds" (kafka includes taking the
# produced batches in).
run_group() { # N
	local n=$1 db=bench_g$1 topic=bench.g$1 t0 cpu0 k0 i w0=0 port held ok tries
	local pg kafka ours hwm
	bench_topic "$topic" 12
	fresh_db "$db"
	settle
	PIDS=()
	for ((i = 0; i < n; i++)); do
		PGDATABASE=$db "$WORKER" "${WORKER_KAFKA[@]}" --topic "$topic" --dlq-topic bench.dlq --group "group-$n-$$" \
			--db-connections "$CONNECTIONS" --log-level info \
			2>>"$STACK_DIR/group-$n-$i.log" &
		PIDS+=($!)
	done
	# Formed: each worker holds its share, 12 / N partitions (the sticky
	# assignor balances them), as its /metrics says.
	for ((tries = 0; tries < 120; tries++)); do
		sleep 0.5
		ok=1
		for ((i = 0; i < n; i++)); do
			kill -0 "${PIDS[$i]}" 2>/dev/null || die "worker $i of $n exited (see $STACK_DIR/group-$n-$i.log)"
			port=$(sed -n 's/.*event=admin_listening .*port=\([0-9]*\).*/\1/p' "$STACK_DIR/group-$n-$i.log")
			held=$([ -n "$port" ] && curl -s "http://127.0.0.1:$port/metrics" |
				sed -n 's/^patients_worker_partitions_assigned \([0-9]*\)$/\1/p')
			[ "${held:-0}" = $((12 / n)) ] || ok=0
		done
		[ "$ok" = 1 ] && break
	done
	[ "$ok" = 1 ] || die "the group of $n workers did not settle in 60 s (see $STACK_DIR/group-$n-*.log)"
	for ((i = 0; i < n; i++)); do
		w0=$(echo "$w0 + $(cpu_of "${PIDS[$i]}")" | bc)
	done
	cpu0=$(pg_cpu)
	k0=$(kafka_cpu)
	t0=$(now)
	produce_as_gateway "$topic"
	finish_workers "$db" "$cpu0" "$k0" "$STACK_DIR/group-$n-*.log"
	read -r pg kafka ours hwm <<<"$FINISHED"
	echo "$(echo "$(last_applied "$db") - $t0" | bc) $pg $(echo "$ours - $w0" | bc) $hwm $kafka" \
		"$(echo "$(last_applied "$db") - $t0 - $(applied_span "$db")" | bc)"
	drop_db "$db"
}

# kcat's publish rate for the same bodies, as the gateway's ceiling: prints
# seconds.
# The bodies over and over, some 3000 messages whatever BENCH_BATCHES: a
# few seconds, so kcat's start does not weigh in its rate.
KCAT_ROUNDS=$(((3000 + BATCHES - 1) / BATCHES))
run_kcat() {
	local t0 t1 i
	t0=$(now)
	for ((i = 0; i < KCAT_ROUNDS; i++)); do cat "$BODIES"; done |
		kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t bench.kcat -X enable.idempotence=true -X acks=all \
			-X compression.codec=lz4 -X linger.ms=5
	t1=$(now)
	echo "$t1 - $t0" | bc
}

# The gateway under wrk: 1000-patient PUTs from 16 connections for
# GW_SECONDS, every one published to Kafka (acks=all) before its 200. Prints
# "requests_per_s non_200_answers peak_rss_kb gateway_cpu_seconds". ARGS go
# to the gateway (the shared rate limit's run).
GW_SECONDS=${BENCH_GW_SECONDS:-15}
run_gateway() { # [ARGS...]
	local port admin pid out rps bad hwm cpu secret=bench-secret
	port=$(stack_free_port 27080)
	admin=$(stack_free_port 27180 "$port")
	printf 'bench:bench-key:%s\n' "$(printf %s "$secret" | "$GATEWAY" --hash-secret)" >"$STACK_DIR/bench.keys"
	head -n 1 "$BODIES" | tr -d '\n' >"$STACK_DIR/body.json"
	"$GATEWAY" "${GATEWAY_KAFKA[@]}" --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" \
		--keys-file "$STACK_DIR/bench.keys" --topic bench.gw --rate-limit 1000000 \
		--log-level warning "$@" 2>>"$STACK_DIR/gateway.log" &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		[ "$(curl -s "http://127.0.0.1:$admin/readyz")" = ready ] && break
		kill -0 "$pid" 2>/dev/null || die "the gateway did not start: $(tail -n 3 "$STACK_DIR/gateway.log")"
		sleep 0.1
	done
	out=$(BODY_FILE=$STACK_DIR/body.json API_KEY=bench-key SECRET_KEY=$secret \
		wrk -t2 -c16 -d"${GW_SECONDS}s" --latency -s "$SRC/tests/bench/wrk-put.lua" \
		"http://127.0.0.1:$port/v1/patients")
	if [ $# = 0 ]; then echo "$out" >"$STACK_DIR/wrk.out"; else echo "$out" >"$STACK_DIR/wrk.redis.out"; fi
	hwm=$(hwm_kb "$pid")
	cpu=$(cpu_of "$pid")
	kill -TERM "$pid"
	wait "$pid" || die "the gateway did not exit cleanly on SIGTERM (see $STACK_DIR/gateway.log)"
	rps=$(echo "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
	bad=$(echo "$out" | awk '/^status / && $2 != "200:" { n += $3 } END { print n + 0 }')
	[ -n "$rps" ] || die "wrk printed no rate (see $STACK_DIR/wrk.out)"
	echo "$rps $bad $hwm $cpu"
}

# --- one broker or the cluster ---------------------------------------------
# The daemons' Kafka arguments: none with one broker (plaintext, the
# environment's PATIENTS_KAFKA_BROKERS); on the cluster, each its own user.
WORKER_KAFKA=()
GATEWAY_KAFKA=()

# PostgreSQL and the 3-node cluster; the bench's topics (prefix bench) are
# granted to the gateway and worker users as patients.v1 and its DLQ are.
bench_cluster_up() {
	local kc=$STACK_DIR/kcluster
	STACK_PG_PORT_BASE=56439 CLUSTER_PORT_BASE=${CLUSTER_PORT_BASE:-27192} \
		cluster_stack_up "$STACK_DIR" >/dev/null 2>&1 || return 1
	{
		cluster_acl "$kc" --allow-principal User:gateway --operation Write --operation Describe \
			--resource-pattern-type prefixed --topic bench &
		cluster_acl "$kc" --allow-principal User:worker --operation Read --operation Write \
			--operation Describe --resource-pattern-type prefixed --topic bench &
		wait
	} >>"$STACK_DIR/kcluster.log" 2>&1
	WORKER_KAFKA=(--kafka-props-file "$(cluster_props "$kc" worker)")
	GATEWAY_KAFKA=(--kafka-props-file "$(cluster_props "$kc" gateway)")
}

# Creates TOPIC with PARTS partitions: RF 1 on one broker, RF 3 with
# min.insync.replicas 2 on the cluster.
bench_topic() { # TOPIC PARTS
	if [ "$KAFKA_MODE" = cluster ]; then
		cluster_topic "$STACK_DIR/kcluster" "$1" "$2" >>"$STACK_DIR/kcluster.log" 2>&1
	else
		stack_kafka_topic "$libs" "$STACK_DIR" "$1" "$2" >/dev/null
	fi
}

# --split: PostgreSQL on the last CPU alone (its running processes, and the
# postmaster, whose affinity every backend it forks later inherits); the
# broker's threads and this shell, so everything the bench starts from now
# on, on the others.
split_cpus() {
	local pg=$((NCPU - 1)) rest pm p
	[ "$NCPU" -ge 2 ] || die "--split needs 2 CPUs or more"
	rest=0-$((NCPU - 2))
	command -v taskset >/dev/null || die "taskset is missing (util-linux)"
	read -r pm <"$STACK_DIR/pg/data/postmaster.pid"
	for p in "$pm" $(pgrep -P "$pm"); do
		taskset -a -cp "$pg" "$p" >/dev/null || die "could not pin PostgreSQL's process $p"
	done
	taskset -a -cp "$rest" "$(<"$STACK_DIR/kafka.pid")" >/dev/null || die "could not pin the broker"
	taskset -cp "$rest" $$ >/dev/null || die "could not pin the bench"
}

# --- the run ---------------------------------------------------------------
main() {
	command -v bc >/dev/null || die "bc is missing (./dev.sh installs it)"
	build
	STACK_DIR=$(mktemp -d /tmp/patients-bench.XXXXXX)
	chmod 755 "$STACK_DIR"
	trap 'set +e; stack_down "$STACK_DIR"; [ -d "$STACK_DIR/kcluster" ] && cluster_down "$STACK_DIR/kcluster"; [ "${KEEP_STACK:-0}" = 1 ] || rm -rf "$STACK_DIR"' EXIT
	[ "$PROFILE" = 0 ] || export STACK_PG_OPTS="-c shared_preload_libraries=pg_stat_statements"
	if [ "$KAFKA_MODE" = cluster ]; then
		bench_cluster_up || die "could not start the stack (see $STACK_DIR/kcluster.log)"
	else
		STACK_PG_PORT_BASE=56439 STACK_KAFKA_PORT_BASE=27092 stack_up "$STACK_DIR" >/dev/null 2>&1 ||
			die "could not start the stack"
	fi
	[ "$SPLIT" = 0 ] || split_cpus
	# shellcheck disable=SC1091
	. "$STACK_DIR/stack.env"
	export PGHOST PGPORT PGUSER
	export PATIENTS_ADMIN_LISTEN=127.0.0.1:0
	libs=$(stack_kafka_libs)
	local t pids=()
	for t in bench:12 bench.dlq:1 bench.kcat:12 bench.gw:12; do
		bench_topic "${t%:*}" "${t#*:}" &
		pids+=($!)
	done
	for t in "${pids[@]}"; do wait "$t" || die "could not create the bench topics"; done

	DATA=$STACK_DIR/batches.jsonl
	BODIES=$STACK_DIR/bodies.jsonl
	make_data 0 >"$DATA"
	make_data 1 >"$STACK_DIR/keyed.jsonl"
	make_bodies <"$DATA" >"$BODIES"
	say "producing the batches to Kafka"
	produce_as_gateway bench

	# A fresh broker creates its internal topics (__consumer_offsets...) on
	# first use, which takes a second: warm it up, as a production broker
	# would be, with a worker run over one batch.
	say "warming up the broker"
	bench_topic bench.warm 1
	head -n 1 "$STACK_DIR/keyed.jsonl" | kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t bench.warm -K:
	fresh_db bench_warm
	PGDATABASE=bench_warm "$WORKER" "${WORKER_KAFKA[@]}" --topic bench.warm --dlq-topic bench.dlq --group warm \
		--exit-at-end >/dev/null 2>>"$STACK_DIR/warm.log" || die "warm-up failed (see $STACK_DIR/warm.log)"
	drop_db bench_warm

	local patients=$((BATCHES * PER_BATCH)) base= w1= g1 g2 g4 kc gw
	# The machine is shared and noisy: the baseline and the single worker,
	# the ratio that matters, are taken REPEAT times, interleaved, and each
	# keeps its fastest run.
	local i r
	for ((i = 1; i <= REPEAT; i++)); do
		say "baseline: direct loader, $CONNECTIONS connections ($i/$REPEAT)"
		r=($(run_loader))
		[ -z "${base:-}" ] || [ "$(echo "${r[0]} < ${base[0]}" | bc)" = 1 ] && base=("${r[@]}")
		say "worker x1 ($i/$REPEAT)"
		r=($(run_worker))
		[ -z "${w1:-}" ] || [ "$(echo "${r[0]} < ${w1[0]}" | bc)" = 1 ] && w1=("${r[@]}")
	done
	for i in 1 2 4; do
		say "scaling: $i worker(s) in a formed group"
		r=($(run_group "$i"))
		eval "g$i=(\"\${r[@]}\")"
	done
	say "kcat publish"
	kc=$(run_kcat)
	say "gateway: wrk, ${GW_SECONDS}s"
	gw=($(run_gateway))
	# The same with the shared rate limit: one Lua script in a redis-server
	# of its own (no persistence) per request.
	say "gateway with --rate-limit-redis: wrk, ${GW_SECONDS}s"
	local rport rpid
	rport=$(stack_free_port 26590)
	redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$STACK_DIR" \
		--loglevel warning >"$STACK_DIR/redis.log" 2>&1 &
	rpid=$!
	for ((i = 0; i < 50; i++)); do
		[ "$(redis-cli -p "$rport" ping 2>/dev/null)" = PONG ] && break
		sleep 0.1
	done
	gwr=($(run_gateway --rate-limit-redis "redis://127.0.0.1:$rport"))
	kill -TERM "$rpid"
	wait "$rpid" || true

	rate() { echo "scale=0; $patients / $1" | bc; }
	# Steady: the batches after the first, over the time between the
	# first commit and the last.
	steady() { echo "scale=0; ($BATCHES - 1) * $PER_BATCH / $1" | bc; }
	ratio() { echo "scale=2; $2 / $1" | bc; }
	share() { echo "scale=0; 100 * $1 / ($2 * $NCPU)" | bc; }

	local br bs
	br=$(rate "${base[0]}")
	bs=$(steady "${base[3]}")
	echo
	echo "bench: $BATCHES batches x $PER_BATCH patients ($patients), $CONNECTIONS connections per process, $NCPU CPUs"
	[ "$SPLIT" = 0 ] || echo "--split: PostgreSQL alone on CPU $((NCPU - 1)), everything else on CPU 0-$((NCPU - 2))"
	if [ "$KAFKA_MODE" = cluster ]; then
		echo "Kafka: the 3-node cluster (RF 3, min.insync.replicas 2, SASL_SSL, SCRAM, ACLs)"
	else
		echo "Kafka: one plaintext broker"
	fi
	echo "(all: from the process's start to the last commit; steady: first to last commit;"
	echo " start: to the first commit; cpu: share of all $NCPU CPUs over the run;"
	echo " peak rss: VmHWM of the largest process)"
	printf '%-32s %10s %5s %10s %5s %6s %5s %5s %5s %8s\n' "run" "all p/s" "ratio" "steady p/s" "ratio" \
		"start" "pg" "kafka" "ours" "peak rss"
	printf '%-32s %10s %5s %10s %5s %5.2fs %4s%% %4s%% %5s %8s\n' "baseline: direct loader (libpq)" \
		"$br" "1.00" "$bs" "1.00" "$(echo "${base[0]} - ${base[3]}" | bc)" \
		"$(share "${base[1]}" "${base[0]}")" "$(share "${base[2]}" "${base[0]}")" "-" "-"
	printf '%-32s %10s %5s %10s %5s %5.2fs %4s%% %4s%% %4s%% %4s MiB\n' "worker x1 (end to end)" \
		"$(rate "${w1[0]}")" "$(ratio "$br" "$(rate "${w1[0]}")")" \
		"$(steady "${w1[5]}")" "$(ratio "$bs" "$(steady "${w1[5]}")")" \
		"$(echo "${w1[0]} - ${w1[5]}" | bc)" \
		"$(share "${w1[1]}" "${w1[0]}")" "$(share "${w1[4]}" "${w1[0]}")" \
		"$(share "${w1[2]}" "${w1[0]}")" "$((w1[3] / 1024))"
	# What the worker costs, apart from the noise the rates carry: its
	# CPU (user + system, in clock ticks) over the batches it applied.
	echo "(the worker's own CPU: $(echo "scale=2; 1000 * ${w1[2]} / $BATCHES" | bc) ms per batch of $PER_BATCH patients)"
	echo
	echo "scaling: the group formed first on an empty topic, then the same batches produced to it"
	echo "(p/s: from the first message produced to the last commit; ratio: to the baseline's all p/s;"
	echo " kafka includes taking the produced batches in)"
	printf '%-32s %10s %5s %6s %5s %5s %5s %8s\n' "run" "p/s" "ratio" "first" "pg" "kafka" "ours" "peak rss"
	for run in g1 g2 g4; do
		local -n rr=$run
		printf '%-32s %10s %5s %5.2fs %4s%% %4s%% %4s%% %4s MiB\n' "worker x${run#g} (one group)" \
			"$(rate "${rr[0]}")" "$(ratio "$br" "$(rate "${rr[0]}")")" "${rr[5]}" \
			"$(share "${rr[1]}" "${rr[0]}")" "$(share "${rr[4]}" "${rr[0]}")" \
			"$(share "${rr[2]}" "${rr[0]}")" "$((rr[3] / 1024))"
	done
	local kr
	kr=$(echo "scale=0; $KCAT_ROUNDS * $BATCHES / $kc" | bc)
	echo
	printf '%-32s %14s %5s %5s %8s\n' "publish" "1000-patient/s" "ratio" "ours" "peak rss"
	printf '%-32s %14s %5s %5s %8s\n' "kcat (gateway ceiling)" "$kr" "1.00" "-" "-"
	printf '%-32s %14s %5s %4s%% %4s MiB\n' "gateway PUT (wrk -c16)" "${gw[0]%.*}" \
		"$(echo "scale=2; ${gw[0]} / $kr" | bc)" \
		"$(echo "scale=0; 100 * ${gw[3]} / ($GW_SECONDS * $NCPU)" | bc)" "$((gw[2] / 1024))"
	printf '%-32s %14s %5s %4s%% %4s MiB\n' "gateway PUT, shared rate limit" "${gwr[0]%.*}" \
		"$(echo "scale=2; ${gwr[0]} / $kr" | bc)" \
		"$(echo "scale=0; 100 * ${gwr[3]} / ($GW_SECONDS * $NCPU)" | bc)" "$((gwr[2] / 1024))"
	echo "(shared rate limit / local only: $(echo "scale=2; ${gwr[0]} / ${gw[0]}" | bc))"
	[ "${gw[1]}" = 0 ] || echo "gateway: ${gw[1]} answers were not 200 (see $STACK_DIR/wrk.out)"
	[ "${gwr[1]}" = 0 ] || echo "gateway (shared limit): ${gwr[1]} answers were not 200 (see $STACK_DIR/wrk.redis.out)"
	echo "(wrk latency: $(sed -n 's/^ *99% *//p' "$STACK_DIR/wrk.out") p99)"
	[ "${BENCH_METHODS:-1}" = 0 ] || run_methods
	[ "$PROFILE" = 0 ] || profile_main
	[ "$PEERS" = 1 ] || return 0

	# The peers come last: their 200 MB of records are not in the broker's
	# page cache while the worker runs.
	peer_main
	local row label
	echo
	echo "peers: Kafka Connect $PEER_KAFKA_VERSION standalone + Debezium JDBC sink $PEER_DEBEZIUM_VERSION," \
		"$CONNECTIONS tasks, the same $patients patients as $patients records"
	echo "(JSON with schema, $((PEER_BYTES / patients)) bytes each before lz4; every run ended with the worker's rows: count and digest;"
	echo " all: from the JVM's start (cold) or the connector's creation (warm) to the last commit;"
	echo " worker/them: the worker x1's all p/s above over theirs; peak rss: the JVM's VmHWM since its start)"
	printf '%-32s %10s %7s %10s %6s %5s %5s %6s %8s\n' "run" "all p/s" "wkr/them" "steady p/s" \
		"first" "pg" "kafka" "theirs" "peak rss"
	for row in "${PEER_ROWS[@]}"; do
		label=${row%%|*}
		r=(${row#*|})
		printf '%-32s %10s %7sx %10s %5.2fs %4s%% %4s%% %5s%% %4s MiB\n' "$label" \
			"$(rate "${r[0]}")" "$(ratio "$(rate "${r[0]}")" "$(rate "${w1[0]}")")" \
			"$(steady "${r[5]}")" "${r[6]}" \
			"$(share "${r[1]}" "${r[0]}")" "$(share "${r[4]}" "${r[0]}")" \
			"$(share "${r[2]}" "${r[0]}")" "$((r[3] / 1024))"
	done
	echo "worker x1 / Debezium's fastest run: $(ratio "$(rate "$PEER_BEST")" "$(rate "${w1[0]}")")x"
}

main "$@"
