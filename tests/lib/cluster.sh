# shellcheck shell=bash
# A 3-node Apache Kafka cluster (KRaft combined mode: each node is controller
# and broker) with a SASL_SSL listener, SCRAM-SHA-512 users and ACLs under
# StandardAuthorizer, for the 07NN-kafka-* scenarios. Sourced after
# tests/lib/stack.sh, whose helpers it reuses; lives in a folder of its own
# and is stopped by its pids.
#
#   cluster_up DIR            start (idempotent: reuses live nodes), make CA,
#                             certs, users, topics (RF 3, min.insync 2), ACLs
#   cluster_down DIR          stop every node
#   cluster_node_stop DIR N [KILL|TERM]   stop node N (1..3) by its pid
#   cluster_node_start DIR N  start node N again (same ports, same data)
#   cluster_leader DIR TOPIC PARTITION    node id leading that partition
#   cluster_props DIR USER    path of a librdkafka properties file for USER
#                             (admin, gateway, worker): SASL_SSL, SCRAM, CA
#   cluster_stack_up DIR      PostgreSQL (stack.sh) in DIR and the cluster in
#                             DIR/kcluster, DIR/stack.env naming the cluster
#
# DIR/cluster.env names the bootstrap servers (CLUSTER_BROKERS). Passwords
# live only in DIR (mode 600 files), never on a command line of ours.

CLUSTER_TOPIC=${CLUSTER_TOPIC:-patients.v1}
CLUSTER_PARTITIONS=${CLUSTER_PARTITIONS:-6}

cluster_log() { printf '%s\n' "cluster: $*" >&2; }

cluster_ports() {
	local dir=$1 base=${CLUSTER_PORT_BASE:-23092} taken=() p n
	if [ ! -f "$dir/ports" ]; then
		: >"$dir/ports.tmp"
		for n in 1 2 3; do
			p=$(stack_free_port "$base" "${taken[@]}")
			taken+=("$p")
			echo "PORT_$n=$p" >>"$dir/ports.tmp"
			p=$(stack_free_port "$base" "${taken[@]}")
			taken+=("$p")
			echo "CTRL_$n=$p" >>"$dir/ports.tmp"
		done
		mv "$dir/ports.tmp" "$dir/ports"
	fi
	# shellcheck disable=SC1091
	. "$dir/ports"
	CLUSTER_BROKERS=127.0.0.1:$PORT_1,127.0.0.1:$PORT_2,127.0.0.1:$PORT_3
}

