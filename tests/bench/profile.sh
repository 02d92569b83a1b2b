# shellcheck shell=bash
# `./dev.sh bench --profile`: where a batch's time goes inside PostgreSQL,
# for the loader (the baseline) and the worker on the same batches, after
# the figures of run.sh and in the same run. Sourced by tests/bench/run.sh,
# which defines the measuring helpers (fresh_db, settle, pg_cpu, now...)
# and starts PostgreSQL with pg_stat_statements loaded when --profile is
# given (it costs every statement a little, so the plain bench runs
# without it).
#
# Three views of one run each:
#   - what the client backends were doing, sampled every 20 ms from
#     pg_stat_activity by one more backend: on the CPU (active, no wait),
#     flushing WAL at commit (IO:WALSync, IO:WALWrite), waiting for the
#     client (idle, ClientRead), on a lock, or else;
#   - pg_stat_statements: the apply statement's calls, mean execution time
#     and WAL bytes per call (the commit's flush is not in its time);
#   - perf: PostgreSQL's hottest functions over the run, sampled on every
#     CPU (perf record -a; the backends are started by the run itself).

# Samples the client backends of DB that apply batches (their last
# statement is the apply statement) until those it saw have gone (the
# loader exits; the workers are stopped), five minutes at most. Prints
# "epoch pid cpu_ns runq_ns class what" per backend and sample: cpu_ns and
# runq_ns are the backend's time on a CPU and runnable waiting for one
# since it started (/proc/PID/schedstat; - once it has gone), class the
# one place a state is sorted: cpu (active, no wait: on a CPU or waiting
# for one), wal (flushing WAL: commit), client (idle, waiting for its
# client), lock (heavy or light) or other.
# Run it in the background before the run.
profile_sample() { # DB
	psql -X -q -d postgres -v ON_ERROR_STOP=1 -tA -F' ' <<-SQL
		CREATE TEMP TABLE sample (at float8, pid int, sched text, what text);
		DO \$\$
		DECLARE
			seen boolean := false;
			n int;
			t0 timestamptz := clock_timestamp();
		BEGIN
			LOOP
				-- A fresh read each time: pg_stat_activity is otherwise
				-- one snapshot for the whole transaction.
				PERFORM pg_stat_clear_snapshot();
				-- With the backend's scheduler counters: nanoseconds on
				-- a CPU and waiting for one (runnable, which
				-- pg_stat_activity shows as running), and timeslices;
				-- NULL once the backend has gone.
				INSERT INTO sample
				SELECT extract(epoch FROM clock_timestamp()), pid,
					pg_read_file('/proc/' || pid || '/schedstat', 0, 100, true),
					CASE WHEN state = 'active'
					THEN coalesce(wait_event_type || ':' || wait_event, 'CPU')
					ELSE coalesce(state, '?') || ' ' || coalesce(wait_event, '-') END
				FROM pg_stat_activity
				WHERE datname = '$1' AND backend_type = 'client backend'
					AND pid <> pg_backend_pid()
					-- Only the connections that apply batches: the
					-- worker's polling thread keeps one more, idle
					-- between offset loads, which counted as a third of
					-- the worker's time "waiting for the client".
					AND query LIKE '%off_new%';
				GET DIAGNOSTICS n = ROW_COUNT;
				IF n > 0 THEN
					seen := true;
				ELSIF seen THEN
					EXIT;
				END IF;
				EXIT WHEN clock_timestamp() - t0 > interval '300 s';
				PERFORM pg_sleep(0.02);
			END LOOP;
		END
		\$\$;
		SELECT at, pid, coalesce(nullif(split_part(trim(sched), ' ', 1), ''), '-'),
			coalesce(nullif(split_part(trim(sched), ' ', 2), ''), '-'),
			CASE WHEN what = 'CPU' THEN 'cpu'
			WHEN what LIKE 'IO:WAL%' THEN 'wal'
			WHEN what = 'idle ClientRead' THEN 'client'
			WHEN what LIKE 'Lock:%' OR what LIKE 'LWLock:%' THEN 'lock'
			ELSE 'other' END, what
		FROM sample ORDER BY at;
	SQL
}

# The samples between the first commit and the last (the steady run: not
# the connections' start nor the group's join), as "count what" rows, most
# first: "count class what".
profile_window() { # FILE FROM TO
	awk -v from="$2" -v to="$3" '$1 >= from && $1 <= to { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); n[$0]++ }
		END { for (w in n) print n[w], w }' "$1" | sort -k1,1rn -k2
}

