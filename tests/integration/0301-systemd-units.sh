# The shipped units are valid (systemd-analyze verify) and hardened:
# `systemd-analyze security` rates each at exposure 2.0 or below.
set -euo pipefail
. "$PATIENTS_SRC/tests/lib/assert.sh"

dir=$STACK_DIR/units
mkdir -p "$dir"
for in in "$PATIENTS_SRC"/systemd/*.service.in; do
	unit=$(basename "$in" .in)
	bindir=$(dirname "$WORKER_BIN")
	[[ $unit == patients-gateway* ]] && bindir=$(dirname "$GATEWAY_BIN")
	sed -e "s|@bindir@|$bindir|g" -e "s|@sysconfdir@|/etc|g" -e "s|@docdir@|/usr/share/doc/patients|g" "$in" >"$dir/$unit"
done
cp "$dir/patients-worker@.service" "$dir/patients-worker@backfill.service"

for unit in patients-gateway.service patients-worker.service patients-worker@backfill.service; do
	out=$(cd "$dir" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$dir/$unit" 2>&1) || true
	assert_eq "$unit: systemd-analyze verify is silent" "$out" ""
	line=$(cd "$dir" && systemd-analyze security --offline=yes "$dir/$unit" 2>&1 | grep 'Overall exposure level')
	score=$(echo "$line" | sed -n 's/.*: \([0-9.]*\) .*/\1/p')
	echo "# $unit exposure $score"
	assert_match "$unit: exposure 2.0 or below (got $score)" "$score" '^(0\.[0-9]|1\.[0-9]|2\.0)$'
	got=$(grep -cE '^(Type=notify|WatchdogSec=[0-9]+.*|Restart=on-failure)$' "$dir/$unit" || true)
	assert_eq "$unit: Type=notify, WatchdogSec, Restart=on-failure" "$got" "3"
done
