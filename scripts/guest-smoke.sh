#!/usr/bin/env bash
# Proves the kvmsnap test guest end to end on qemu:///system:
#   build (cached) -> two qcow2 disks -> define + start -> counter=3 on the console ->
#   counter records on both disks (read from the host with qemu-io) -> destroy -> start
#   again -> counter resumes from the disk value -> clean up (also on failure).
# Env: SMOKE_MEMORY_MIB (256), SMOKE_CMDLINE_EXTRA (""), SMOKE_TYPE (qemu),
#      SMOKE_TIMEOUT seconds per wait (180), LIBVIRT_URI (qemu:///system),
#      SMOKE_KEEP_LOG=1 keeps the console log copy in /tmp.
# Exits non-zero on any failure.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
TEMPLATE="$REPO_DIR/Fixtures/test-guest.xml"
URI=${LIBVIRT_URI:-qemu:///system}
MEMORY_MIB=${SMOKE_MEMORY_MIB:-256}
# The smoke test always exercises the autowrite trigger (2 MiB to vdb after 1 s).
CMDLINE_EXTRA="kvmsnap.autowrite=2:1 ${SMOKE_CMDLINE_EXTRA:-}"
TYPE=${SMOKE_TYPE:-qemu}
TIMEOUT=${SMOKE_TIMEOUT:-180}
IMAGES=/var/lib/libvirt/images

log() { printf 'guest-smoke: %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
virsh_() { virsh -q -c "$URI" "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

GUEST_DIR=$("$SCRIPT_DIR/build-test-guest.sh" | tail -n 1)
KERNEL="$GUEST_DIR/vmlinuz"
INITRD="$GUEST_DIR/initrd.img"
[[ -r "$KERNEL" && -r "$INITRD" ]] || fail "build-test-guest.sh produced no kernel/initrd in $GUEST_DIR"

NAME="kvmsnap-guesttest-smoke-$(date +%s)-$$"
VDA="$IMAGES/$NAME-vda.qcow2"
VDB="$IMAGES/$NAME-vdb.qcow2"
CONSOLE="$IMAGES/$NAME.console.log"
XML=$(mktemp "/tmp/$NAME.XXXXXX.xml")
DISKS_XML=$(mktemp "/tmp/$NAME.XXXXXX.disks")

cleanup() {
  local rc=$?
  set +e
  if [[ $rc -ne 0 && -f "$CONSOLE" ]]; then
    log "console log (last 30 lines):"
    tail -n 30 "$CONSOLE" | sed 's/^/  | /' >&2
  fi
  if virsh_ dominfo "$NAME" >/dev/null 2>&1; then
    virsh_ destroy "$NAME" >/dev/null 2>&1
    virsh_ undefine "$NAME" --managed-save --snapshots-metadata >/dev/null 2>&1 \
      || virsh_ undefine "$NAME" >/dev/null 2>&1
  fi
  if [[ "${SMOKE_KEEP_LOG:-0}" == 1 && -f "$CONSOLE" ]]; then
    cp "$CONSOLE" "/tmp/$NAME.console.log" && log "console log kept: /tmp/$NAME.console.log"
  fi
  rm -f "$VDA" "$VDB" "$CONSOLE" "$XML" "$DISKS_XML"
  if [[ $rc -eq 0 ]]; then log "PASS"; else log "cleaned up after failure (rc=$rc)"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prints the first line of the counter record (or any text record) at byte offset $2 of a
# qcow2 image, read from the host while the guest may be running.
read_record() { # $1 image, $2 byte offset
  "$SCRIPT_DIR/guest-disk-record.sh" "$1" "$2"
}

# Waits until the console log has a line matching the ERE $1; prints the line.
wait_console() { # $1 regex, $2 what
  local deadline line
  deadline=$(( $(date +%s) + TIMEOUT ))
  while (( $(date +%s) < deadline )); do
    if line=$(tr -d '\r' <"$CONSOLE" 2>/dev/null | grep -a -m 1 -E "$1"); then
      printf '%s\n' "$line"
      return 0
    fi
    virsh_ domstate "$NAME" 2>/dev/null | grep -q running || fail "domain stopped while waiting for $2"
    sleep 0.2
  done
  fail "timed out after ${TIMEOUT}s waiting for $2"
}

# ---- disks + domain ------------------------------------------------------------------
mkdir -p "$IMAGES"
qemu-img create -q -f qcow2 "$VDA" 64M
qemu-img create -q -f qcow2 "$VDB" 16M
chmod 644 "$VDA" "$VDB"
cat >"$DISKS_XML" <<EOF
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='$VDA'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='$VDB'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
EOF
sed -e "s|@NAME@|$NAME|g" -e "s|@TYPE@|$TYPE|g" -e "s|@MEMORY_MIB@|$MEMORY_MIB|g" \
    -e "s|@KERNEL@|$KERNEL|g" -e "s|@INITRD@|$INITRD|g" -e "s|@CMDLINE_EXTRA@|$CMDLINE_EXTRA|g" \
    -e "s|@CONSOLE_LOG@|$CONSOLE|g" \
    -e "/^[[:space:]]*@DISKS@[[:space:]]*\$/{r $DISKS_XML" -e 'd}' \
    "$TEMPLATE" >"$XML"
if sed '/<!--/,/-->/d' "$XML" | grep -q '@[A-Z_]*@'; then fail "unreplaced placeholder in $XML"; fi

virsh_ define "$XML" >/dev/null
log "defined $NAME (type=$TYPE, ${MEMORY_MIB} MiB, cmdline extra: '${CMDLINE_EXTRA}')"

# ---- first boot ----------------------------------------------------------------------
t0=$(now)
virsh_ start "$NAME" >/dev/null
t_started=$(now)
wait_console '^kvmsnap-guest ready' "kvmsnap-guest ready" >/dev/null
t_ready=$(now)
log "boot: virsh start took $(elapsed "$t0" "$t_started") s; start -> 'kvmsnap-guest ready' $(elapsed "$t0" "$t_ready") s"
echo "boot_seconds=$(elapsed "$t0" "$t_ready")"
start_line=$(wait_console '^kvmsnap-guest start=' "start line")
[[ "$start_line" == "kvmsnap-guest start=0" ]] || fail "fresh disk should start at 0, got '$start_line'"
if [[ "$CMDLINE_EXTRA" == *kvmsnap.fillmem=* ]]; then
  fill_line=$(tr -d '\r' <"$CONSOLE" | grep -a -m 1 -E '^kvmsnap-guest (fillmem=|error: fillmem)' || true)
  log "fillmem: ${fill_line:-<no fillmem line>}"
  [[ "$fill_line" == "kvmsnap-guest fillmem="* ]] || fail "memory fill did not succeed"
fi
wait_console '^counter=3$' "counter=3" >/dev/null
log "console reached counter=3 after $(elapsed "$t0" "$(now)") s"

# ---- disk state from the host --------------------------------------------------------
for img in "$VDA" "$VDB"; do
  rec=$(read_record "$img" 0)
  log "$(basename "$img") sector 0: '$rec'"
  [[ "$rec" =~ ^KVMSNAP-COUNTER\ ([0-9]+)$ ]] || fail "no counter record on $img"
  (( BASH_REMATCH[1] >= 3 )) || fail "counter on $img is ${BASH_REMATCH[1]}, expected >= 3"
done
qemu-io -r -U -f qcow2 -c 'read -v 0 32' "$VDA" >&2

# ---- autowrite: 2 MiB of random data at vdb offset 1 MiB --------------------------------
wait_console '^wrote=2$' "wrote=2 (kvmsnap.autowrite)" >/dev/null
nonzero_at() { # $1 image, $2 offset: succeeds if the 64 KiB there are not all zero
  local out
  out=$(qemu-io -r -U -f qcow2 -c "read -P 0 $2 65536" "$1" 2>&1 || true) # exits 1 on a mismatch
  grep -q 'Pattern verification failed' <<<"$out"
}
nonzero_at "$VDB" $((1024 * 1024)) || fail "autowrite: vdb at 1 MiB is still zero"
nonzero_at "$VDB" $((3 * 1024 * 1024 - 65536)) || fail "autowrite: vdb just below 3 MiB is still zero"
nonzero_at "$VDB" $((3 * 1024 * 1024)) && fail "autowrite: vdb at 3 MiB was written (only 2 MiB expected)"
log "autowrite: wrote=2 seen, vdb [1 MiB, 3 MiB) holds data"

# ---- control channel (virtio-serial org.kvmsnap.control.0) --------------------------
# Sends one command line to the guest's control socket, prints the reply line.
control() { # $1 command
  /usr/bin/python3 - "$CONTROL_SOCK" "$1" "$TIMEOUT" <<'PY'
import socket, sys
path, cmd, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(timeout)
s.connect(path)
s.sendall((cmd + "\n").encode())
buf = b""
while not buf.endswith(b"\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    buf += chunk
print(buf.decode().strip())
PY
}
CONTROL_SOCK=$(virsh_ dumpxml "$NAME" | tr -d '\n' \
  | sed -n "s|.*<channel type='unix'> *<source mode='bind' path='\([^']*\)'/> *<target type='virtio' name='org.kvmsnap.control.0'.*|\1|p")
[[ -S "$CONTROL_SOCK" ]] || fail "control channel socket not found in the live XML (got '$CONTROL_SOCK')"
reply=$(control ping) && [[ "$reply" == pong ]] || fail "control ping: '$reply'"
reply=$(control counter)
[[ "$reply" =~ ^counter=([0-9]+)$ ]] && (( BASH_REMATCH[1] >= 3 )) || fail "control counter: '$reply'"
log "control channel: ping -> pong, counter -> $reply"
reply=$(control "write 1 live$$")
[[ "$reply" == "wrote=live$$" ]] || fail "control write: '$reply'"
wait_console "^wrote=live$$\$" "wrote=live$$ on the console" >/dev/null
log "control channel: write 1 MiB -> $reply"

# ---- restart: the counter resumes from the disk ----------------------------------------
virsh_ destroy "$NAME" >/dev/null
# While shut off, request a write through the sector-1 trigger of vdb.
REQ=$(mktemp "/tmp/$NAME.XXXXXX.req")
printf 'KVMSNAP-WRITE 1 smoke%s\n' "$$" >"$REQ"
truncate -s 512 "$REQ"
qemu-io -f qcow2 -c "write -q -s $REQ 512 512" "$VDB"
rm -f "$REQ"
rec=$(read_record "$VDA" 0)
[[ "$rec" =~ ^KVMSNAP-COUNTER\ ([0-9]+)$ ]] || fail "no counter record on vda after destroy"
disk_value=${BASH_REMATCH[1]}
log "after destroy vda holds $disk_value"

t0=$(now)
virsh_ start "$NAME" >/dev/null
wait_console '^kvmsnap-guest ready' "kvmsnap-guest ready (second boot)" >/dev/null
log "second boot: start -> ready $(elapsed "$t0" "$(now)") s"
start_line=$(wait_console '^kvmsnap-guest start=' "start line (second boot)")
[[ "$start_line" == "kvmsnap-guest start=$disk_value" ]] \
  || fail "second boot should resume from $disk_value, got '$start_line'"
next=$((disk_value + 1))
wait_console "^counter=$next\$" "counter=$next" >/dev/null
first=$(tr -d '\r' <"$CONSOLE" | grep -a -m 1 -E '^counter=')
[[ "$first" == "counter=$next" ]] || fail "first counter line after restart is '$first', expected counter=$next"
log "second boot resumed: $start_line, then $first"

wait_console "^wrote=smoke$$\$" "wrote=smoke$$ (sector-1 trigger)" >/dev/null
ack=$(read_record "$VDB" 1024)
[[ "$ack" == "KVMSNAP-WROTE smoke$$" ]] || fail "sector-1 trigger: vdb sector 2 holds '$ack'"
log "sector-1 trigger: wrote=smoke$$ seen, vdb sector 2: '$ack'"

# ---- ACPI power button: virsh shutdown powers the guest off --------------------------
t0=$(now)
virsh_ shutdown "$NAME" >/dev/null
for _ in $(seq 1 $((TIMEOUT * 5))); do
  virsh_ domstate "$NAME" | grep -q 'shut off' && break
  sleep 0.2
done
virsh_ domstate "$NAME" | grep -q 'shut off' || fail "guest did not power off after virsh shutdown"
grep -aq '^kvmsnap-guest poweroff' "$CONSOLE" || fail "no 'kvmsnap-guest poweroff' line"
log "virsh shutdown -> shut off in $(elapsed "$t0" "$(now)") s"
