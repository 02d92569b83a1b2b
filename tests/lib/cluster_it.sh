# shellcheck shell=bash
# What every cluster scenario (07xx) sources: the assertions, the batch and
# gateway helpers and the cluster itself (cluster_it_up, cluster_it_daemons).
# Not for dev.sh or the bench: they define their own start_daemon and
# fresh_db.
# shellcheck source=assert.sh
. "$PATIENTS_SRC/tests/lib/assert.sh"
# shellcheck source=batches.sh
. "$PATIENTS_SRC/tests/lib/batches.sh"
# shellcheck source=gateway.sh
. "$PATIENTS_SRC/tests/lib/gateway.sh"
# shellcheck source=cluster.sh
. "$PATIENTS_SRC/tests/lib/cluster.sh"
