#!/usr/bin/env bash
# Deploys one overlay with one image: migrations first (the Job), then everything else, then waits
# for the rollout. Usage:
#   deploy/kubernetes/deploy.sh <dev|production> <image>
#   e.g. deploy/kubernetes/deploy.sh production ghcr.io/acme/chatkit-gateway:1.4.0
#        (or ghcr.io/acme/chatkit-gateway@sha256:…, as the release workflow does)
# RENDER_ONLY=1 prints the manifests that would be applied and touches no cluster.
# Needs kubectl (with its built-in kustomize) pointed at the target cluster; the Secret
# `chatkit-gateway` must already exist in the overlay's namespace (docs/operations.md).
set -euo pipefail
overlay=${1:?usage: deploy.sh <dev|production> <image>}
image=${2:?usage: deploy.sh <dev|production> <image>}
root="$(cd "$(dirname "$0")" && pwd)"
dir="$root/overlays/$overlay"
[ -f "$dir/kustomization.yaml" ] || { echo "deploy.sh: no overlay $overlay" >&2; exit 2; }
namespace=$(sed -n 's/^namespace: //p' "$dir/kustomization.yaml")
current=$(sed -n 's/^ *newName: //p' "$dir/kustomization.yaml")

# The image goes in through a kustomization of our own around the overlay, so the checkout stays
# as committed and plain kubectl is enough (no separate kustomize binary).
case "$image" in
  *@*) name=${image%@*} pin="digest: ${image#*@}" ;;
  *:*) name=${image%:*} pin="newTag: \"${image##*:}\"" ;;
  *) echo "deploy.sh: give the image with a tag or a digest, not $image" >&2; exit 2 ;;
esac
# kustomize takes relative paths only: the wrapper lives beside the overlays while it is used.
work=$(mktemp -d "$root/.render.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat > "$work/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../overlays/$overlay
images:
  - name: $current
    newName: $name
    $pin
YAML
kubectl kustomize "$work" > "$work/rendered.yaml"
if [ "${RENDER_ONLY:-}" = 1 ]; then cat "$work/rendered.yaml"; exit 0; fi

echo "== migrations ($namespace)"
# A Job's pod template cannot change: remove the previous release's run before starting this one.
kubectl -n "$namespace" delete job chatkit-gateway-migrate --ignore-not-found --wait=true
# Everything but the serving pods and their Service: the new ConfigMap, the account, the policy
# and the Job. The new pods only start once the schema is migrated.
kubectl apply -f "$work/rendered.yaml" -l 'app.kubernetes.io/component!=server'
if ! kubectl -n "$namespace" wait --for=condition=complete job/chatkit-gateway-migrate --timeout=15m; then
  kubectl -n "$namespace" logs job/chatkit-gateway-migrate --tail=100 || true
  exit 1
fi

echo "== rollout"
kubectl apply -f "$work/rendered.yaml"
kubectl -n "$namespace" rollout status deployment/chatkit-gateway --timeout=10m
