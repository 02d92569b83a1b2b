# shellcheck shell=bash
# A throwaway PostgreSQL cluster and a single-node Apache Kafka broker (KRaft),
# both living in one folder and stopped by their own pids. Sourced by dev.sh
# (the stack under .run/) and by the integration tests (a stack of their own
# under a temporary folder).
#
#   stack_up DIR       start both (idempotent), write DIR/stack.env
#   stack_down DIR     stop what DIR's pid files name; leaves no process behind
#   stack_pg_up DIR / stack_pg_down DIR / stack_kafka_up DIR / stack_kafka_down DIR
#   stack_pg_tls DIR   PostgreSQL also serves TLS (CA in DIR/pg/tls/ca.crt)
#   stack_pg_roles DIR the roles of sql/roles.sql
#
# Ports are picked free at first start and kept in DIR/ports so a restart
# reuses them (clients keep working across a broker or database restart).

STACK_KAFKA_VERSION=${STACK_KAFKA_VERSION:-3.9.1}
STACK_CACHE=${PATIENTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/patients-dev}
STACK_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK_TOPIC=${PATIENTS_TOPIC:-patients.v1}
STACK_PARTITIONS=${STACK_PARTITIONS:-12}

stack_log() { printf '%s\n' "stack: $*" >&2; }

# The newest installed PostgreSQL server binaries (Debian keeps them out of PATH).
# (Every success below says "return 0": a bare return in a function called
# from an EXIT trap returns the status the script was exiting with, which
# once left a failed run's PostgreSQL running.)
stack_pg_bindir() {
	local d
	if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
		pg_config --bindir
		return 0
	fi
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] && [ -x "$d/initdb" ] || { stack_log "no PostgreSQL server found (apt-get install postgresql)"; return 1; }
	echo "$d"
}

# initdb refuses to run as root; as root the cluster belongs to the postgres user.
stack_pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

stack_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints a free TCP port at or above $1 (skipping those in the rest of the args).
stack_free_port() {
	local p=$1 skip
	shift
	while :; do
		skip=
		for s in "$@"; do [ "$s" = "$p" ] && skip=1; done
		if [ -z "$skip" ] && ! stack_port_busy "$p"; then
			echo "$p"
			return 0
		fi
		p=$((p + 1))
	done
}

stack_pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Sends TERM to the pid in a pid file, waits up to $2 seconds, then KILL.
stack_stop_pid() {
	local pidfile=$1 wait=${2:-20} pid i
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < wait * 10; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$pidfile"
}

stack_ports() {
	local dir=$1 base_pg=${STACK_PG_PORT_BASE:-54329} base_kafka=${STACK_KAFKA_PORT_BASE:-19092}
	if [ ! -f "$dir/ports" ]; then
		local pg kafka ctrl
		pg=$(stack_free_port "$base_pg")
		kafka=$(stack_free_port "$base_kafka" "$pg")
		ctrl=$(stack_free_port $((kafka + 1)) "$pg" "$kafka")
		printf 'PG_PORT=%s\nKAFKA_PORT=%s\nKAFKA_CONTROLLER_PORT=%s\n' "$pg" "$kafka" "$ctrl" >"$dir/ports"
	fi
	# shellcheck disable=SC1091
	. "$dir/ports"
}

# Ports for a second stack in DIR (its DIR/ports, kept for its restarts),
# OFFSET above those of the live stack in FROM (the next free ones if taken).
# FROM's ports are held by its running servers for the whole run, so two runs
# side by side, each deriving from its own, never pick the same ones, even
# while one run's second broker is stopped: from a fixed base, the other run
# could take the port that broker was coming back to.
stack_ports_beside() { # DIR FROM OFFSET
	local dir=$1 off=$3 pg kafka ctrl
	[ -f "$dir/ports" ] && return 0
	mkdir -p "$dir"
	(
		# shellcheck disable=SC1091
		. "$2/ports"
		pg=$(stack_free_port $((PG_PORT + off)))
		kafka=$(stack_free_port $((KAFKA_PORT + off)) "$pg")
		ctrl=$(stack_free_port $((KAFKA_CONTROLLER_PORT + off)) "$pg" "$kafka")
		printf 'PG_PORT=%s\nKAFKA_PORT=%s\nKAFKA_CONTROLLER_PORT=%s\n' "$pg" "$kafka" "$ctrl" >"$dir/ports"
	)
}