# A CA and one certificate per node for 127.0.0.1 and localhost (clients
# check the broker's name against the SAN), PEM, unencrypted keys (PKCS#8,
# which Kafka's PEM key store reads).
cluster_certs() {
	local dir=$1 n
	[ -f "$dir/tls/.complete" ] && return 0
	mkdir -p "$dir/tls"
	(
		cd "$dir/tls" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=patients test CA' \
			-keyout ca.key -out ca.pem
		# A second CA that signed nothing here: "wrong CA" for clients.
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=other CA' \
			-keyout other-ca.key -out other-ca.pem
		for n in 1 2 3; do
			openssl req -newkey rsa:2048 -nodes -subj "/CN=kafka-$n" -keyout "n$n.key" -out "n$n.csr"
			printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"n$n.ext"
			openssl x509 -req -in "n$n.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
				-extfile "n$n.ext" -out "n$n.crt"
			openssl pkcs8 -topk8 -nocrypt -in "n$n.key" -out "n$n.p8"
			cat "n$n.p8" "n$n.crt" >"n$n.pem"
		done
	) >"$dir/tls.log" 2>&1 || { cluster_log "openssl failed, see $dir/tls.log"; return 1; }
	chmod 600 "$dir"/tls/*.key "$dir"/tls/*.p8 "$dir"/tls/*.pem
	chmod 644 "$dir/tls/ca.pem" "$dir/tls/other-ca.pem"
	touch "$dir/tls/.complete"
}

# Random passwords, one per user, kept in DIR/users (mode 600).
cluster_users() {
	local dir=$1 u
	if [ ! -f "$dir/users" ]; then
		(umask 077; for u in admin gateway worker; do
			echo "PW_$u=$(openssl rand -hex 16)"
		done >"$dir/users")
	fi
	# shellcheck disable=SC1091
	. "$dir/users"
}

# A librdkafka properties file (also what kcat -F reads) for USER.
cluster_props() { # DIR USER [CA]
	local dir=$1 user=$2 ca=${3:-$1/tls/ca.pem} pw f
	cluster_users "$dir"
	pw=PW_$user
	f=$dir/$user${3:+-$(basename "$ca" .pem)}.props
	(umask 077; cat >"$f" <<-EOF
		# librdkafka properties for the test cluster's user $user
		security.protocol=SASL_SSL
		sasl.mechanisms=SCRAM-SHA-512
		sasl.username=$user
		sasl.password=${!pw}
		ssl.ca.location=$ca
		ssl.endpoint.identification.algorithm=https
	EOF
	)
	echo "$f"
}

# The Java client's configuration for the admin user (the tools' --command-config).
cluster_admin_config() {
	local dir=$1
	cluster_users "$dir"
	(umask 077; cat >"$dir/admin.java.properties" <<-EOF
		security.protocol=SASL_SSL
		sasl.mechanism=SCRAM-SHA-512
		sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$PW_admin";
		ssl.truststore.type=PEM
		ssl.truststore.location=$dir/tls/ca.pem
	EOF
	)
}

cluster_node_config() {
	local dir=$1 n=$2 port ctrl
	port=PORT_$n ctrl=CTRL_$n
	mkdir -p "$dir/n$n"
	(umask 077; cat >"$dir/n$n/server.properties" <<-EOF
		process.roles=broker,controller
		node.id=$n
		controller.quorum.voters=1@127.0.0.1:$CTRL_1,2@127.0.0.1:$CTRL_2,3@127.0.0.1:$CTRL_3
		listeners=SASL_SSL://127.0.0.1:${!port},CONTROLLER://127.0.0.1:${!ctrl}
		advertised.listeners=SASL_SSL://127.0.0.1:${!port}
		controller.listener.names=CONTROLLER
		inter.broker.listener.name=SASL_SSL
		listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
		sasl.enabled.mechanisms=SCRAM-SHA-512
		sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
		listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$PW_admin";
		ssl.keystore.type=PEM
		ssl.keystore.location=$dir/tls/n$n.pem
		ssl.truststore.type=PEM
		ssl.truststore.location=$dir/tls/ca.pem
		ssl.endpoint.identification.algorithm=https
		authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
		allow.everyone.if.no.acl.found=false
		super.users=User:admin;User:ANONYMOUS
		log.dirs=$dir/n$n/data
		num.partitions=1
		default.replication.factor=3
		min.insync.replicas=2
		unclean.leader.election.enable=false
		auto.create.topics.enable=false
		offsets.topic.replication.factor=3
		offsets.topic.num.partitions=3
		transaction.state.log.replication.factor=3
		transaction.state.log.min.isr=2
		group.initial.rebalance.delay.ms=0
		message.max.bytes=4194304
		log.retention.hours=-1
		num.network.threads=2
		num.io.threads=2
		num.replica.fetchers=1
		background.threads=2
		log.cleaner.enable=false
		replica.lag.time.max.ms=10000
		# A dead node is fenced (its partitions get a new leader) after
		# this; 9 s by default, shorter so the scenarios stay short.
		broker.session.timeout.ms=4000
		broker.heartbeat.interval.ms=1000
	EOF
	)
}

# Prints the JVM command for node N into STACK_JAVA, heap kept small: three
# of them share a 2-core machine with everything else.
cluster_java() { # LIBS LOGDIR CLASS ARGS...
	stack_kafka_cmd "$@"
	STACK_JAVA[1]=-Xms64m
	STACK_JAVA[2]=-Xmx384m
	STACK_JAVA=("${STACK_JAVA[0]}" -XX:TieredStopAtLevel=1 "${STACK_JAVA[@]:1}")
}

cluster_node_start() { # DIR N
	local dir=$1 n=$2 libs
	cluster_ports "$dir"
	libs=$(stack_kafka_libs) || return 1
	stack_pid_alive "$dir/n$n.pid" && return 0
	cluster_java "$libs" "$dir/n$n" kafka.Kafka "$dir/n$n/server.properties"
	"${STACK_JAVA[@]}" >"$dir/n$n/stdout.log" 2>&1 </dev/null &
	echo $! >"$dir/n$n.pid"
	disown 2>/dev/null || true
	return 0
}

cluster_node_stop() { # DIR N [KILL|TERM]
	local dir=$1 n=$2 sig=${3:-TERM} pid i
	[ -f "$dir/n$n.pid" ] || return 0
	if [ "$sig" = KILL ]; then
		pid=$(cat "$dir/n$n.pid")
		kill -KILL "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		rm -f "$dir/n$n.pid"
	else
		stack_stop_pid "$dir/n$n.pid" 30
	fi
	return 0
}

# kcat as the admin user.
cluster_kcat() { # DIR kcat-args...
	local dir=$1
	shift
	kcat -F "$(cluster_props "$dir" admin)" -b "$CLUSTER_BROKERS" "$@"
}

# Number of nodes that answer a metadata request themselves (the list in
# one node's metadata may be stale: after a lost quorum it still names the
# dead ones).
cluster_brokers_up() { # DIR
	local n up=0 port props
	props=$(cluster_props "$1" admin)
	for n in 1 2 3; do
		port=PORT_$n
		kcat -F "$props" -b "127.0.0.1:${!port}" -L -J -m 3 2>/dev/null |
			grep -q "\"originating_broker\":{\"id\":$n," && up=$((up + 1))
	done
	echo "$up"
}

# Node id leading TOPIC's PARTITION (empty when none).
cluster_leader() { # DIR TOPIC PARTITION
	cluster_kcat "$1" -L -J -t "$2" -m 3 2>/dev/null |
		grep -o "\"partition\":$3,\"leader\":[0-9-]*" | sed 's/.*://'
}

# Waits until every partition of TOPIC has all three replicas in sync.
cluster_wait_isr() { # DIR TOPIC TIMEOUT_S
	local i md
	for ((i = 0; i < $3 * 2; i++)); do
		md=$(cluster_kcat "$1" -L -J -t "$2" -m 3 2>/dev/null) || md=
		if [[ $md == *'"partitions":[{'* ]] &&
			echo "$md" | grep -o '"isrs":\[[^]]*\]' | awk -F'"id"' 'NF - 1 != 3 { bad = 1 } END { exit bad }'; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

cluster_tool() { # DIR CLASS ARGS... (as admin)
	local dir=$1 libs
	shift
	libs=$(stack_kafka_libs) || return 1
	cluster_java "$libs" "$dir/tools" "$@"
	"${STACK_JAVA[@]}"
}

cluster_topic() { # DIR TOPIC PARTS
	cluster_tool "$1" org.apache.kafka.tools.TopicCommand --bootstrap-server "$CLUSTER_BROKERS" \
		--command-config "$1/admin.java.properties" --create --if-not-exists --topic "$2" \
		--partitions "$3" --replication-factor 3 --config min.insync.replicas=2 \
		--config unclean.leader.election.enable=false
}

cluster_acl() { # DIR ARGS... (kafka-acls --add ... --force)
	local dir=$1
	shift
	cluster_tool "$dir" kafka.admin.AclCommand --bootstrap-server "$CLUSTER_BROKERS" \
		--command-config "$dir/admin.java.properties" --add --force "$@"
}

# The least privilege of issue 16: the gateway writes and describes the
# topic (idempotent producer: IdempotentWrite on the cluster); the worker
# reads it, uses its groups (any group: backfills bring their own), writes
# the DLQ. Nothing else: allow.everyone.if.no.acl.found=false.
cluster_grant() { # DIR
	local dir=$1 t=$CLUSTER_TOPIC pids=() rc=0 p
	cluster_acl "$dir" --allow-principal User:gateway --operation Write --operation Describe --topic "$t" &
	pids+=($!)
	cluster_acl "$dir" --allow-principal User:gateway --operation IdempotentWrite --cluster &
	pids+=($!)
	cluster_acl "$dir" --allow-principal User:worker --operation Read --operation Describe --topic "$t" &
	pids+=($!)
	cluster_acl "$dir" --allow-principal User:worker --operation Read --group '*' &
	pids+=($!)
	cluster_acl "$dir" --allow-principal User:worker --operation Write --operation Describe --topic "$t.dlq" &
	pids+=($!)
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	return $rc
}

cluster_up() { # DIR
	local dir=$1 libs n id started
	mkdir -p "$dir/tools"
	cluster_ports "$dir"
	libs=$(stack_kafka_libs) || return 1
	cluster_certs "$dir" || return 1
	cluster_users "$dir"
	cluster_admin_config "$dir"
	for n in 1 2 3; do cluster_node_config "$dir" "$n"; done
	if [ ! -f "$dir/n1/data/meta.properties" ]; then
		cluster_java "$libs" "$dir/tools" kafka.tools.StorageTool random-uuid
		id=$("${STACK_JAVA[@]}") || return 1
		# SCRAM users go into the bootstrap metadata (KIP-900): there from the
		# first start, inter-broker traffic included. The passwords are on
		# this one tool's command line, in a throwaway test folder only.
		for n in 1 2 3; do
			cluster_java "$libs" "$dir/tools" kafka.tools.StorageTool format -t "$id" \
				-c "$dir/n$n/server.properties" \
				--add-scram "SCRAM-SHA-512=[name=admin,password=$PW_admin]" \
				--add-scram "SCRAM-SHA-512=[name=gateway,password=$PW_gateway]" \
				--add-scram "SCRAM-SHA-512=[name=worker,password=$PW_worker]"
			"${STACK_JAVA[@]}" &
		done >"$dir/format.log" 2>&1
		wait || true
		[ -f "$dir/n1/data/meta.properties" ] && [ -f "$dir/n3/data/meta.properties" ] ||
			{ cluster_log "format failed, see $dir/format.log"; return 1; }
	fi
	for n in 1 2 3; do cluster_node_start "$dir" "$n" || return 1; done
	for ((started = 0; started < 1800; started++)); do
		[ "$(cluster_brokers_up "$dir")" = 3 ] && break
		sleep 0.1
	done
	[ "$(cluster_brokers_up "$dir")" = 3 ] || { cluster_log "cluster not up, see $dir/n*/kafka/kafka.log"; return 1; }
	if [ ! -f "$dir/.granted" ]; then
		cluster_topic "$dir" "$CLUSTER_TOPIC" "$CLUSTER_PARTITIONS" >"$dir/topics.log" 2>&1 &
		local tp=$!
		cluster_topic "$dir" "$CLUSTER_TOPIC.dlq" 1 >>"$dir/topics.log" 2>&1 || return 1
		wait "$tp" || { cluster_log "topic creation failed, see $dir/topics.log"; return 1; }
		cluster_grant "$dir" >"$dir/acls.log" 2>&1 || { cluster_log "ACLs failed, see $dir/acls.log"; return 1; }
		touch "$dir/.granted"
	fi
	cluster_wait_isr "$dir" "$CLUSTER_TOPIC" 120 || { cluster_log "ISR not full"; return 1; }
	printf 'CLUSTER_BROKERS=%s\n' "$CLUSTER_BROKERS" >"$dir/cluster.env"
	return 0
}

