#!/usr/bin/env bash
# Sets up the host, builds the test guest, builds kvmsnap and runs every test,
# including the integration tests against a real libvirtd. Exit status = the tests'.
#
# A watchdog stops the tests after KVMSNAP_TEST_TIMEOUT_MIN minutes (default 45) and first
# prints what they were doing (every thread's stack via gdb, the process tree, the domains),
# so a hang fails with a diagnosis instead of running into CI's own limit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/swift-path.sh

scripts/host-setup.sh
# Formatting, line-width and link lint (scripts/lint.sh) right after host setup (its link check
# reads the libvirt headers host-setup installs): it takes seconds, and a finding fails the run
# before the guest build and the long test run. KVMSNAP_LINT=0 skips it (local iteration only).
if [[ ${KVMSNAP_LINT:-1} != 0 ]]; then
  scripts/lint.sh || { echo "test.sh: scripts/lint.sh found problems (listed above)" >&2; exit 1; }
fi
KVMSNAP_TEST_GUEST_DIR="$(scripts/build-test-guest.sh | tail -n1)"
export KVMSNAP_TEST_GUEST_DIR
# Integration tests must run here; they fail (not skip) when libvirtd or the guest is missing.
export KVMSNAP_REQUIRE_INTEGRATION=1
# Real peers the tests talk to register their stop command in PEER_STOPS; one EXIT trap runs
# them all, whatever happens (a second `trap ... EXIT` would replace the first).
PEER_STOPS=()
stop_peers() { local c; for c in "${PEER_STOPS[@]}"; do eval "$c" || true; done; }
trap stop_peers EXIT
# Real alert receivers on loopback for NotifyTests (HTTP: webhook/ntfy/Gotify; SMTP: aiosmtpd).
source scripts/lib/notify-peers.sh
notify_peers_install
notify_peers_root="$(mktemp -d /tmp/kvmsnap-notify-peers.XXXXXX)"
PEER_STOPS+=('notify_peers_stop; rm -rf "$notify_peers_root"')
notify_peers_start "$notify_peers_root"

# Test guests are named kvmsnap-guesttest-*; VMs tests make from them (restore --as, fuzzed
# names) have their disks under /var/lib/kvmsnap-tests. A run that was killed can leave some behind.
stale_test_domains() {
  local d
  while IFS= read -r d; do
    [[ -n "$d" ]] || continue
    if [[ "$d" == kvmsnap-guesttest-* || "$d" == drill-kvmsnap-guesttest-* ]] || virsh -c qemu:///system dumpxml "$d" 2>/dev/null | grep -q "/var/lib/kvmsnap-tests/"; then
      printf '%s\n' "$d"
    fi
  done < <(virsh -c qemu:///system list --all --name 2>/dev/null || true)
}
remove_stale_test_guests() {
  local d
  while IFS= read -r d; do
    echo "test.sh: removing leftover test domain $d" >&2
    # A drill clone's isolated network (transient: destroying it removes it).
    local n
    for n in $(virsh -c qemu:///system domiflist "$d" 2>/dev/null | awk '$3 ~ /^kvmsnap-drill-/ {print $3}'); do
      virsh -c qemu:///system net-destroy "$n" >/dev/null 2>&1 || true
    done
    virsh -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
    virsh -c qemu:///system undefine "$d" --nvram >/dev/null 2>&1 \
      || virsh -c qemu:///system undefine "$d" >/dev/null 2>&1 || true
  done < <(stale_test_domains)
  rm -rf /var/lib/kvmsnap-tests/kvmsnap-guesttest-*
  # DrillTests' "production" bridges.
  local b
  for b in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '$2 ~ /^kvgt-/ {print $2}'); do
    ip link del "$b" 2>/dev/null || true
  done
}
remove_stale_test_guests

# The S3 server of the vault tests (moto, SigV4 and IAM checked), stopped when this script exits.
source scripts/lib/s3-peer.sh
s3_peer_start
PEER_STOPS+=(s3_peer_stop)

swift build --build-tests
# The release binary, built as scripts/install.sh builds it (an install afterwards reuses it):
# ReleaseBinaryTests checks that it ignores the KVMSNAP_TEST_* fault-injection variables.
swift build -c release --static-swift-stdlib --product kvmsnap
KVMSNAP_RELEASE_BINARY="$(swift build -c release --static-swift-stdlib --show-bin-path)/kvmsnap"
export KVMSNAP_RELEASE_BINARY
# The second host for the ssh:// vault tests: sshd in its own network namespace, serving with
# the kvmsnap just built; stopped (namespace and veth removed) when this script exits.
PEER_STOPS+=('scripts/lib/ssh-peer.sh stop')
scripts/lib/ssh-peer.sh start "$(swift build --show-bin-path)/kvmsnap"

limit_min="${KVMSNAP_TEST_TIMEOUT_MIN:-45}"
watchdog() {
  sleep "$((limit_min * 60))" &
  wait $! || return 0   # the sleep was killed: the tests finished in time
  echo "test.sh: tests still running after ${limit_min} min; what they were doing:" >&2
  ps -ef --forest >&2 || true
  virsh -c qemu:///system list --all >&2 || true
  local p
  for p in $(pgrep -f kvmsnapPackageTests || true); do
    if command -v gdb >/dev/null; then
      timeout 120 gdb -p "$p" -batch -ex 'thread apply all bt 25' 2>/dev/null | grep -E '^(Thread|#)' >&2 || true
    fi
    kill -TERM "$p" 2>/dev/null || true
  done
}

# Swift Testing runs suites in parallel; integration suites serialise themselves.
# stdbuf: line-buffered output, so a log cut short still ends at the last event.
stdbuf -oL -eL swift test --skip-build "$@" &
tests=$!
watchdog &
dog=$!
status=0
wait "$tests" || status=$?
# Stop the watchdog's sleep (left running, it would hold our stdout open); the watchdog then ends.
pkill -P "$dog" 2>/dev/null || true
wait "$dog" 2>/dev/null || true
if ((status != 0)); then remove_stale_test_guests; fi
exit "$status"
