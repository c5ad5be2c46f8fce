#!/usr/bin/env bash
# Installs the system tools the test suite and the fixture generator use on a fresh Debian 12
# machine: tshark/capinfos (the end-to-end oracle), tcpdump, nfdump and softflowd (peer
# tools), and the real clients/servers test/fixtures/make-captures.sh drives (curl, nginx,
# dig, dnsmasq, openssl, socat, ping, iproute2), headless Chromium (renders /docs), and pandas +
# requests for the notebook example (examples/notebook.py, run by test/notebook-example.test.ts).
# Idempotent: packages already present are
# left alone. Under CI=true every package is required: not being root with packages missing,
# or a tool that does not run after the install, fails the build (the suite fails too: its
# tests throw under CI=true when a tool they need is missing, see
# test/support/required-tools.ts). Elsewhere it only warns, and those tests skip.
set -euo pipefail

PACKAGES=(
  tshark            # oracle for conversations, malformed-packet checks
  wireshark-common  # capinfos, mergecap, editcap, dumpcap
  tcpdump
  gzip              # compressed-capture fixtures (ingest/capture/*compressed*.test.ts)
  zstd
  xz-utils
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
  python3-pandas    # examples/notebook.py (Debian 12: pandas 1.5.3)
  python3-requests  # examples/notebook.py
  ca-certificates
  chromium-headless-shell  # renders the /docs API reference page in its test
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Each command the tests run, and a probe that exits 0 only when it works.
verify() {
  local failed=0
  for probe in "tshark --version" "editcap -v" "capinfos -v" "tcpdump --version" "tcpdump -i lo -d" "gzip --version" "zstd --version" "xz --version" \
               "nfdump -V" "softflowd -h" "dig -v" "curl --version" "nginx -v" "openssl version" "socat -V" "ip -V" \
               "chromium-headless-shell --version"; do
    if ! $probe >/dev/null 2>&1; then
      echo "setup-system: '$probe' does not work" >&2
      failed=1
    fi
  done
  # Debian's interpreter, where python3-pandas installs (a pyenv or venv python3 may come first on
  # the PATH; the notebook test tries both).
  if ! /usr/bin/python3 -c 'import pandas, requests' >/dev/null 2>&1; then
    echo "setup-system: '/usr/bin/python3 -c import pandas, requests' does not work" >&2
    failed=1
  fi
  return $failed
}

if [ "${#missing[@]}" -ne 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    if [ "${CI:-}" = "true" ]; then
      echo "setup-system: CI=true but not root, cannot install: ${missing[*]}" >&2
      exit 1
    fi
    echo "setup-system: not root, skipping install of: ${missing[*]} (dependent tests will skip)" >&2
    exit 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer "no" without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
  echo "setup-system: installed ${missing[*]}"
else
  echo "setup-system: all system packages present"
fi

if ! verify; then
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  echo "setup-system: some tools do not work here (dependent tests will skip)" >&2
fi