# The stack of ./dev.sh up and the bench with PATIENTS_STACK_KAFKA=cluster:
# PostgreSQL as stack.sh starts it, the cluster in DIR/kcluster (its log in
# DIR/kcluster.log), and DIR/stack.env naming the cluster's brokers, kcat
# logging in as its admin (KCAT_CONFIG). Port bases from the environment
# (STACK_PG_PORT_BASE, CLUSTER_PORT_BASE).
cluster_stack_up() { # DIR
	local dir=$1
	stack_pg_up "$dir" || return 1
	mkdir -p "$dir/kcluster"
	cluster_up "$dir/kcluster" >>"$dir/kcluster.log" 2>&1 || { tail -n 20 "$dir/kcluster.log" >&2; return 1; }
	stack_write_env "$dir"
	cat >>"$dir/stack.env" <<-EOF
		# The 3-node cluster (PATIENTS_STACK_KAFKA=cluster): SASL_SSL, SCRAM users, ACLs.
		export PATIENTS_KAFKA_BROKERS=$CLUSTER_BROKERS
		export KCAT_CONFIG=$(cluster_props "$dir/kcluster" admin)
	EOF
}

cluster_down() { # DIR
	local n
	for n in 1 2 3; do cluster_node_stop "$1" "$n" TERM & done
	wait
	return 0
}

