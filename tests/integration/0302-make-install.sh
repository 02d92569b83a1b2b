# `make install` puts the programs, the units (with this install's paths),
# the sysusers.d file, the schema, the example env files, the API document
# and the Prometheus rules with their scrape example under the prefix,
# and `make uninstall` takes them all away again.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"

dest=$STACK_DIR/install
make -s -C "$PATIENTS_SRC" install DESTDIR="$dest" >/dev/null
prefix=$(sed -n 's/^prefix = //p' "$PATIENTS_SRC/Makefile")
root=$dest$prefix
for f in bin/patients-gateway bin/patients-worker \
	lib/systemd/system/patients-gateway.service lib/systemd/system/patients-worker.service \
	lib/systemd/system/patients-worker@.service lib/sysusers.d/patients.conf \
	share/patients/sql/001_initial.sql share/patients/sql/roles.sql share/doc/patients/README.md \
	share/doc/patients/examples/gateway.env.example share/doc/patients/examples/worker.env.example \
	share/doc/patients/openapi.yaml share/patients/prometheus/patients.rules.yml \
	share/patients/prometheus/scrape.yml; do
	assert_eq "installs $f" "$([ -s "$root/$f" ] && echo yes)" yes
done
assert_eq "the worker unit runs the installed binary" \
	"$(grep '^ExecStart=' "$root/lib/systemd/system/patients-worker.service")" "ExecStart=$prefix/bin/patients-worker"
assert_eq "no placeholder left in the units" "$(grep -l '@[a-z]*@' "$root"/lib/systemd/system/*.service || true)" ""
assert_eq "the installed rules are the tree's" \
	"$(cmp "$root/share/patients/prometheus/patients.rules.yml" "$PATIENTS_SRC/contrib/prometheus/patients.rules.yml" && echo same)" same
assert_eq "the installed scrape example finds the rules beside it" \
	"$(promtool check config "$root/share/patients/prometheus/scrape.yml" >/dev/null 2>&1 && echo valid)" valid
assert_eq "the installed worker runs" "$("$root/bin/patients-worker" --version | cut -d' ' -f1)" patients-worker
make -s -C "$PATIENTS_SRC" uninstall DESTDIR="$dest" >/dev/null
assert_eq "uninstall leaves no file" "$(find "$dest" -type f | wc -l)" 0