stack_pg_up() {
	local dir=$1 bindir
	mkdir -p "$dir"
	stack_ports "$dir"
	bindir=$(stack_pg_bindir) || return 1
	if [ ! -f "$dir/pg/data/PG_VERSION" ]; then
		mkdir -p "$dir/pg/data" "$dir/pg/sock"
		# The postgres user must be able to reach its folders.
		chmod 755 "$dir" "$dir/pg"
		[ "$(id -u)" = 0 ] && chown -R postgres: "$dir/pg"
		stack_pg_as "$bindir/initdb" -D "$dir/pg/data" -U postgres --auth=trust \
			-E UTF8 --locale=C.UTF-8 >"$dir/pg/initdb.log" 2>&1 ||
			{ stack_log "initdb failed, see $dir/pg/initdb.log"; return 1; }
	fi
	if ! stack_pg_as "$bindir/pg_ctl" -D "$dir/pg/data" status >/dev/null 2>&1; then
		stack_pg_as "$bindir/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w -t 60 \
			-o "-p $PG_PORT -k $dir/pg/sock -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=100 ${STACK_PG_OPTS:-}" \
			start >/dev/null || { stack_log "PostgreSQL did not start, see $dir/pg/postgres.log"; return 1; }
	fi
	head -n 1 "$dir/pg/data/postmaster.pid" >"$dir/pg.pid"
	if ! psql -X -q -h "$dir/pg/sock" -p "$PG_PORT" -U postgres -d postgres -tAc \
		"select 1 from pg_database where datname = 'patients'" | grep -q 1; then
		psql -X -q -h "$dir/pg/sock" -p "$PG_PORT" -U postgres -d postgres \
			-c 'create database patients' >/dev/null || return 1
	fi
}

stack_pg_down() {
	local dir=$1 bindir
	[ -f "$dir/pg/data/PG_VERSION" ] || return 0
	bindir=$(stack_pg_bindir) || return 1
	if stack_pg_as "$bindir/pg_ctl" -D "$dir/pg/data" status >/dev/null 2>&1; then
		stack_pg_as "$bindir/pg_ctl" -D "$dir/pg/data" -m fast -w -t 60 stop >/dev/null 2>&1
	fi
	# Whatever pg_ctl could not stop goes by its pid.
	stack_stop_pid "$dir/pg.pid" 10
}

# A certificate authority of the test's own in DIR (ca.crt, ca.key), made
# once. Any number of them: a client given the wrong one must fail.
stack_tls_ca() { # DIR
	local d=$1
	mkdir -p "$d"
	[ -f "$d/ca.crt" ] && return 0
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-keyout "$d/ca.key" -out "$d/ca.crt" -days 7 -subj "/CN=patients test CA $RANDOM" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		>/dev/null 2>&1 || { stack_log "openssl could not make a CA in $d"; return 1; }
	return 0
}

# Makes DIR's PostgreSQL serve TLS (it still accepts plain connections) with
# a server certificate for 127.0.0.1 and localhost signed by the CA in
# DIR/pg/tls/ca.crt, which clients use as sslrootcert. Idempotent; a reload,
# no restart: open connections are not touched.
stack_pg_tls() { # DIR
	local dir=$1 tls=$1/pg/tls i
	stack_ports "$dir"
	stack_tls_ca "$tls" || return 1
	if [ ! -f "$tls/server.crt" ]; then
		openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-keyout "$tls/server.key" -out "$tls/server.csr" -subj "/CN=localhost" >/dev/null 2>&1 &&
			openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
				-CAcreateserial -out "$tls/server.crt" -days 7 -extfile <(printf '%s\n' \
				'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=CA:FALSE' \
				'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth') >/dev/null 2>&1 ||
			{ stack_log "openssl could not make the server certificate"; return 1; }
		chmod 600 "$tls/server.key"
		[ "$(id -u)" = 0 ] && chown postgres: "$tls/server.key" "$tls/server.crt"
	fi
	psql -X -q -h "$dir/pg/sock" -p "$PG_PORT" -U postgres -d postgres \
		-c "alter system set ssl_cert_file = '$tls/server.crt'" \
		-c "alter system set ssl_key_file = '$tls/server.key'" \
		-c "alter system set ssl = on" -c "select pg_reload_conf()" >/dev/null || return 1
	for ((i = 0; i < 100; i++)); do
		[ "$(psql -X -h "$dir/pg/sock" -p "$PG_PORT" -U postgres -d postgres -tAc 'show ssl')" = on ] && return 0
		sleep 0.1
	done
	stack_log "PostgreSQL did not turn TLS on, see $dir/pg/postgres.log"
	return 1
}