# For the 07NN-kafka-* scenarios: the run's cluster, in $STACK_DIR/kcluster,
# started by the first scenario that needs it and reused by the next ones
# while its nodes live (each scenario leaves all three up). Its pid files are
# linked as *.daemon.pid: the runner stops the nodes when the run ends.
# Sets CLUSTER_DIR, CLUSTER_BROKERS, GW_PROPS, WK_PROPS.
# The scenario's own database, worker and gateway on the cluster, as the
# load scenarios (0703-0705) run them: sets topic, tag, keys, url, port and
# admin. The worker starts at the current time (the shared topic holds the
# earlier scenarios' batches); extra arguments go to the worker.
cluster_it_daemons() { # TAG GATEWAY_PORT_BASE PUBLISH_TIMEOUT_MS [worker args...]
	tag=$1
	local gwbase=$2 timeout=$3
	shift 3
	topic=$CLUSTER_TOPIC
	fresh_db "it$tag"
	rm -f "$STACK_DIR/$tag".* "$STACK_DIR"/*"$tag".log
	start_daemon "w$tag" "$WORKER_BIN" --brokers "$CLUSTER_BROKERS" --kafka-props-file "$WK_PROPS" \
		--topic "$topic" --dlq-topic "$topic.dlq" --group "g$tag" \
		--from-time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$@"
	port=$(gw_port "$gwbase")
	admin=$(gw_port $((gwbase + 10)))
	keys=$STACK_DIR/$tag.keys
	gw_key "$keys" "t$tag" "ak_$tag" s3cret
	gw_start "gw$tag" "$admin" --listen "127.0.0.1:$port" --keys-file "$keys" \
		--brokers "$CLUSTER_BROKERS" --kafka-props-file "$GW_PROPS" --topic "$topic" \
		--rate-limit 100000 --publish-timeout-ms "$timeout" || return 1
	url=http://127.0.0.1:$port/v1/patients
}

cluster_it_up() {
	CLUSTER_DIR=$STACK_DIR/kcluster
	local n t=$SECONDS
	mkdir -p "$CLUSTER_DIR"
	cluster_up "$CLUSTER_DIR" >>"$CLUSTER_DIR/up.log" 2>&1 || { tail -n 20 "$CLUSTER_DIR/up.log"; return 1; }
	for n in 1 2 3; do ln -sf "$CLUSTER_DIR/n$n.pid" "$STACK_DIR/kcluster-n$n.daemon.pid"; done
	echo "# cluster ready in $((SECONDS - t))s"
	GW_PROPS=$(cluster_props "$CLUSTER_DIR" gateway)
	WK_PROPS=$(cluster_props "$CLUSTER_DIR" worker)
	return 0
}

# Load for the 07NN scenarios: client C sends N PUTs of 3 patients one
# after the other (codes unique per request), each line of
# $STACK_DIR/$TAG.c$C: start_ns end_ns status request_id. Stops early
# once $STACK_DIR/$TAG.stop exists.
cluster_load_client() { # TAG URL KEY SECRET C N
	local tag=$1 url=$2 key=$3 secret=$4 c=$5 n=$6 i s e out
	for ((i = 0; i < n; i++)); do
		[ -e "$STACK_DIR/$tag.stop" ] && break
		s=$(date +%s%N)
		out=$(curl -s -o /dev/null --max-time 25 -w '%{http_code} %header{x-request-id}' -X PUT "$url" \
			-H "X-API-Key: $key" -H "X-Secret-Key: $secret" -H 'Content-Type: application/json' \
			--data-binary "$(gw_body $(((c * 1000 + i) * 3)) 3 "L$c")") || true
		e=$(date +%s%N)
		echo "$s $e $out" >>"$STACK_DIR/$tag.c$c"
	done
}

# After the load: checks every 200 is in PostgreSQL once with its patients,
# counts what a user would count, prints the figures. FAULT_NS: when the
# fault was injected (recovery = first 200 of a request sent after it).
cluster_load_check() { # TAG FAULT_NS WORKER_LOG
	local tag=$1 fault=$2 wlog=$3 all=$STACK_DIR/$tag.all n n200 n503 nother lost twice landed rec maxd
	cat "$STACK_DIR/$tag".c* >"$all"
	n=$(wc -l <"$all")
	n200=$(awk '$3 == 200' "$all" | wc -l)
	n503=$(awk '$3 == 503' "$all" | wc -l)
	nother=$((n - n200 - n503))
	awk '$3 == 200 { print $4 }' "$all" >"$all.200"
	awk '$3 == 503 && $4 != "" { print $4 }' "$all" >"$all.503"
	wait_for "$tag: every 200 reached PostgreSQL" 180 0 \
		sql "CREATE TEMP TABLE ok(r uuid); COPY ok FROM '$all.200'; SELECT count(*) FROM ok WHERE r NOT IN (SELECT request_id FROM patient_batches)"
	lost=$(sql "CREATE TEMP TABLE ok(r uuid); COPY ok FROM '$all.200'; SELECT count(*) FROM ok WHERE r NOT IN (SELECT request_id FROM patient_batches)")
	landed=$(sql "CREATE TEMP TABLE no(r uuid); COPY no FROM '$all.503'; SELECT count(*) FROM no WHERE r IN (SELECT request_id FROM patient_batches)")
	twice=$(grep -o 'event=batch_applied request_id=[^ ]*' "$wlog" | sort | uniq -d | wc -l)
	rec=$(awk -v f="$fault" '$3 == 200 && $1 > f { d = ($2 - f) / 1e9; if (m == "" || d < m) m = d } END { printf "%.1f", m }' "$all")
	maxd=$(awk '{ d = ($2 - $1) / 1e9; if (d > m) m = d } END { printf "%.1f", m }' "$all")
	echo "# $tag: sent=$n 200=$n200 503=$n503 other=$nother lost=$lost twice=$twice 503_landed=$landed recovery_s=$rec longest_answer_s=$maxd"
	assert_eq "$tag: only 200 and 503 (never a hang)" "$nother" 0
	assert_eq "$tag: no 200 lost" "$lost" 0
	assert_eq "$tag: nothing applied twice" "$twice" 0
	assert_eq "$tag: each 200's patients are in the table" \
		"$(sql "CREATE TEMP TABLE ok(r uuid); COPY ok FROM '$all.200'; SELECT count(*) FROM patients WHERE request_id IN (SELECT r FROM ok)")" $((3 * n200))
	assert_eq "$tag: each 200 recorded once" \
		"$(sql "CREATE TEMP TABLE ok(r uuid); COPY ok FROM '$all.200'; SELECT count(*) FROM patient_batches WHERE request_id IN (SELECT r FROM ok)")" "$n200"
}
