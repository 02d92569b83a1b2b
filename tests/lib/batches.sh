# shellcheck shell=bash
# Generates Kafka envelopes (DESIGN.md s.3) for the worker scenarios, one per
# line, ready for `kcat -P`. Deterministic: the same arguments give the same
# bytes, so a scenario can compute the table it expects.

# envelope TENANT SEQ RECEIVED_AT CODE_FROM COUNT [NAME_TAG]
#   request_id is derived from SEQ (a UUIDv7 whose time part is SEQ), codes
#   are p<CODE_FROM>..p<CODE_FROM+COUNT-1>, first names carry NAME_TAG.
envelope() {
	awk -v tenant="$1" -v seq="$2" -v at="$3" -v from="$4" -v n="$5" -v tag="${6:-v1}" 'BEGIN {
		printf "{\"v\":1,\"tenant\":\"%s\",\"request_id\":\"%08x-%04x-7000-8000-%012x\",", tenant, int(seq / 65536), seq % 65536, seq
		printf "\"received_at\":\"%s\",\"body\":{\"patients\":[", at
		for (i = from; i < from + n; i++) {
			if (i > from) printf ","
			g = (i % 2) ? "male" : "female"
			ln = (i % 3 == 0) ? "null" : sprintf("\"Núñez %d\"", i)
			em = (i % 4 == 0) ? "" : sprintf(",\"email\":\"p%d@example.com\"", i)
			printf "{\"code\":\"p%d\",\"first_name\":\"José %s %d\",\"last_name\":%s,\"gender\":\"%s\",\"birthdate\":\"%04d-%02d-%02d\"%s}", i, tag, i, ln, g, 1950 + i % 60, 1 + i % 12, 1 + i % 28, em
		}
		printf "]}}\n"
	}'
}

# A fresh database for one scenario, owned by patients_migrator (so it owns
# the schema public, as sql/roles.sql arranges in production) and migrated
# by it; exports PGDATABASE. The workers then connect as run.sh says
# (PATIENTS_DB: the patients_worker role).
fresh_db() { # NAME
	psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1 OWNER patients_migrator" >/dev/null
	export PGDATABASE=$1
	PATIENTS_DB="user=patients_migrator" "$WORKER_BIN" --migrate >/dev/null
}

# The table's content, as one digest (timestamps of the write left out).
table_digest() {
	sql "SELECT md5(coalesce(string_agg(concat_ws('|', tenant, code, first_name, last_name, gender, birthdate, email, received_at, request_id), ',' ORDER BY tenant, code), '')) FROM patients"
}
