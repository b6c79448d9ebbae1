#!/usr/bin/env bash
# make kind-down: delete the kind cluster made by make kind-up (and everything in it).
set -euo pipefail
CLUSTER=${KIND_CLUSTER:-lianxin}
command -v kind >/dev/null || { echo "kind-down needs kind on PATH" >&2; exit 1; }
if kind get clusters | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
else
  echo "no kind cluster named $CLUSTER"
fi
