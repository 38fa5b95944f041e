#!/bin/sh
# Creates (or replaces) the Secrets that deploy/k8s mounts, from a work
# directory laid out like a pod's /etc/charon (see deploy/README.md):
#
#   WORK/config/cluster.yaml      a copy of deploy/k8s/base/cluster.yaml
#   WORK/tls/...                  written by: charon certs init --config WORK/config/cluster.yaml
#   WORK/users/users.json         written by: charon user add NAME --data WORK/users
#
# Usage: deploy/k8s/create-secrets.sh WORK [NAMESPACE]     (needs kubectl)
# The list of Secrets is deploy/k8s/external-secrets.txt.
set -eu
work=${1:?usage: create-secrets.sh WORK [NAMESPACE]}
ns=${2:-charon}
nodes="$work/tls/nodes"

apply() { # NAME TYPE ARGS... : create-or-replace through a client-side dry run
  name=$1; type=$2; shift 2
  kubectl -n "$ns" create secret "$type" "$name" "$@" --dry-run=client -o yaml | kubectl -n "$ns" apply -f -
}

# Node certificates of one role: every NAME.crt/NAME.key whose NAME starts with the role.
role_files() { # ROLE -> --from-file=... arguments on stdout
  found=
  for crt in "$nodes/$1"*.crt; do
    [ -e "$crt" ] || continue
    key="${crt%.crt}.key"
    printf ' --from-file=%s=%s --from-file=%s=%s' "$(basename "$crt")" "$crt" "$(basename "$key")" "$key"
    found=1
  done
  [ -n "$found" ] || { echo "no $1 certificates in $nodes (run charon certs init first)" >&2; exit 1; }
}

apply charon-ca generic --from-file=ca.crt="$work/tls/ca/ca.crt"
# shellcheck disable=SC2046 # word splitting of the generated arguments is intended (paths have no spaces)
apply charon-distributor-certs generic $(role_files distributor)
# shellcheck disable=SC2046
apply charon-worker-certs generic $(role_files worker)
# shellcheck disable=SC2046
apply charon-storage-certs generic $(role_files storage)
apply charon-public-tls tls --cert="$work/tls/public/tls.crt" --key="$work/tls/public/tls.key"
apply charon-users generic --from-file=users.json="$work/users/users.json"