# The least-privilege roles of sql/roles.sql (patients_migrator,
# patients_worker), made in DIR's cluster through its patients database.
stack_pg_roles() { # DIR
	local dir=$1
	stack_ports "$dir"
	psql -X -q -h "$dir/pg/sock" -p "$PG_PORT" -U postgres -d patients -v ON_ERROR_STOP=1 \
		-c "SET client_min_messages = warning" -f "$STACK_SRC/sql/roles.sql" >/dev/null ||
		{ stack_log "sql/roles.sql failed"; return 1; }
	return 0
}

stack_kafka_libs() {
	local libs="$STACK_CACHE/kafka-$STACK_KAFKA_VERSION/libs"
	if [ ! -f "$libs/.complete" ]; then
		stack_log "fetching Apache Kafka $STACK_KAFKA_VERSION jars from Maven Central into $libs"
		rm -rf "$libs"
		mvn -q -B -Dstyle.color=never -f "$STACK_SRC/tests/kafka/pom.xml" -Dkafka.version="$STACK_KAFKA_VERSION" \
			dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2 ||
			{ stack_log "mvn could not fetch the Kafka jars"; return 1; }
		touch "$libs/.complete"
	fi
	echo "$libs"
}

# The JVM command line for a Kafka class; printed one word per line into the
# array STACK_JAVA so the broker can be started with its own pid in $!.
stack_kafka_cmd() {
	local libs=$1 dir=$2
	shift 2
	STACK_JAVA=(java -Xms128m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true
		"-Dlog4j.configuration=file:$STACK_SRC/tests/kafka/log4j.properties"
		"-Dkafka.log.dir=$dir/kafka" -cp "$libs/*" "$@")
}

stack_kafka_java() {
	stack_kafka_cmd "$@"
	"${STACK_JAVA[@]}"
}

stack_kafka_ready() {
	local i
	for ((i = 0; i < ${2:-600}; i++)); do
		kcat -b "127.0.0.1:$1" -L -m 2 -J 2>/dev/null | grep -q '"brokers":\[{' && return 0
		sleep 0.1
	done
	return 1
}

stack_kafka_topic() {
	local libs=$1 dir=$2 topic=$3 parts=$4
	if ! kcat -b "127.0.0.1:$KAFKA_PORT" -L -t "$topic" -J -m 5 2>/dev/null | grep -q '"partitions":\[{'; then
		stack_kafka_java "$libs" "$dir" org.apache.kafka.tools.TopicCommand \
			--bootstrap-server "127.0.0.1:$KAFKA_PORT" --create --if-not-exists \
			--topic "$topic" --partitions "$parts" --replication-factor 1 >/dev/null ||
			{ stack_log "could not create topic $topic"; return 1; }
	fi
}

