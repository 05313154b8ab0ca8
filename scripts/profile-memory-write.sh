#!/usr/bin/env bash
# Where does a memory capture's time go? (issue 11: memory_write_vs_disk_limit)
#
# Boots the benchmark's guest (1 GiB, kvmsnap.fillmem=400, TCG), then times, one after another:
#   1. the disk's limits: dd 1 GiB O_DIRECT, and dd 1 GiB through the page cache + fsync;
#   2. libvirt's external snapshot with memory, live (what kvmsnap create does), not synced;
#   3. the same with the guest paused for the whole capture (no live pre-copy, the guest off the CPU);
#   4. kvmsnap create (durable), and kvmsnap create with KVMSNAP_UNSAFE_NO_FSYNC=1;
# and for 2-4 the CPU seconds each QEMU thread (and kvmsnap, libvirtd) used during the capture,
# read from /proc/PID/task/*/stat. Prints one table; writes nothing outside its scratch dir.
#
#   sudo scripts/profile-memory-write.sh [RUNS]        (default 3 runs of each, medians)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/swift-path.sh
source scripts/lib/guest.sh
RUNS=${1:-3}
MEM_MIB=1024 FILL=400 TYPE=${KVMSNAP_BENCH_TYPE:-qemu}
[[ $EUID -eq 0 ]] || { echo "must run as root" >&2; exit 1; }
P=kvmsnap-prof-$$ WORK=/var/lib/kvmsnap-prof-$$
export LIBVIRT_DEFAULT_URI=qemu:///system KVMSNAP_CATALOG=$WORK/catalog.sqlite KVMSNAP_STORE=$WORK/store
cleanup() {
  set +e
  virsh -q destroy "$P" >/dev/null 2>&1; virsh -q undefine "$P" --nvram >/dev/null 2>&1 || virsh -q undefine "$P" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

scripts/host-setup.sh >/dev/null
GUEST_DIR=$(scripts/build-test-guest.sh | tail -n1)
swift build -c release --product kvmsnap 2>&1 | tail -n1 >&2
K=$(swift build -c release --show-bin-path)/kvmsnap
mkdir -p "$WORK/images" "$WORK/ext" && chmod 711 "$WORK" "$WORK/images" "$WORK/ext"

disks=$(test_guest_disks "$WORK/images/" 64M 128M " cache='none'")
define_test_guest "$P" "$TYPE" "$MEM_MIB" "$GUEST_DIR" "kvmsnap.fillmem=$FILL" "$WORK/console" "$disks" "$WORK/guest.xml"
for _ in $(seq 1 1200); do grep -aq 'kvmsnap-guest ready' "$WORK/console" 2>/dev/null && break; sleep 0.25; done
grep -aq 'kvmsnap-guest ready' "$WORK/console" || { echo "guest never got ready" >&2; exit 1; }
"$K" create "$P" --name root >/dev/null   # the first snapshot adopts the images; not profiled

now_ns() { date +%s%N; }
# cpu_of PID: "name=seconds" for every thread of PID (utime+stime), names with spaces joined by _.
cpu_of() {
  local tck; tck=$(getconf CLK_TCK)
  for s in /proc/"$1"/task/*/stat; do
    awk -v t="$tck" '{ match($0, /\(.*\)/); n = substr($0, RSTART + 1, RLENGTH - 2); gsub(/ /, "_", n)
      $0 = substr($0, RSTART + RLENGTH + 1); printf "%s=%.2f\n", n, ($12 + $13) / t }' "$s" 2>/dev/null
  done | awk -F= '{ a[$1] += $2 } END { for (k in a) printf "%s=%.2f\n", k, a[k] }'
  # The whole process, with threads that ended meanwhile (QEMU's live_migration thread does).
  awk -v t="$tck" '{ $0 = substr($0, index($0, ")") + 2); printf "ALL=%.2f\n", ($12 + $13) / t }' /proc/"$1"/stat
}
qemu_pid() { cat "/run/libvirt/qemu/$P.pid"; }
ROWS=$WORK/rows.tsv; : >"$ROWS"
# profile LABEL BYTES_FILE CMD...: wall time and per-thread CPU deltas of QEMU and libvirtd over CMD.
profile() {
  local label=$1 bytes_file=$2 q l t0 t1; shift 2
  q=$(qemu_pid); l=$(pgrep -xo libvirtd)
  cpu_of "$q" | sed 's/^/qemu:/' >"$WORK/before"; cpu_of "$l" | sed 's/^/libvirtd:/' >>"$WORK/before"
  sync
  virsh event "$P" --event lifecycle --loop --timestamp >"$WORK/events" 2>/dev/null &
  local evpid=$!; sleep 0.5
  t0=$(now_ns); "$@"; t1=$(now_ns)
  sleep 0.5; kill "$evpid" 2>/dev/null; wait "$evpid" 2>/dev/null || true
  local pause
  pause=$(python3 - "$WORK/events" <<'EOF'
import re, sys
from datetime import datetime
total, since = 0.0, None
for line in open(sys.argv[1]):
    m = re.match(r"(\S+ \S+?)([+-]\d{4}): event 'lifecycle' for domain '[^']*': (\w+)", line)
    if not m: continue
    ts = datetime.strptime(m.group(1) + m.group(2), "%Y-%m-%d %H:%M:%S.%f%z")
    if m.group(3) == "Suspended" and since is None: since = ts
    if m.group(3) == "Resumed" and since is not None: total += (ts - since).total_seconds() * 1000; since = None
print("%.0f" % total)
EOF
)
  cpu_of "$q" | sed 's/^/qemu:/' >"$WORK/after"; cpu_of "$l" | sed 's/^/libvirtd:/' >>"$WORK/after"
  local wall bytes
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  if [[ $bytes_file == json:* ]]; then
    bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["memoryBytes"])' "${bytes_file#json:}")
  else
    bytes=$(stat -c %s "$bytes_file")
  fi
  awk -F= -v label="$label" -v wall="$wall" -v bytes="$bytes" -v pause="$pause" 'NR == FNR { b[$1] = $2; next }
    { d = $2 - b[$1]; if (d >= 0.05) cpu = cpu sprintf(" %s %.2f;", $1, d) }
    END { printf "%s\t%s\t%.1f\t%s\t%s\n", label, wall, bytes / wall / 1e6, cpu, pause }' "$WORK/before" "$WORK/after" >>"$ROWS"
}
snapxml() {   # snapxml N: external snapshot XML, memory to $WORK/ext/mem.N
  echo "<domainsnapshot><name>p$1</name><memory snapshot='external' file='$WORK/ext/mem.$1'/><disks>
  <disk name='vda' snapshot='external' type='file'><source file='$WORK/ext/vda.$1'/></disk>
  <disk name='vdb' snapshot='external' type='file'><source file='$WORK/ext/vdb.$1'/></disk></disks></domainsnapshot>" >"$WORK/snap.$1.xml"
}

for i in $(seq 1 "$RUNS"); do
  sync; t0=$(now_ns); dd if=/dev/zero of="$WORK/dd" bs=1M count=1024 oflag=direct status=none; t1=$(now_ns)
  printf 'dd 1 GiB O_DIRECT\t%s\t%.1f\t\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print 1073741824 / ((b - a) / 1e9) / 1e6 }')" >>"$ROWS"
  rm -f "$WORK/dd"; sync
  t0=$(now_ns); dd if=/dev/zero of="$WORK/dd" bs=1M count=1024 conv=fsync status=none; t1=$(now_ns)
  printf 'dd 1 GiB page cache + fsync\t%s\t%.1f\t\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print 1073741824 / ((b - a) / 1e9) / 1e6 }')" >>"$ROWS"
  rm -f "$WORK/dd"

  profile "kvmsnap create (durable)" "json:$WORK/c$i.json" sh -c '"$@" >"$0"' "$WORK/c$i.json" "$K" create "$P" --name "c$i" --full-every 0 --json
  profile "kvmsnap create (KVMSNAP_UNSAFE_NO_FSYNC=1)" "json:$WORK/n$i.json" \
    sh -c '"$@" >"$0"' "$WORK/n$i.json" env KVMSNAP_UNSAFE_NO_FSYNC=1 "$K" create "$P" --name "n$i" --full-every 0 --json
done
# libvirt alone last: its external snapshots move the disks off the chain kvmsnap knows.
for i in $(seq 1 "$RUNS"); do
  snapxml "l$i"
  profile "virsh external --live (not synced)" "$WORK/ext/mem.l$i" \
    virsh -q snapshot-create "$P" --xmlfile "$WORK/snap.l$i.xml" --no-metadata --live --atomic >/dev/null
  rm -f "$WORK/ext/mem.l$i"
  snapxml "p$i"
  profile "virsh external, guest paused (not synced)" "$WORK/ext/mem.p$i" \
    virsh -q snapshot-create "$P" --xmlfile "$WORK/snap.p$i.xml" --no-metadata --atomic >/dev/null
  rm -f "$WORK/ext/mem.p$i"
done

echo "| what | wall s (median) | MB/s (median) | guest pause ms (events, median) | CPU seconds during the capture, last run (thread: s) |"
echo "|---|---|---|---|---|"
python3 - "$ROWS" <<'EOF'
import sys, statistics, collections
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    label, wall, mbs, cpu, pause = (line.rstrip("\n").split("\t") + ["", ""])[:5]
    rows.setdefault(label, []).append((float(wall), float(mbs), cpu, float(pause) if pause else None))
for label, xs in rows.items():
    pauses = [x[3] for x in xs if x[3] is not None]
    print("| %s | %.3f | %.0f | %s | %s |" % (label, statistics.median(x[0] for x in xs), statistics.median(x[1] for x in xs),
          "%.0f" % statistics.median(pauses) if pauses else "-", xs[-1][2].strip()))
EOF
