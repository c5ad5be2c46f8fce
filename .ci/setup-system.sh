#!/usr/bin/env bash
# Installs the system tools the test suite and the fixture generator use on a fresh Debian 12
# machine: tshark/capinfos (the end-to-end oracle), tcpdump, nfdump and softflowd (peer
# tools), and the real clients/servers test/fixtures/make-captures.sh drives (curl, nginx,
# dig, dnsmasq, openssl, socat, ping, iproute2). Idempotent: packages already present are
# left alone. Never fails the build just because it is not root: tests that need a missing
# tool skip themselves.
set -euo pipefail

PACKAGES=(
  tshark            # oracle for conversations, malformed-packet checks
  wireshark-common  # capinfos, mergecap, editcap, dumpcap
  tcpdump
  nfdump
  softflowd
  dnsutils          # dig
  iproute2          # ip netns, veth, vlan
  iputils-ping
  curl
  nginx
  dnsmasq-base
  openssl
  socat
  python3           # vlan-relay.py when the kernel lacks 8021q
  ca-certificates
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-system: all system packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: not root, skipping install of: ${missing[*]} (dependent tests will skip)" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer "no" without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "setup-system: installed ${missing[*]}"