stack_kafka_up() {
	local dir=$1 libs
	mkdir -p "$dir/kafka"
	stack_ports "$dir"
	libs=$(stack_kafka_libs) || return 1
	if ! stack_pid_alive "$dir/kafka.pid"; then
		cat >"$dir/kafka/server.properties" <<-EOF
			process.roles=broker,controller
			node.id=1
			controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
			listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
			advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
			controller.listener.names=CONTROLLER
			inter.broker.listener.name=PLAINTEXT
			listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
			log.dirs=$dir/kafka/data
			num.partitions=1
			auto.create.topics.enable=false
			offsets.topic.replication.factor=1
			offsets.topic.num.partitions=3
			transaction.state.log.replication.factor=1
			transaction.state.log.min.isr=1
			group.initial.rebalance.delay.ms=0
			message.max.bytes=4194304
			log.retention.hours=-1
		EOF
		if [ ! -f "$dir/kafka/data/meta.properties" ]; then
			stack_kafka_java "$libs" "$dir" kafka.tools.StorageTool format \
				-t "$(stack_kafka_java "$libs" "$dir" kafka.tools.StorageTool random-uuid)" \
				-c "$dir/kafka/server.properties" >"$dir/kafka/format.log" 2>&1 ||
				{ stack_log "Kafka storage format failed, see $dir/kafka/format.log"; return 1; }
		fi
		stack_kafka_cmd "$libs" "$dir" kafka.Kafka "$dir/kafka/server.properties"
		# A plain command in the background: $! is the JVM itself, not a subshell.
		"${STACK_JAVA[@]}" >"$dir/kafka/stdout.log" 2>&1 </dev/null &
		echo $! >"$dir/kafka.pid"
		disown 2>/dev/null || true
	fi
	stack_kafka_ready "$KAFKA_PORT" 900 ||
		{ stack_log "Kafka did not come up, see $dir/kafka/kafka.log"; return 1; }
	stack_kafka_topic "$libs" "$dir" "$STACK_TOPIC" "$STACK_PARTITIONS" || return 1
	stack_kafka_topic "$libs" "$dir" "$STACK_TOPIC.dlq" 1 || return 1
}

stack_kafka_down() {
	stack_stop_pid "$1/kafka.pid" 30
}

stack_write_env() {
	local dir=$1
	stack_ports "$dir"
	cat >"$dir/stack.env" <<-EOF
		# Written by tests/lib/stack.sh; source it to reach this stack.
		export PATIENTS_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
		export PATIENTS_TOPIC=$STACK_TOPIC
		export PATIENTS_DLQ_TOPIC=$STACK_TOPIC.dlq
		export PGHOST=$dir/pg/sock
		export PGPORT=$PG_PORT
		export PGDATABASE=patients
		export PGUSER=postgres
	EOF
}

stack_up() {
	local dir=$1
	mkdir -p "$dir"
	stack_pg_up "$dir" || return 1
	stack_kafka_up "$dir" || return 1
	stack_write_env "$dir"
}

stack_down() {
	local dir=$1
	stack_kafka_down "$dir"
	stack_pg_down "$dir"
}

# A primary and a streaming standby of their own, for the failover scenarios
# (tests/integration/05NN-pg-failover-*). Two nodes, "a" (the first primary)
# and "b" (its standby), in DIR/a and DIR/b, each on its own TCP port
# (127.0.0.1) and Unix socket folder (DIR/NODE/sock), stopped by pid. They
# are separate from the stack's own cluster, so other scenarios never see a
# failover. Promotion is pg_ctl promote (see README, "Failover tests": why
# not pg_auto_failover).
#
#   stack_ha_up DIR MODE          a primary on node a, a standby on node b made
#                                 with pg_basebackup -R and a replication slot;
#                                 MODE sync (synchronous_standby_names on the
#                                 primary, waits until the standby is "sync")
#                                 or async; writes DIR/ha.env (HA_A_PORT,
#                                 HA_B_PORT, HA_A_SOCK, HA_B_SOCK)
#   stack_ha_cut DIR NODE         clears primary_conninfo on standby NODE and
#                                 reloads: it receives no more WAL (pausing
#                                 replay would not do: promotion replays what
#                                 was received)
#   stack_ha_kill DIR NODE        kill -9 of NODE's postmaster and every child
#                                 of it at once (a crashed host)
#   stack_ha_promote DIR NODE     pg_ctl promote, waits until NODE answers
#                                 pg_is_in_recovery() = false
#   stack_ha_inspect DIR NODE     starts NODE's data directory again (after a
#                                 kill) reachable only on DIR/NODE/inspect (no
#                                 TCP, not the socket clients know), so a test
#                                 can count what it held; stack_ha_node_down after
#   stack_ha_node_down DIR NODE / stack_ha_down DIR
#   stack_ha_psql DIR NODE SQL    one query, tuples only, on NODE's socket

STACK_HA_PORT_BASE=${STACK_HA_PORT_BASE:-56400}

stack_ha_ports() {
	local dir=$1 a b
	if [ ! -f "$dir/ha.env" ]; then
		a=$(stack_free_port "$STACK_HA_PORT_BASE")
		b=$(stack_free_port $((a + 1)) "$a")
		printf 'HA_A_PORT=%s\nHA_B_PORT=%s\nHA_A_SOCK=%s\nHA_B_SOCK=%s\n' \
			"$a" "$b" "$dir/a/sock" "$dir/b/sock" >"$dir/ha.env"
	fi
	# shellcheck disable=SC1091
	. "$dir/ha.env"
}

