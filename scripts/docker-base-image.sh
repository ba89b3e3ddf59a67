#!/usr/bin/env bash
# The TEST machines' stand-in for debian:bookworm-slim, made locally because they reach Debian's
# mirror and PyPI (through a proxy) but no image registry. Idempotent: does nothing when the image
# exists. A real debian:bookworm-slim from a registry needs none of this.
#
#   bash scripts/docker-base-image.sh                  # debootstrap (~2.5 min), then docker import
#   BASE_ROOTFS=/tmp/rootfs bash scripts/docker-base-image.sh   # copy a finished debootstrap instead
#
# What it adds to the plain minbase system, for this machine's network only:
# - a copy of the machine's CA bundle at /etc/ssl/build-ca/bundle.crt (a path apt leaves alone:
#   installing ca-certificates during a build rewrites /etc/ssl/certs/ca-certificates.crt), and
# - /etc/pip.conf naming it, so pip trusts the PyPI proxy's CA (else CERTIFICATE_VERIFY_FAILED).
set -euo pipefail

IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_CA=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "docker-base-image: $IMAGE exists"
  exit 0
fi

work=$(mktemp -d /tmp/docker-base-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
if [ -n "${BASE_ROOTFS:-}" ]; then
  echo "docker-base-image: copying the debootstrap in $BASE_ROOTFS"
  cp -a "$BASE_ROOTFS" "$rootfs"
else
  echo "docker-base-image: debootstrap --variant=minbase bookworm from $MIRROR"
  timeout 900 debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log"; exit 1; }
fi

mkdir -p "$rootfs/etc/ssl/build-ca"
cp "$HOST_CA" "$rootfs/etc/ssl/build-ca/bundle.crt"
printf '[global]\ncert = /etc/ssl/build-ca/bundle.crt\n' >"$rootfs/etc/pip.conf"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

tar -C "$rootfs" -c . | timeout 600 docker import - "$IMAGE" >/dev/null
echo "docker-base-image: imported $IMAGE"
