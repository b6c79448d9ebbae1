#!/usr/bin/env bash
# Make a local Debian bookworm base with python3.11 + venv, for machines that reach no
# image registry (ours): `buildah from scratch` + debootstrap minbase, committed as
# localhost/lianxin-base:bookworm. Done once; buildah's image store keeps it (outside the
# clone). Needs root, buildah and debootstrap (make image-tools).
#   deploy/image/debootstrap-base.sh [IMAGE]    prints the image name
set -euo pipefail

image=${1:-localhost/lianxin-base:bookworm}
if buildah inspect --type image "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi
# The Debian mirror apt uses here (deb822 or one-line sources), else the public one.
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n 1 || true)
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^deb \([^ ]*\) bookworm .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n 1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

ctr=$(buildah from scratch)
cleanup() { buildah umount "$ctr" >/dev/null 2>&1 || true; buildah rm "$ctr" >/dev/null 2>&1 || true; }
trap cleanup EXIT
root=$(buildah mount "$ctr")
debootstrap --variant=minbase --include=python3,python3-venv bookworm "$root" "$mirror" >&2
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
buildah umount "$ctr" >/dev/null
buildah config --env LANG=C.UTF-8 --cmd /bin/sh "$ctr"
buildah commit --quiet "$ctr" "$image" >/dev/null
echo "$image"
