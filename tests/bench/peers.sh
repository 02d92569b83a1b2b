# shellcheck shell=bash
# `./dev.sh bench --peers`: the peer a platform team would deploy instead of
# patients-worker, measured in the same run as the worker, on the same
# broker and database: Kafka Connect standalone (the broker's version) with
# Debezium's JDBC sink. Sourced by tests/bench/run.sh, which defines the
# measuring helpers (cpu_of, pg_cpu, kafka_cpu, hwm_kb, fresh_db, settle...).
#
# The same patients as the worker's batches, one Kafka record per patient,
# JSON with schema (what Debezium's sink needs to build its statements),
# keyed by tenant, produced as the gateway produces (lz4, idempotent,
# acks=all), upserted on (tenant, code) from the value into a pre-created
# table of our shape (the migrated schema; schema.evolution=none).

PEER_KAFKA_VERSION=${PEER_KAFKA_VERSION:-3.9.1}
PEER_DEBEZIUM_VERSION=${PEER_DEBEZIUM_VERSION:-3.6.0.Final}

# Connect's jars and Debezium's plugin, fetched once from Maven Central
# (about 100 MB) into the cache the broker's jars live in, so later runs are
# offline. Prints the folder (libs/ and plugins/ under it).
peer_fetch() {
	local dir="$STACK_CACHE/connect-$PEER_KAFKA_VERSION-debezium-$PEER_DEBEZIUM_VERSION"
	local pom="$SRC/tests/kafka/connect-pom.xml"
	if [ ! -f "$dir/.complete" ]; then
		say "fetching Kafka Connect $PEER_KAFKA_VERSION and Debezium JDBC $PEER_DEBEZIUM_VERSION into $dir"
		rm -rf "$dir"
		mkdir -p "$dir/plugins"
		mvn -q -B -Dstyle.color=never -f "$pom" -Dkafka.version="$PEER_KAFKA_VERSION" \
			dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/libs" >&2 &&
			mvn -q -B -Dstyle.color=never -f "$pom" -Ddebezium.version="$PEER_DEBEZIUM_VERSION" \
				dependency:copy -DoutputDirectory="$dir/dl" >&2 ||
			die "mvn could not fetch Kafka Connect or Debezium"
		tar -xzf "$dir"/dl/debezium-connector-jdbc-*-plugin.tar.gz -C "$dir/plugins" ||
			die "cannot unpack Debezium's plugin"
		rm -rf "$dir/dl"
		touch "$dir/.complete"
	fi
	echo "$dir"
}

# The records, from the same generator as the batches (make_data in run.sh
# with mode "peer"): "tenant:{schema, payload}" per patient, in batch order.
# birthdate is Connect's Date (days since 1970-01-01), received_at its
# Timestamp (ms), request_id Debezium's Uuid (bound as uuid), so the sink
# writes the same values as the worker into the same column types.

# Done once every tenant's last record is in the table (a partition is
# applied in order, so all before it are too; the digest at the end checks
# it): an SQL condition for wait_start (run.sh).
peer_done() {
	echo "(SELECT count(*) FROM patients p JOIN (VALUES $PEER_FINAL) AS e(tenant, code, rid)
		ON p.tenant = e.tenant AND p.code = e.code AND p.request_id = e.rid::uuid) = $PEER_NFINAL"
}

# The rows a run left, as "count md5": the same for the worker and the peer
# when both wrote the same final state (timestamps of writing left out).
digest_of() { # DB
	PGDATABASE=$1 psql -X -tA -F' ' -c "SELECT count(*), md5(string_agg(concat_ws('|', tenant, code,
		first_name, coalesce(last_name, '~'), gender, birthdate, coalesce(email, '~'),
		extract(epoch FROM received_at), request_id), ',' ORDER BY tenant, code)) FROM patients"
}

