#!/usr/bin/env bash
# make kind-up: a kind cluster with Lianxin installed from the charts in this repo.
#   1. the kind cluster of deploy/kind/cluster.yaml (kept if it exists)
#   2. the image (deploy/image/build.sh), loaded into the cluster's nodes
#   3. NATS from the official chart, values deploy/helm/nats/values-kind.yaml
#   4. the umbrella chart with values-kind.yaml (development PostgreSQL, demo district)
#   5. wait for every rollout, port-forward the four services and the Open311 gateway,
#      print how to play the demo
# Needs docker (or podman), kind, kubectl and helm, and the network (kind's node image,
# postgres and NATS images, the NATS chart). None of that exists on the CI machines, so this
# script is checked with shellcheck there, not run (deploy/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER=${KIND_CLUSTER:-lianxin}
NAMESPACE=${NAMESPACE:-lianxin}
NATS_CHART_VERSION=${NATS_CHART_VERSION:-1.3.7}
HELM=${HELM:-helm}
if [ -x .tools/helm/helm ] && ! command -v helm >/dev/null; then HELM=.tools/helm/helm; fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n 1)
image="lianxin:${version}"

need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "kind-up needs $tool on PATH" >&2; exit 1; }
  done
}
need kind kubectl
command -v "$HELM" >/dev/null || [ -x "$HELM" ] || { echo "kind-up needs helm (make helm)" >&2; exit 1; }

if ! kind get clusters | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --config deploy/kind/cluster.yaml --wait 120s
fi
kubectl config use-context "kind-${CLUSTER}" >/dev/null

deploy/image/build.sh "$image"
kind load docker-image "$image" --name "$CLUSTER"

kubectl get namespace "$NAMESPACE" >/dev/null 2>&1 || kubectl create namespace "$NAMESPACE"

# The service charts are linked into the umbrella's charts/ (no `helm dependency build`
# needed for them); NATS comes from its own repository and is installed beside it.
"$HELM" repo add nats https://nats-io.github.io/k8s/helm/charts/ --force-update >/dev/null
"$HELM" upgrade --install nats nats/nats --version "$NATS_CHART_VERSION" \
  --namespace "$NAMESPACE" -f deploy/helm/nats/values-kind.yaml --wait --timeout 5m

"$HELM" upgrade --install lianxin deploy/helm/lianxin --namespace "$NAMESPACE" \
  -f deploy/helm/lianxin/values-kind.yaml --set global.image.tag="$version" \
  --wait --timeout 10m

for svc in registry intake routing notify open311; do
  kubectl -n "$NAMESPACE" rollout status "deployment/lianxin-${svc}" --timeout 5m
done

pids=()
for pair in intake:50051 registry:50052 routing:50053 notify:50054 open311:8311; do
  svc=${pair%%:*}
  port=${pair##*:}
  kubectl -n "$NAMESPACE" port-forward "svc/lianxin-${svc}" "${port}:${port}" >/dev/null 2>&1 &
  pids+=("$!")
done
echo "port-forwards running (pids ${pids[*]}); stop them with: kill ${pids[*]}"
cat <<MSG

Lianxin is running in kind cluster "${CLUSTER}", namespace ${NAMESPACE}.
Play the article's first story against it (in another terminal):

  .venv/bin/lianxin demo

The Open311 gateway: http://127.0.0.1:8311/discovery.json (GeoReport v2).

Logs: kubectl -n ${NAMESPACE} logs deploy/lianxin-routing -f
Stop: make kind-down
MSG
