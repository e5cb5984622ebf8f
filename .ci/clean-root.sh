#!/usr/bin/env bash
# .ci/run on a clean Debian 12 with only the .NET SDK, as a fresh machine is: debootstrap a bookworm root (Debian's
# mirror, as apt uses it), give it this machine's .NET SDK, clone the repository into it and run .ci/run there,
# chrooted (as root, which debootstrap and chroot need). What .ci/run installs there (Prometheus, Node.js 18 and
# npm 9 from Debian, the Python client) is Debian's own, not this machine's.
#   sudo .ci/clean-root.sh [ROOT_DIR]        (default: a new temporary folder; removed at the end unless KEEP_ROOT=1)
set -euo pipefail
cd "$(dirname "$0")/.."
root="${1:-$(mktemp -d)/bookworm}"
command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"

[[ -x "$root/bin/bash" ]] || debootstrap --variant=minbase --include=ca-certificates,git,procps,curl bookworm "$root" http://deb.debian.org/debian
cp /etc/resolv.conf "$root/etc/resolv.conf"
# This host's trust store: a machine behind a TLS-inspecting proxy trusts its CA, and so must the root's NuGet and git.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
cleanup() {
  for mount in opt/dotnet tmp proc sys dev; do umount -l "$root/$mount" 2>/dev/null || true; done
  [[ "${KEEP_ROOT:-0}" == 1 ]] || rm -rf "$root"
}
trap cleanup EXIT
mkdir -p "$root/opt/dotnet"
mount --bind "$dotnet_root" "$root/opt/dotnet"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/tmp"
rm -rf "$root/work/repo"
mkdir -p "$root/work"
git clone -q "$PWD" "$root/work/repo"
mkdir -p "$root/work/shared" && cp -r ../shared/. "$root/work/shared/" 2>/dev/null || true
chroot "$root" /usr/bin/env -i HOME=/root PATH=/opt/dotnet:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  DOTNET_ROOT=/opt/dotnet DOTNET_CLI_TELEMETRY_OPTOUT=1 NUGET_CERT_REVOCATION_MODE="${NUGET_CERT_REVOCATION_MODE:-online}" CI=true bash -c 'cd /work/repo && git log --oneline -1 && bash .ci/run'