# The sink's configuration: CONFIG is "default" (batch.size 1000, JDBC
# statement batching) or "fastest" (unnest insert and the reduction buffer).
peer_config_json() { # NAME CONFIG DB
	local extra=
	[ "$2" = fastest ] && extra=',"dialect.postgres.unnest.insert.enabled":"true","use.reduction.buffer":"true"'
	printf '{"name":"%s","config":{"connector.class":"io.debezium.connector.jdbc.JdbcSinkConnector",' "$1"
	printf '"tasks.max":"%s","topics":"peer",' "$CONNECTIONS"
	printf '"connection.url":"jdbc:postgresql://127.0.0.1:%s/%s","connection.username":"%s",' "$PGPORT" "$3" "$PGUSER"
	printf '"connection.password":"unused","insert.mode":"upsert","primary.key.mode":"record_value",'
	printf '"primary.key.fields":"tenant,code","schema.evolution":"none","collection.name.format":"patients",'
	printf '"delete.enabled":"false","batch.size":"1000","errors.tolerance":"none"%s}}' "$extra"
}

peer_rest() { # METHOD PATH [BODY]
	curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} \
		"http://127.0.0.1:$PEER_REST_PORT$2"
}

# Starts Connect standalone with no connector (they are created through the
# REST API, so the cold and the warm runs are configured the same way).
# Heap and GC as connect-standalone.sh / kafka-run-class.sh set them.
peer_start() {
	local dir=$1 i
	PEER_REST_PORT=$(stack_free_port 28083)
	cat >"$STACK_DIR/connect.properties" <<-EOF
		bootstrap.servers=$PATIENTS_KAFKA_BROKERS
		key.converter=org.apache.kafka.connect.storage.StringConverter
		value.converter=org.apache.kafka.connect.json.JsonConverter
		value.converter.schemas.enable=true
		offset.storage.file.filename=$STACK_DIR/connect.offsets
		offset.flush.interval.ms=10000
		plugin.path=$dir/plugins
		plugin.discovery=service_load
		listeners=http://127.0.0.1:$PEER_REST_PORT
		consumer.max.poll.records=1000
		consumer.auto.offset.reset=earliest
	EOF
	mkdir -p "$STACK_DIR/connect"
	java -Xms256M -Xmx2G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
		"-Dlog4j.configuration=file:$SRC/tests/kafka/log4j.properties" "-Dkafka.log.dir=$STACK_DIR/connect" \
		-cp "$dir/libs/*" org.apache.kafka.connect.cli.ConnectStandalone "$STACK_DIR/connect.properties" \
		>"$STACK_DIR/connect/stdout.log" 2>&1 </dev/null &
	PEER_PID=$!
	for ((i = 0; i < 1200; i++)); do
		peer_rest GET /connectors >/dev/null 2>&1 && return 0
		kill -0 "$PEER_PID" 2>/dev/null || die "Kafka Connect exited (see $STACK_DIR/connect/)"
		sleep 0.1
	done
	die "Kafka Connect did not answer in 120 s (see $STACK_DIR/connect/)"
}

peer_stop() {
	kill -TERM "$PEER_PID" 2>/dev/null || true
	wait "$PEER_PID" 2>/dev/null || true
}