stack_ha_port() { # DIR NODE
	stack_ha_ports "$1"
	if [ "$2" = a ]; then echo "$HA_A_PORT"; else echo "$HA_B_PORT"; fi
}

stack_ha_psql() { # DIR NODE SQL
	local sock=$1/$2/sock
	# A node started by stack_ha_inspect listens on its inspect folder only.
	[ -S "$1/$2/inspect/.s.PGSQL.$(stack_ha_port "$1" "$2")" ] && sock=$1/$2/inspect
	psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$(stack_ha_port "$1" "$2")" -U postgres -d postgres -tAc "$3"
}

# Starts NODE's cluster on its port and socket (extra server options in $3).
# The port was free when picked, but other test runs share the machine: a
# node that finds it taken moves to the next free one (no other node's
# settings name a node's port, only ha.env does) and tries again.
stack_ha_node_start() { # DIR NODE [OPTIONS]
	local dir=$1 node=$2 bindir port try
	bindir=$(stack_pg_bindir) || return 1
	for ((try = 0; try < 5; try++)); do
		port=$(stack_ha_port "$dir" "$node")
		if stack_pg_as "$bindir/pg_ctl" -D "$dir/$node/data" -l "$dir/$node/postgres.log" -w -t 60 \
			-o "-p $port -k $dir/$node/sock -c listen_addresses=127.0.0.1 ${3:-}" start >/dev/null 2>&1; then
			head -n 1 "$dir/$node/data/postmaster.pid" >"$dir/$node.ha.pid"
			return 0
		fi
		tail -n 5 "$dir/$node/postgres.log" | grep -q 'Address already in use' || break
		stack_ha_ports "$dir"
		if [ "$node" = a ]; then
			HA_A_PORT=$(stack_free_port $((port + 2)) "$HA_B_PORT")
		else
			HA_B_PORT=$(stack_free_port $((port + 2)) "$HA_A_PORT")
		fi
		printf 'HA_A_PORT=%s\nHA_B_PORT=%s\nHA_A_SOCK=%s\nHA_B_SOCK=%s\n' \
			"$HA_A_PORT" "$HA_B_PORT" "$dir/a/sock" "$dir/b/sock" >"$dir/ha.env"
	done
	stack_log "PostgreSQL $node did not start, see $dir/$node/postgres.log"
	return 1
}

stack_ha_up() { # DIR MODE
	local dir=$1 mode=$2 bindir i want
	bindir=$(stack_pg_bindir) || return 1
	mkdir -p "$dir/a/sock" "$dir/b/sock"
	chmod 755 "$dir" "$dir/a" "$dir/b"
	stack_ha_ports "$dir"
	[ "$(id -u)" = 0 ] && chown -R postgres: "$dir/a" "$dir/b"
	stack_pg_as "$bindir/initdb" -D "$dir/a/data" -U postgres --auth=trust \
		-E UTF8 --locale=C.UTF-8 >"$dir/a/initdb.log" 2>&1 ||
		{ stack_log "initdb failed, see $dir/a/initdb.log"; return 1; }
	# In postgresql.conf, so that pg_basebackup copies them to the standby
	# (which becomes a primary in its turn). wal_level=replica is the default;
	# initdb's pg_hba.conf already lets local and 127.0.0.1 replicate (trust).
	cat >>"$dir/a/data/postgresql.conf" <<-EOF2
		fsync = on
		max_connections = 60
		max_wal_senders = 4
		max_replication_slots = 4
		hot_standby = on
		wal_keep_size = 256MB
	EOF2
	stack_ha_node_start "$dir" a || return 1
	stack_ha_psql "$dir" a 'create database patients' >/dev/null || return 1
	stack_pg_as "$bindir/pg_basebackup" -D "$dir/b/data" -h "$dir/a/sock" -p "$HA_A_PORT" -U postgres \
		-R -X stream -C -S standby_b -c fast >"$dir/b/basebackup.log" 2>&1 ||
		{ stack_log "pg_basebackup failed, see $dir/b/basebackup.log"; return 1; }
	stack_ha_node_start "$dir" b || return 1
	if [ "$mode" = sync ]; then
		# Set after the base backup, on the primary only: a promoted standby
		# carrying it would wait forever for a standby of its own.
		stack_ha_psql "$dir" a "alter system set synchronous_standby_names = '*'" >/dev/null &&
			stack_ha_psql "$dir" a 'select pg_reload_conf()' >/dev/null || return 1
	fi
	want=streaming
	[ "$mode" = sync ] && want=streaming/sync
	for ((i = 0; i < 600; i++)); do
		[ "$(stack_ha_psql "$dir" a "select state || case when sync_state = 'sync' then '/sync' else '' end from pg_stat_replication" 2>/dev/null)" = "$want" ] && return 0
		sleep 0.1
	done
	stack_log "standby b not $want after 60 s"
	return 1
}