# The share of samples idle waiting for the client in each tenth of the
# window, as ten numbers: a stall spread over the run (the feeding) or
# gathered at its end (the last partitions' batches, one at a time).
profile_tenths() { # FILE FROM TO
	awk -v from="$2" -v to="$3" '$1 >= from && $1 <= to {
			k = int(10 * ($1 - from) / (to - from + 1e-9)); n[k]++
			if ($5 == "client") c[k]++ }
		END { for (k = 0; k < 10; k++) printf "%s%d%%", k ? " " : "", n[k] ? 100 * c[k] / n[k] : 0
			print "" }' "$1"
}

# Where the applying backends' time went over the window, from their
# scheduler counters: "cpu_ms runq_ms" per batch, the sums over every
# backend of the time on a CPU and runnable waiting for one, between its
# first sample in the window and its last, over BATCHES. What is left of a
# batch's connection time (ms/batch) is sleeping: flushing WAL, waiting
# for the client or a lock.
profile_sched() { # FILE FROM TO
	awk -v from="$2" -v to="$3" -v batches="$BATCHES" '$1 >= from && $1 <= to && $3 != "-" {
			if (!($2 in c0)) { c0[$2] = $3; r0[$2] = $4 }
			c1[$2] = $3; r1[$2] = $4 }
		END { for (p in c0) { c += c1[p] - c0[p]; r += r1[p] - r0[p] }
			printf "%.2f %.2f\n", c / 1e6 / batches, r / 1e6 / batches }' "$1"
}

# profile_window's rows as shares: "cpu wal client lock other samples"
# (percent of all samples, then how many there were).
profile_shares() { # FILE
	awk '{ n[$2] += $1; t += $1 }
		END { if (!t) t = 1; printf "%d %d %d %d %d %d\n", 100 * n["cpu"] / t, 100 * n["wal"] / t,
			100 * n["client"] / t, 100 * n["lock"] / t, 100 * n["other"] / t, t }' "$1"
}

# The apply statement in DB's pg_stat_statements: "calls mean_ms wal_bytes_per_call".
profile_statement() { # DB
	psql -X -tA -F' ' -d postgres -c "SELECT calls, round(mean_exec_time::numeric, 2),
		round(wal_bytes / greatest(calls, 1)) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
		WHERE d.datname = '$1' AND query LIKE '%off_new%' ORDER BY calls DESC LIMIT 1"
}

# One profiled run: NAME (loader or worker), with perf over every CPU while
# it lasts. Prints the steady seconds (first commit to last) and leaves
# $STACK_DIR/profile.NAME.{samples,stmt,perf}, the samples of that window.
profile_run() { # NAME
	local name=$1 db=bench_base sampler perf= window
	[ "$name" = worker ] && db=bench_w1
	fresh_db "$db"
	settle
	psql -X -q -d postgres -c 'SELECT pg_stat_statements_reset()' >/dev/null
	profile_sample "$db" >"$STACK_DIR/profile.$name.raw" 2>>"$STACK_DIR/profile.log" &
	sampler=$!
	if command -v perf >/dev/null; then
		perf record -F 199 -a -q -o "$STACK_DIR/profile.$name.perf" 2>>"$STACK_DIR/profile.log" &
		perf=$!
	fi
	if [ "$name" != worker ]; then
		# kcat: the loader again, with the broker serving the topic's
		# batches to a client (kcat, reading them over and over)
		# meanwhile, as it serves them to the worker: what the broker's
		# and a consumer's share of the 2 cores costs PostgreSQL without
		# the worker.
		local flag="$STACK_DIR/profile.kcat.run" fetcher=
		if [ "$name" = kcat ]; then
			: >"$flag"
			(while [ -e "$flag" ]; do
				kcat -b "$PATIENTS_KAFKA_BROKERS" -C -t bench -o beginning -e -q -f '%o\n' \
					>/dev/null 2>>"$STACK_DIR/profile.log" || break
			done) &
			fetcher=$!
		fi
		PGDATABASE=$db "$LOADER" -c "$CONNECTIONS" -m unnest "$DATA" >/dev/null
		rm -f "$flag"
		[ -z "$fetcher" ] || wait "$fetcher" || true
	else
		PGDATABASE=$db "$WORKER" --topic bench --dlq-topic bench.dlq --group "bench-p-$$" \
			--from-beginning --db-connections "$CONNECTIONS" --log-level warning \
			2>>"$STACK_DIR/profile.log" &
		PIDS=($!)
		finish_workers "$db" "$(pg_cpu)" "$(kafka_cpu)" "$STACK_DIR/profile.log"
	fi
	[ -z "$perf" ] || { kill -INT "$perf"; wait "$perf" || true; }
	wait "$sampler" || die "the profile's sampler failed (see $STACK_DIR/profile.log)"
	[ "$(batches_in "$db")" = "$BATCHES" ] || die "the profiled $name run did not apply every batch"
	window=$(PGDATABASE=$db psql -X -tA -F' ' -c 'SELECT extract(epoch FROM min(applied_at)),
		extract(epoch FROM max(applied_at)) FROM patient_batches')
	# shellcheck disable=SC2086
	profile_window "$STACK_DIR/profile.$name.raw" $window >"$STACK_DIR/profile.$name.samples"
	# shellcheck disable=SC2086
	profile_tenths "$STACK_DIR/profile.$name.raw" $window >"$STACK_DIR/profile.$name.tenths"
	# shellcheck disable=SC2086
	profile_sched "$STACK_DIR/profile.$name.raw" $window >"$STACK_DIR/profile.$name.sched"
	profile_statement "$db" >"$STACK_DIR/profile.$name.stmt"
	applied_span "$db"
	drop_db "$db"
}

# PostgreSQL's hottest functions in a perf file, as "percent symbol" lines
# (shares of PostgreSQL's samples). awk reads to the end: perf killed by
# SIGPIPE would fail the bench (pipefail).
profile_hot() { # FILE
	[ -s "$1" ] || return 0
	perf report -i "$1" --comm postgres --percentage relative --no-children --sort symbol \
		--stdio -q 2>/dev/null |
		awk '$1 ~ /%$/ && n < 12 { sym = $0; sub(/^ *[0-9.]+% +\[[.k]\] +/, "", sym)
			sub(/  .*/, "", sym); printf "  %7s %s\n", $1, sym; n++ }'
}