# One run: a fresh database, a connector of a new name (so a new consumer
# group from the earliest offset), timed from T0 (the JVM's start when cold,
# the connector's creation when warm) to the commit of the last tenant's last
# record. Prints "seconds pg_cpu_s connect_cpu_s peak_rss_kb kafka_cpu_s
# span_s first_s digest_retries".
peer_run() { # NAME CONFIG T0 CPU0(connect cpu at T0)
	local name=$1 db=bench_peer pg0 k0 pg1 k1 c1 hwm first last span d i
	fresh_db "$db"
	settle
	pg0=$(pg_cpu)
	k0=$(kafka_cpu)
	local t0=${3:-}
	[ -n "$t0" ] || t0=$(now)
	peer_rest POST /connectors "$(peer_config_json "$name" "$2" "$db")" >/dev/null ||
		die "Connect refused the connector $name (see $STACK_DIR/connect/)"
	wait_start "$db" "$(peer_done)"
	for ((i = 0; ; i++)); do
		kill -0 "$WAITER" 2>/dev/null || break
		[ $i -lt 2400 ] || wait_die "the peer ($name) did not finish in 10 min (see $STACK_DIR/connect/)"
		kill -0 "$PEER_PID" 2>/dev/null || wait_die "Kafka Connect exited (see $STACK_DIR/connect/)"
		if [ $((i % 20)) = 19 ] && peer_rest GET "/connectors/$name/status" | grep -q '"FAILED"'; then
			wait_die "the peer's task failed: $(peer_rest GET "/connectors/$name/status" | head -c 2000)"
		fi
		sleep 0.25
	done
	wait "$WAITER" || die "waiting for the peer's rows failed (see $STACK_DIR/wait.log)"
	pg1=$(pg_cpu)
	k1=$(kafka_cpu)
	c1=$(cpu_of "$PEER_PID")
	hwm=$(hwm_kb "$PEER_PID")
	# created_at is now() of the transaction that inserted the row, as the
	# worker's applied_at: the first and the last records are inserts.
	read -r first last < <(PGDATABASE=$db psql -X -tA -F' ' -c "SELECT extract(epoch FROM min(created_at)),
		(SELECT extract(epoch FROM max(p.created_at)) FROM patients p JOIN (VALUES $PEER_FINAL) AS e(tenant, code, rid)
		  ON p.tenant = e.tenant AND p.code = e.code) FROM patients")
	for ((i = 0; i < 20; i++)); do
		d=$(digest_of "$db")
		[ "$d" = "$(<"$STACK_DIR/digest.worker")" ] && break
		sleep 0.5
	done
	[ "$d" = "$(<"$STACK_DIR/digest.worker")" ] ||
		die "the peer ($name) left other rows than the worker: $d against $(<"$STACK_DIR/digest.worker")"
	peer_rest DELETE "/connectors/$name" >/dev/null || true
	# Its tasks close their connections before the database can be dropped.
	for ((d = 0; d < 100; d++)); do
		[ "$(psql -X -tA -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'")" = 0 ] && break
		sleep 0.2
	done
	span=$(echo "$last - $first" | bc)
	echo "$(echo "$last - $t0" | bc) $(echo "$pg1 - $pg0" | bc) $(echo "$c1 - $4" | bc) $hwm" \
		"$(echo "$k1 - $k0" | bc) $span $(echo "$first - $t0" | bc) $i"
	drop_db "$db"
}

# The whole peer section: both configurations, each cold (a JVM started for
# it) then warm (a second connector in the same JVM). Sets PEER_ROWS to the
# table's lines, and PEER_BEST to the fastest run's all-in seconds.
peer_main() {
	local dir cfg t0 r label
	dir=$(peer_fetch)
	say "peers: producing $((BATCHES * PER_BATCH)) records (JSON with schema) to Kafka"
	stack_kafka_topic "$libs" "$STACK_DIR" peer 12 >/dev/null
	make_data peer >"$STACK_DIR/peer.jsonl"
	PEER_FINAL=$(<"$STACK_DIR/peer.final")
	PEER_NFINAL=$(grep -o "(" "$STACK_DIR/peer.final" | wc -l)
	kcat -b "$PATIENTS_KAFKA_BROKERS" -P -t peer -K: -X enable.idempotence=true -X acks=all \
		-X compression.codec=lz4 -X linger.ms=2 <"$STACK_DIR/peer.jsonl"
	PEER_BYTES=$(wc -c <"$STACK_DIR/peer.jsonl")
	PEER_ROWS=()
	PEER_BEST=
	for cfg in default fastest; do
		say "peers: Debezium JDBC sink, $cfg, cold JVM"
		t0=$(now)
		peer_start "$dir"
		r=($(peer_run "cold-$cfg" "$cfg" "$t0" 0))
		PEER_ROWS+=("debezium $cfg, cold JVM|${r[*]}")
		[ -n "$PEER_BEST" ] && [ "$(echo "${r[0]} >= $PEER_BEST" | bc)" = 1 ] || PEER_BEST=${r[0]}
		say "peers: Debezium JDBC sink, $cfg, warm JVM"
		r=($(peer_run "warm-$cfg" "$cfg" "" "$(cpu_of "$PEER_PID")"))
		PEER_ROWS+=("debezium $cfg, warm JVM|${r[*]}")
		[ "$(echo "${r[0]} >= $PEER_BEST" | bc)" = 1 ] || PEER_BEST=${r[0]}
		peer_stop
	done
}
