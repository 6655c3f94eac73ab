#!/usr/bin/env bash
# Install the Debian packages kubeplay needs, only those missing (fast when all are there).
set -euo pipefail
# docker-registry and apache2-utils (htpasswd): the loopback registry of the pull tests.
packages=(runc crun conmon catatonit skopeo umoci busybox-static nftables dnsmasq-base iproute2
          golang-github-containers-common docker-registry apache2-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "kubeplay needs these Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
