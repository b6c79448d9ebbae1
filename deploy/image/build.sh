#!/usr/bin/env bash
# Build the Lianxin image with whichever builder works here: docker, podman, then buildah.
#   deploy/image/build.sh [TAG]      (default lianxin:<version from pyproject.toml>)
# Environment: BASE_IMAGE (the Containerfile's default otherwise), BUILDER to force one,
# BUILD_ARGS for extra builder flags (e.g. a CA bundle mount for buildah).
set -euo pipefail
cd "$(dirname "$0")/../.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n 1)
tag=${1:-lianxin:${version}}
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

works() {
  case "$1" in
    docker) command -v docker >/dev/null && docker info >/dev/null 2>&1 ;;
    podman) command -v podman >/dev/null && podman info >/dev/null 2>&1 ;;
    buildah) command -v buildah >/dev/null ;;
    *) return 1 ;;
  esac
}

builder=${BUILDER:-}
if [ -z "$builder" ]; then
  for candidate in docker podman buildah; do
    if works "$candidate"; then builder=$candidate; break; fi
  done
fi
if [ -z "$builder" ] || ! works "$builder"; then
  echo "no working image builder: install docker, podman or buildah (make image-tools)" >&2
  exit 1
fi

# buildah on a machine that reaches no registry (ours): build on a local debootstrap base
# instead of python:3.11-slim-bookworm, and let pip trust what the host trusts.
default_base=$(sed -n 's/^ARG BASE_IMAGE=//p' deploy/image/Containerfile)
if [ "$builder" = buildah ] && [ -z "${BASE_IMAGE:-}" ] \
  && ! buildah inspect --type image "$default_base" >/dev/null 2>&1 \
  && ! buildah pull --quiet "$default_base" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v debootstrap >/dev/null; then
    echo "cannot pull $default_base: building on a local debootstrap base" >&2
    BASE_IMAGE=$(deploy/image/debootstrap-base.sh)
    ca=/etc/ssl/certs/ca-certificates.crt
    if [ -f "$ca" ]; then BUILD_ARGS="${BUILD_ARGS:-} -v ${ca}:${ca}:ro"; fi
  else
    echo "cannot pull $default_base; set BASE_IMAGE, or run as root with debootstrap" >&2
    exit 1
  fi
fi

args=(-f deploy/image/Containerfile -t "$tag"
  --build-arg "VERSION=${version}" --build-arg "REVISION=${revision}")
if [ -n "${BASE_IMAGE:-}" ]; then args+=(--build-arg "BASE_IMAGE=${BASE_IMAGE}"); fi
read -r -a extra <<<"${BUILD_ARGS:-}"
case "$builder" in
  # --layers: reuse the dependency layer when only code changed (docker does by default).
  buildah) buildah bud --isolation chroot --layers "${args[@]}" "${extra[@]}" . ;;
  *) "$builder" build "${args[@]}" "${extra[@]}" . ;;
esac
echo "built $tag with $builder"