profile_main() {
	local name s r st sc rows=()
	psql -X -q -d postgres -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' \
		>/dev/null || die "pg_stat_statements is not loaded"
	for name in loader kcat worker; do
		say "profile: $name"
		s=$(profile_run "$name")
		r=($(profile_shares "$STACK_DIR/profile.$name.samples"))
		st=($(cat "$STACK_DIR/profile.$name.stmt"))
		sc=($(cat "$STACK_DIR/profile.$name.sched"))
		rows+=("$(printf '%-8s %7s %8s %6s%% %6s%% %7s%% %5s%% %6s%% %7s %7s %9s %10s' "$name" \
			"$(echo "scale=0; ($BATCHES - 1) * $PER_BATCH / $s" | bc)" \
			"$(echo "scale=2; 1000 * $s * $CONNECTIONS / $BATCHES" | bc)" \
			"${r[0]}" "${r[1]}" "${r[2]}" "${r[3]}" "${r[4]}" "${sc[0]:--}" "${sc[1]:--}" \
			"${st[1]:--}" "${st[2]:--}")")
	done
	echo
	echo "profile: where a batch's time goes in PostgreSQL ($CONNECTIONS connections, one run each)"
	echo "(p/s and ms/batch: steady, first commit to last; ms/batch: a batch's share of one connection's"
	echo " time; then the client backends' time over that window, sampled every 20 ms: cpu = running,"
	echo " wal = flushing WAL (commit), client = idle waiting for the client,"
	echo " lock = heavy or light locks; on cpu and runq: ms per batch the backends ran and were runnable"
	echo " waiting for a CPU (/proc/PID/schedstat; running in pg_stat_activity is both);"
	echo " exec ms and wal/call: pg_stat_statements' apply statement;"
	echo " kcat: the loader while kcat reads the topic's batches over and over, the broker serving them)"
	printf '%-8s %7s %8s %7s %7s %8s %6s %7s %7s %7s %9s %10s\n' "run" "p/s" "ms/batch" "cpu" "wal" "client" \
		"lock" "other" "on cpu" "runq" "exec ms" "wal/call"
	printf '%s\n' "${rows[@]}"
	for name in loader worker; do
		echo "$name: idle waiting for the client, by tenth of the window: $(cat "$STACK_DIR/profile.$name.tenths")"
	done
	for name in loader worker; do
		echo "what else the $name's backends waited on (samples):"
		awk '($2 == "lock" || $2 == "other") && n++ < 5 { $2 = ""; print }' \
			"$STACK_DIR/profile.$name.samples" | sed 's/^/  /; s/  */ /2'
		if [ -s "$STACK_DIR/profile.$name.perf" ]; then
			echo "PostgreSQL's hottest functions during the $name run (perf, share of its samples):"
			profile_hot "$STACK_DIR/profile.$name.perf"
		fi
	done
}
