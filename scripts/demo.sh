#!/usr/bin/env bash
# kvmsnap demo: sets up the host, builds kvmsnap, defines a small demo VM (the test guest,
# TCG) and runs the main job on it: a full snapshot, guest changes, an incremental snapshot,
# a listing with sizes, two sends to a vault (the second incremental), a restore (safety snapshot, stop, revert, start, verify) that brings the guest's memory and disks back, and a prune dry run.
# At the end it starts the web panel (`kvmsnap serve`) and prints its URL and token.
#
# Uses its own catalog and store under /var/lib/kvmsnap-demo, so it never touches real data.
# `scripts/demo.sh --cleanup` removes the demo VM and its files.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/swift-path.sh
source scripts/lib/guest.sh

VM=kvmsnap-demo
DEMO=/var/lib/kvmsnap-demo
export KVMSNAP_CATALOG=$DEMO/catalog.sqlite KVMSNAP_STORE=$DEMO/store LIBVIRT_DEFAULT_URI=qemu:///system

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
  # The web panel the demo left running (its pid file), then the VM.
  if [[ -f $DEMO/panel.pid ]]; then kill "$(cat "$DEMO/panel.pid")" 2>/dev/null || true; fi
  virsh -q destroy "$VM" >/dev/null 2>&1 || true
  virsh -q undefine "$VM" --nvram >/dev/null 2>&1 || true
  rm -rf "$DEMO"
}
if [[ ${1:-} == --cleanup ]]; then cleanup; echo "demo removed"; exit 0; fi

step "host setup (packages, libvirtd)"
scripts/host-setup.sh
step "test guest (kernel + busybox initramfs from Debian packages)"
GUEST_DIR=$(scripts/build-test-guest.sh | tail -n1)
step "build kvmsnap"
swift build -c debug 2>&1 | tail -n1
K=$(swift build --show-bin-path)/kvmsnap

step "define the demo VM $VM (TCG, 256 MiB, disks vda+vdb; it writes 8 MiB to vdb ~15 s after boot)"
cleanup
mkdir -p "$DEMO/images" && chmod 711 "$DEMO" "$DEMO/images"
disks=$(test_guest_disks "$DEMO/images/" 64M 64M)
define_test_guest "$VM" qemu 256 "$GUEST_DIR" "kvmsnap.autowrite=8:15" "$DEMO/console.log" "$disks" "$DEMO/$VM.xml"
counter() { grep -ao 'counter=[0-9]*' "$DEMO/console.log" 2>/dev/null | tail -n1 | cut -d= -f2; }
wait_for() { for _ in $(seq 1 300); do grep -aq "$1" "$DEMO/console.log" 2>/dev/null && return 0; sleep 0.2; done; echo "guest never printed $1"; exit 1; }
wait_for 'counter=3'
"$K" vms

step "full snapshot 'base' of the running VM (memory + disks + config)"
"$K" create "$VM" --name base --description "demo: first snapshot"
echo "guest counter at snapshot time: $(counter)"

step "let the guest change: it keeps counting and writes 8 MiB of random data"
wait_for 'wrote=8'
echo "guest counter now: $(counter)"

step "incremental snapshot 'after-write' (only what changed since 'base')"
"$K" create "$VM" --name after-write --description "demo: after the guest wrote 8 MiB"

step "snapshots with sizes"
"$K" list "$VM"
"$K" usage "$VM"

step "vault: add a vault (a directory standing in for a NAS or USB disk) and send 'base' to it (first send: reads everything)"
"$K" vault add demo-vault "$DEMO/vault"
"$K" send "$VM" base --to demo-vault

step "vault: send 'after-write' (incremental: reads only the clusters written since 'base', plus the memory image)"
"$K" send "$VM" after-write --to demo-vault --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("sent %s to %s, incremental to %s: read %.1f MiB, vault grew %.1f MiB (%d new chunks, %d reused) in %.2f s"
      % (r["snapshot"], r["vault"], r["baseSnapshot"], r["bytesRead"] / 2**20, r["bytesStored"] / 2**20,
         r["chunksNew"], r["chunksReused"], r["seconds"]))'
"$K" vault snapshots demo-vault

step "restore 'base' (typed name passed with --confirm): memory and disks go back, the counter continues from the snapshot"
before=$(counter)
"$K" restore "$VM" base --confirm "$VM"
wait_for 'counter='
sleep 2
echo "counter before restore: $before; after restore the guest prints: $(grep -ao 'counter=[0-9]*' "$DEMO/console.log" | head -n1)"

step "retention: what 'keep only the newest snapshot' would prune (dry run, nothing deleted)"
"$K" prune "$VM" --keep-last 1 --dry-run

step "drill: boot a throwaway clone of 'after-write' on an isolated network, check that it comes up, remove it"
"$K" drill "$VM" after-write --check-console 'kvmsnap-guest ready' --timeout 3min
"$K" drill report "$VM"

step "web panel (kvmsnap serve on loopback; it keeps running until scripts/demo.sh --cleanup)"
setsid "$K" serve --listen 127.0.0.1:8470 >"$DEMO/panel.log" 2>&1 &
echo $! >"$DEMO/panel.pid"
for _ in $(seq 1 100); do grep -q '^kvmsnap panel: ' "$DEMO/panel.log" && break; sleep 0.2; done
grep '^kvmsnap panel: ' "$DEMO/panel.log" || { cat "$DEMO/panel.log"; exit 1; }
echo "token: $("$K" serve --show-token)"
echo "(from another machine: ssh -L 8470:127.0.0.1:8470 this-host, then open http://127.0.0.1:8470/)"

step "done"
echo "The demo VM keeps running. Try: KVMSNAP_CATALOG=$KVMSNAP_CATALOG KVMSNAP_STORE=$KVMSNAP_STORE $K list $VM"
echo "Remove it with: scripts/demo.sh --cleanup"