stack_ha_cut() { # DIR NODE
	local dir=$1 node=$2 i
	stack_ha_psql "$dir" "$node" "alter system set primary_conninfo = ''" >/dev/null &&
		stack_ha_psql "$dir" "$node" 'select pg_reload_conf()' >/dev/null || return 1
	for ((i = 0; i < 300; i++)); do
		[ "$(stack_ha_psql "$dir" "$node" 'select count(*) from pg_stat_wal_receiver' 2>/dev/null)" = 0 ] && return 0
		sleep 0.1
	done
	stack_log "standby $node still receiving WAL after 30 s"
	return 1
}

stack_ha_kill() { # DIR NODE
	local dir=$1 node=$2 pm kids i
	[ -f "$dir/$node.ha.pid" ] || return 0
	pm=$(cat "$dir/$node.ha.pid")
	# The postmaster's own children, by parent pid: a backend outliving its
	# postmaster could still answer a client that holds its connection.
	kids=$(ps -o pid= --ppid "$pm" 2>/dev/null | tr '\n' ' ')
	# shellcheck disable=SC2086
	kill -KILL "$pm" $kids 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pm" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$dir/$node.ha.pid"
	return 0
}

stack_ha_promote() { # DIR NODE
	local dir=$1 node=$2 bindir i
	bindir=$(stack_pg_bindir) || return 1
	stack_pg_as "$bindir/pg_ctl" -D "$dir/$node/data" -w -t 60 promote >/dev/null ||
		{ stack_log "promotion of $node failed, see $dir/$node/postgres.log"; return 1; }
	for ((i = 0; i < 600; i++)); do
		[ "$(stack_ha_psql "$dir" "$node" 'select pg_is_in_recovery()' 2>/dev/null)" = f ] && return 0
		sleep 0.1
	done
	stack_log "$node still in recovery 60 s after promote"
	return 1
}

stack_ha_inspect() { # DIR NODE
	local dir=$1 node=$2 bindir port
	bindir=$(stack_pg_bindir) || return 1
	port=$(stack_ha_port "$dir" "$node")
	mkdir -p "$dir/$node/inspect"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir/$node/inspect"
	stack_pg_as "$bindir/pg_ctl" -D "$dir/$node/data" -l "$dir/$node/inspect.log" -w -t 60 \
		-o "-p $port -k $dir/$node/inspect -c listen_addresses=" start >/dev/null 2>&1 ||
		{ stack_log "PostgreSQL $node did not restart, see $dir/$node/inspect.log"; return 1; }
	head -n 1 "$dir/$node/data/postmaster.pid" >"$dir/$node.ha.pid"
	return 0
}

stack_ha_node_down() { # DIR NODE
	local dir=$1 node=$2 bindir
	[ -f "$dir/$node/data/PG_VERSION" ] || return 0
	bindir=$(stack_pg_bindir) || return 1
	if stack_pg_as "$bindir/pg_ctl" -D "$dir/$node/data" status >/dev/null 2>&1; then
		stack_pg_as "$bindir/pg_ctl" -D "$dir/$node/data" -m immediate -w -t 30 stop >/dev/null 2>&1
	fi
	stack_stop_pid "$dir/$node.ha.pid" 10
	return 0
}

stack_ha_down() { # DIR
	stack_ha_node_down "$1" a
	stack_ha_node_down "$1" b
	return 0
}
