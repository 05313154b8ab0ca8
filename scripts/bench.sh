#!/usr/bin/env bash
# kvmsnap benchmarks (issue 7): kvmsnap against plain libvirt / borg / sqlite3 baselines,
# measured side by side in the same run (interleaved, so machine noise hits both sides), median
# over N runs (5; 3 with --quick). Prints a markdown table and writes .build/bench/results.json.
#
#   sudo scripts/bench.sh [--quick]
#
# Guests: the test guest (scripts/build-test-guest.sh), TCG unless KVMSNAP_BENCH_TYPE=kvm;
# 1 GiB RAM with kvmsnap.fillmem=400 (~400 MiB of random data) and two disks (vda, vdb) for
# every comparison except the lab reset, which uses four smaller lab VMs (LAB_MIB / LAB_FILL
# below) because four 1 GiB guests do not fit on two cores next to other work.
# Everything it creates (domains, images, memory files, catalog, store) lives under one scratch
# directory and is removed on exit, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=5
[[ ${1:-} == --quick ]] && RUNS=3
[[ ${1:-} == --help ]] && { sed -n 2,14p "$0"; exit 0; }
TYPE=${KVMSNAP_BENCH_TYPE:-qemu}
MEM_MIB=1024 FILL=400          # comparison guests
LAB_MIB=256 LAB_FILL=100       # lab reset guests
WRITE_MIB=64                   # incremental_bytes_per_written_byte
CATALOG_ROWS=100000
RETENTION_COUNT=1000000 RETENTION_STEP=$((37 * 60)) RETENTION_START=-441763200   # 1956-01-01 UTC, ~70 years
PY=/usr/bin/python3            # Debian's python: borg 1.2 is importable there

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
[[ $EUID -eq 0 ]] || die "must run as root (libvirt qemu:///system, images under /var/lib)"

ID=$$
P=kvmsnap-bench-$ID
WORK=/var/lib/kvmsnap-bench-$ID
export LIBVIRT_DEFAULT_URI=qemu:///system KVMSNAP_CATALOG=$WORK/catalog.sqlite KVMSNAP_STORE=$WORK/store

cleanup() {
  local rc=$?
  set +e
  for d in $(virsh list --all --name 2>/dev/null | grep "^$P-"); do
    virsh -q destroy "$d" >/dev/null 2>&1
    virsh -q undefine "$d" --snapshots-metadata --nvram >/dev/null 2>&1 || virsh -q undefine "$d" >/dev/null 2>&1
  done
  jobs -p | xargs -r kill 2>/dev/null
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

log "host setup"
scripts/host-setup.sh >/dev/null
GUEST_DIR=$(scripts/build-test-guest.sh | tail -n1)
log "release build"
swift build -c release --product kvmsnap 2>&1 | tail -n1 >&2
K=$(swift build -c release --show-bin-path)/kvmsnap
[[ -x $K ]] || die "no kvmsnap binary at $K"

mkdir -p "$WORK/images" "$WORK/ext" && chmod 711 "$WORK" "$WORK/images" "$WORK/ext"
SAMPLES=$WORK/samples.tsv NOTES=$WORK/notes.txt
: >"$SAMPLES"; : >"$NOTES"
sample() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$SAMPLES"; }   # metric side value
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'; }
jget() { $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$1" "$2"; }

# define_guest NAME MIB FILL: two qcow2 disks (vda 64M, vdb 128M), console log, started.
define_guest() {
  local name=$1 mib=$2 fill=$3 disks="" t
  for t in vda vdb; do
    qemu-img create -q -f qcow2 "$WORK/images/$name-$t.qcow2" "$([[ $t == vda ]] && echo 64M || echo 128M)"
    disks+="<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/><source file='$WORK/images/$name-$t.qcow2'/><target dev='$t' bus='virtio'/></disk>"
  done
  sed -e "s|@NAME@|$name|; s|@TYPE@|$TYPE|; s|@MEMORY_MIB@|$mib|g; s|@KERNEL@|$GUEST_DIR/vmlinuz|; s|@INITRD@|$GUEST_DIR/initrd.img|" \
      -e "s|@CMDLINE_EXTRA@|kvmsnap.fillmem=$fill|; s|@CONSOLE_LOG@|$WORK/$name.console|g; s|@DISKS@|$disks|" \
      Fixtures/test-guest.xml >"$WORK/$name.xml"
  virsh -q define "$WORK/$name.xml" >/dev/null
  virsh -q start "$name" >/dev/null
}
wait_ready() {
  local name=$1 i
  for i in $(seq 1 1200); do
    grep -aq 'kvmsnap-guest ready' "$WORK/$name.console" 2>/dev/null && return 0
    grep -aq 'kvmsnap-guest error' "$WORK/$name.console" 2>/dev/null && die "$name: $(grep -a 'kvmsnap-guest error' "$WORK/$name.console")"
    sleep 0.25
  done
  die "$name never printed 'kvmsnap-guest ready' (300 s)"
}
# guest_write NAME MIB SEQ: the guest writes MIB MiB of random data to vdb (control channel);
# returns once the guest reports the data is in the image.
guest_write() {
  local sock
  sock=$(virsh dumpxml "$1" | $PY -c '
import sys, xml.etree.ElementTree as ET
for ch in ET.parse(sys.stdin).getroot().iter("channel"):
    t = ch.find("target")
    if t is not None and t.get("name") == "org.kvmsnap.control.0":
        print(ch.find("source").get("path"))')
  $PY - "$sock" "$2" "$3" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(300); s.connect(sys.argv[1])
s.sendall(("write %s %s\n" % (sys.argv[2], sys.argv[3])).encode())
buf = b""
while b"\n" not in buf:
    chunk = s.recv(100)
    if not chunk: break
    buf += chunk
reply = buf.decode().strip()
if reply != "wrote=%s" % sys.argv[3]: sys.exit("guest write failed: %r" % reply)
EOF
}

# Internal snapshot pause: domjobinfo --completed "Downtime" if libvirt has it, else the
# Suspended→Resumed lifecycle events around the save, else the wall time of the create.
PAUSE_METHOD=""
internal_create() {   # internal_create DOMAIN SNAPNAME → sets T (s) and PAUSE (ms)
  local dom=$1 snap=$2 ev=$WORK/events.$2 evpid t0 t1 dt
  virsh event "$dom" --event lifecycle --loop --timestamp >"$ev" 2>/dev/null &
  evpid=$!
  sleep 0.5
  t0=$(now_ns); virsh -q snapshot-create-as "$dom" "$snap" >/dev/null; t1=$(now_ns)
  T=$(secs "$t0" "$t1")
  sleep 0.5; kill "$evpid" 2>/dev/null; wait "$evpid" 2>/dev/null || true
  dt=$(virsh domjobinfo "$dom" --completed 2>/dev/null | awk '/^Total downtime:/ { print $3 }')
  if [[ -n $dt ]]; then PAUSE=$dt; PAUSE_METHOD="domjobinfo --completed downtime"; return; fi
  PAUSE=$($PY - "$ev" <<'EOF'
import re, sys
from datetime import datetime
sus = res = None
for line in open(sys.argv[1]):
    m = re.match(r"(\S+ \S+?)([+-]\d{4}): event 'lifecycle' for domain '[^']*': (\w+)", line)
    if not m: continue
    ts = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
    if m.group(3) == "Suspended" and sus is None: sus = ts
    if m.group(3) == "Resumed" and sus is not None: res = ts
print("%.1f" % ((res - sus).total_seconds() * 1000) if sus and res else "")
EOF
)
  if [[ -n $PAUSE ]]; then PAUSE_METHOD="lifecycle events Suspended→Resumed"; return; fi
  PAUSE=$(awk -v t="$T" 'BEGIN { printf "%.1f", t * 1000 }'); PAUSE_METHOD="create wall time (no downtime stat, no events)"
}

# until_running DOMAIN CMD...: runs CMD; T = seconds from its start until the guest runs again
# (the last lifecycle Resumed/Started event of DOMAIN; the command's wall time if there is none),
# W = the command's wall time (kvmsnap restore verifies and reclaims old layers after that).
until_running() {
  local dom=$1 ev=$WORK/events.run evpid t0 t1 ts
  shift
  virsh event "$dom" --event lifecycle --loop --timestamp >"$ev" 2>/dev/null &
  evpid=$!
  sleep 0.5
  t0=$(now_ns); "$@" >/dev/null; t1=$(now_ns)
  sleep 0.5; kill "$evpid" 2>/dev/null; wait "$evpid" 2>/dev/null || true
  W=$(secs "$t0" "$t1")
  ts=$($PY - "$ev" <<'EOF'
import re, sys
from datetime import datetime, timezone
last = None
for line in open(sys.argv[1]):
    m = re.match(r"(\S+ \S+?)([+-]\d{4}): event 'lifecycle' for domain '[^']*': (\w+)", line)
    if m and m.group(3) in ("Resumed", "Started"):
        last = datetime.strptime(m.group(1) + m.group(2), "%Y-%m-%d %H:%M:%S.%f%z")
print("%d" % (last.timestamp() * 1e9) if last else "")
EOF
)
  if [[ -n $ts ]] && ((ts >= t0)); then T=$(secs "$t0" "$ts"); else T=$W; RUNNING_FALLBACK=1; fi
}
RUNNING_FALLBACK=0

# ---------------------------------------------------------------------------------------------
log "booting 3 identical guests ($MEM_MIB MiB, fillmem=$FILL, vda+vdb, type $TYPE): kvmsnap / internal / external"
A=$P-kvmsnap B=$P-internal C=$P-external
for g in $A $B $C; do define_guest "$g" $MEM_MIB $FILL; done
for g in $A $B $C; do wait_ready "$g"; done
sleep 2

log "kvmsnap root snapshot of $A (untimed: the metric is the incremental)"
"$K" create "$A" --name root --json >"$WORK/root.json"

log "create: $RUNS interleaved runs (kvmsnap incremental / internal / external / dd)"
for i in $(seq 1 "$RUNS"); do
  t0=$(now_ns); "$K" create "$A" --name "c$i" --json >"$WORK/c$i.json"; t1=$(now_ns)
  tk=$(secs "$t0" "$t1")
  mem=$(jget "$WORK/c$i.json" 'd["memoryBytes"]'); pause=$(jget "$WORK/c$i.json" 'd.get("guestPauseMs")')
  sample create_seconds kvmsnap "$tk"; sample create_overhead_vs_external kvmsnap "$tk"
  sample create_guest_pause_ms kvmsnap "$pause"
  sample memory_write_vs_disk_limit kvmsnap "$(awk -v b="$mem" -v t="$tk" 'BEGIN { printf "%.3f", b / t / 1e6 }')"

  internal_create "$B" "i$i"
  sample create_seconds baseline "$T"; sample create_guest_pause_ms baseline "$PAUSE"
  [[ $i -lt $RUNS ]] && virsh -q snapshot-delete "$B" "i$i" >/dev/null   # keep the last for the revert

  specs=()
  for t in vda vdb; do specs+=(--diskspec "$t,snapshot=external,file=$WORK/ext/$C-$t.e$i.qcow2"); done
  t0=$(now_ns)
  virsh -q snapshot-create-as "$C" "e$i" --no-metadata --live --memspec "file=$WORK/ext/$C.e$i.mem,snapshot=external" "${specs[@]}" >/dev/null
  t1=$(now_ns)
  sample create_overhead_vs_external baseline "$(secs "$t0" "$t1")"
  rm -f "$WORK/ext/$C.e$i.mem"

  t0=$(now_ns); dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=1024 oflag=direct status=none; t1=$(now_ns)
  rm -f "$WORK/dd.bin"
  sample memory_write_vs_disk_limit baseline "$(awk -v t="$(secs "$t0" "$t1")" 'BEGIN { printf "%.3f", 1073741824 / t / 1e6 }')"
  log "  run $i: kvmsnap ${tk}s (pause ${pause} ms, $mem B) / internal ${T}s (pause ${PAUSE} ms)"
done
echo "internal snapshot pause measured via: $PAUSE_METHOD" >>"$NOTES"
virsh -q destroy "$C" >/dev/null

log "restore: $RUNS interleaved runs (kvmsnap restore --no-safety-snapshot / virsh snapshot-revert)"
for i in $(seq 1 "$RUNS"); do
  until_running "$A" sh -c "'$K' restore '$A' 'c$RUNS' --confirm '$A' --no-safety-snapshot --json >'$WORK/r$i.json'"
  sample restore_seconds kvmsnap "$T"; sample restore_wall_seconds kvmsnap "$W"
  until_running "$B" virsh -q snapshot-revert "$B" "i$RUNS" --running
  sample restore_seconds baseline "$T"; sample restore_wall_seconds baseline "$W"
  [[ $(virsh domstate "$A") == running && $(virsh domstate "$B") == running ]] || die "a guest is not running after restore"
  log "  run $i: kvmsnap $(jget "$WORK/r$i.json" '"%.2fs, stages " % d["guestDowntimeSeconds"] + ", ".join("%s %.2f" % (s["stage"], s["seconds"]) for s in d["stages"])')"
done
virsh -q destroy "$B" >/dev/null
if ((RUNNING_FALLBACK)); then echo "restore: no lifecycle event seen in some runs: those count the command's wall time" >>"$NOTES"; fi

log "incremental vs full: the guest writes $WRITE_MIB MiB of random data before each snapshot"
for i in $(seq 1 "$RUNS"); do
  guest_write "$A" $WRITE_MIB "inc$i"
  "$K" create "$A" --name "inc$i" --disk-only --json >"$WORK/inc$i.json"
  sample incremental_bytes_per_written_byte kvmsnap "$(jget "$WORK/inc$i.json" "d['diskBytes'] / ($WRITE_MIB * 1048576)")"
  guest_write "$A" $WRITE_MIB "full$i"
  "$K" create "$A" --name "full$i" --full --disk-only --json >"$WORK/full$i.json"
  sample incremental_bytes_per_written_byte baseline "$(jget "$WORK/full$i.json" "d['diskBytes'] / ($WRITE_MIB * 1048576)")"
done
virsh -q destroy "$A" >/dev/null

log "retention: planning $RETENTION_COUNT snapshots (kvmsnap RetentionPlanner / borg prune_split), $RUNS runs each"
"$K" retention bench --count $RETENTION_COUNT --step $RETENTION_STEP --start="$RETENTION_START" --repeats "$RUNS" \
  --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --keep-yearly 5 >"$WORK/ret-k.json"
$PY scripts/bench-borg-prune.py $RETENTION_COUNT $RETENTION_STEP "$RETENTION_START" "$RUNS" daily=7 weekly=4 monthly=12 yearly=5 >"$WORK/ret-b.json"
for side in k b; do
  $PY -c 'import json,sys; [print(r["seconds"], r["kept"]) for r in json.load(open(sys.argv[1]))]' "$WORK/ret-$side.json" |
    while read -r s kept; do sample retention_plan_1m_seconds "$([[ $side == k ]] && echo kvmsnap || echo baseline)" "$s"; echo "$kept" >"$WORK/kept-$side"; done
done
[[ $(cat "$WORK/kept-k") == "$(cat "$WORK/kept-b")" ]] || die "retention: kvmsnap keeps $(cat "$WORK/kept-k"), borg $(cat "$WORK/kept-b")"
echo "retention: both keep $(cat "$WORK/kept-k") of $RETENTION_COUNT (UTC, one snapshot every $((RETENTION_STEP / 60)) min from 1956-01-01)" >>"$NOTES"

log "catalog: $CATALOG_ROWS synthetic snapshots of $A (copy of the bench catalog)"
CAT=$WORK/catalog-100k.sqlite
sqlite3 "$KVMSNAP_CATALOG" ".backup '$CAT'"
uuid=$(virsh domuuid "$A")
sqlite3 "$CAT" >/dev/null <<EOF
PRAGMA journal_mode=WAL;
BEGIN;
CREATE TEMP TABLE tmpl AS SELECT * FROM snapshot WHERE vmUUID = '$uuid' AND name = 'c1';
CREATE TEMP TABLE tmpldisk AS SELECT d.* FROM snapshotDisk d JOIN snapshot s ON s.id = d.snapshotID WHERE s.vmUUID = '$uuid' AND s.name = 'c1';
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $CATALOG_ROWS)
INSERT INTO snapshot (id, vmUUID, name, description, kind, parentID, createdAt, state, hasMemory, memoryPath,
                      memoryBytes, diskBytes, configXML, nvramPath, pinned, expiresAt, labels, guestPauseMs, jobID)
SELECT printf('s-bench%07d', i), '$uuid', printf('bench-%07d', i), 'synthetic row ' || i, 'incremental',
       CASE WHEN i = 1 THEN NULL ELSE printf('s-bench%07d', i - 1) END,
       strftime('%Y-%m-%d %H:%M:%f', '2000-01-01', '+' || (i * 3600) || ' seconds'), 'ready', 1,
       t.memoryPath || '.' || i, t.memoryBytes, t.diskBytes, t.configXML, NULL, 0, NULL, '[]', t.guestPauseMs, NULL
FROM n, tmpl t;
INSERT INTO snapshotDisk (snapshotID, diskTarget, layerID)
SELECT printf('s-bench%07d', i), d.diskTarget, d.layerID
FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $CATALOG_ROWS) SELECT i FROM n), tmpldisk d;
COMMIT;
EOF
rows=$(sqlite3 "$CAT" "SELECT count(*) FROM snapshot WHERE vmUUID = '$uuid'")
echo "catalog: $rows snapshots of one VM ($(du -m "$CAT" | cut -f1) MiB database, each row with a real configXML and 2 disk rows)" >>"$NOTES"
SQL="SELECT s.id, s.name, s.description, s.kind, p.name AS parent, s.createdAt, s.hasMemory, s.diskBytes, s.memoryBytes,
            s.pinned, s.expiresAt, s.state, s.labels, s.guestPauseMs
     FROM snapshot s LEFT JOIN snapshot p ON p.id = s.parentID WHERE s.vmUUID = '$uuid' ORDER BY s.createdAt, s.id"
for i in $(seq 1 "$RUNS"); do
  t0=$(now_ns); "$K" list "$A" --json --catalog "$CAT" >"$WORK/list.json"; t1=$(now_ns)
  sample catalog_list_100k_seconds kvmsnap "$(secs "$t0" "$t1")"
  t0=$(now_ns); sqlite3 -json "$CAT" "$SQL" >"$WORK/list-sqlite.json"; t1=$(now_ns)
  sample catalog_list_100k_seconds baseline "$(secs "$t0" "$t1")"
done
n=$(jget "$WORK/list.json" 'len(d)'); m=$(jget "$WORK/list-sqlite.json" 'len(d)')
[[ $n == "$m" && $n == "$rows" ]] || die "catalog: kvmsnap listed $n, sqlite3 $m, catalog has $rows"
rm -f "$CAT" "$CAT-wal" "$CAT-shm" "$WORK/list.json" "$WORK/list-sqlite.json"

log "lab reset: 4 lab VMs ($LAB_MIB MiB, fillmem=$LAB_FILL), baseline snapshot each"
LABS=()
for j in 1 2 3 4; do LABS+=("$P-lab$j"); define_guest "$P-lab$j" $LAB_MIB $LAB_FILL; done
for l in "${LABS[@]}"; do wait_ready "$l"; done
for l in "${LABS[@]}"; do "$K" create "$l" --name base --json >/dev/null; "$K" lab mark "$l" --baseline base >/dev/null; done
echo "lab reset: 4 lab VMs of $LAB_MIB MiB RAM with fillmem=$LAB_FILL (the 1 GiB guests do not fit 4x on 2 cores)" >>"$NOTES"
for i in $(seq 1 "$RUNS"); do
  # Alternate the order so neither side always runs first.
  for side in $([[ $((i % 2)) == 1 ]] && echo "par seq" || echo "seq par"); do
    t0=$(now_ns)
    if [[ $side == par ]]; then "$K" reset "${LABS[@]}" >/dev/null
    else for l in "${LABS[@]}"; do "$K" reset "$l" >/dev/null; done; fi
    t1=$(now_ns)
    sample lab_reset_4vm_seconds "$([[ $side == par ]] && echo kvmsnap || echo baseline)" "$(secs "$t0" "$t1")"
  done
done

# ---------------------------------------------------------------------------------------------
mkdir -p .build/bench
$PY - "$SAMPLES" "$RUNS" "$NOTES" "$TYPE" .build/bench/results.json <<'EOF'
import json, statistics, sys, os
samples, runs, notes, vmtype, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
vals = {}
for line in open(samples):
    m, side, v = line.rstrip("\n").split("\t")
    if v not in ("", "None"):
        vals.setdefault(m, {}).setdefault(side, []).append(float(v))
pause_method = next((l.split(": ", 1)[1].strip() for l in open(notes) if l.startswith("internal snapshot pause")), "?")
spec = [  # metric, unit, baseline name, target text, target check on (kvmsnap, baseline, ratio)
    ("create_seconds", "s", "virsh snapshot-create-as internal with memory", "ratio <= 1.0", lambda k, b, r: r <= 1.0),
    ("create_overhead_vs_external", "s", "virsh snapshot-create-as --no-metadata --live --memspec --diskspec (external)", "report", None),
    ("create_guest_pause_ms", "ms", "internal snapshot pause (" + pause_method + ")", "kvmsnap < 100 ms", lambda k, b, r: k < 100),
    ("restore_seconds", "s", "virsh snapshot-revert internal", "ratio <= 0.5", lambda k, b, r: r <= 0.5),
    ("memory_write_vs_disk_limit", "MB/s", "dd bs=1M count=1024 oflag=direct, same filesystem", "ratio >= 0.5", lambda k, b, r: r >= 0.5),
    ("incremental_bytes_per_written_byte", "bytes/byte", "--full snapshot after the same write", "kvmsnap <= 1.1", lambda k, b, r: k <= 1.1),
    ("retention_plan_1m_seconds", "s", "borg 1.2 prune_split (python3)", "kvmsnap < 1 s", lambda k, b, r: k < 1.0),
    ("catalog_list_100k_seconds", "s", "sqlite3 -json, same rows and columns", "kvmsnap < 0.5 s", lambda k, b, r: k < 0.5),
    ("lab_reset_4vm_seconds", "s", "4 single kvmsnap resets one after another", "ratio <= 0.6", lambda k, b, r: r <= 0.6),
]
results, rows = [], []
for metric, unit, bname, ttext, check in spec:
    v = vals.get(metric, {})
    k = statistics.median(v["kvmsnap"]) if v.get("kvmsnap") else None
    b = statistics.median(v["baseline"]) if v.get("baseline") else None
    r = (k / b) if (k is not None and b) else None
    n = min(len(v.get("kvmsnap", [])), len(v.get("baseline", [])))
    results.append({"metric": metric, "kvmsnap": k, "baseline": b, "baselineName": bname, "ratio": r, "unit": unit, "runs": n})
    ok = "-" if check is None or k is None or r is None else ("yes" if check(k, b, r) else "**no**")
    fmt = lambda x: "-" if x is None else ("%.4g" % x)
    rows.append("| %s | %s | %s | %s | %s | %s | %d | %s | %s |" % (metric, fmt(k), fmt(b), bname, fmt(r), unit, n, ttext, ok))
json.dump(results, open(out, "w"), indent=2)
print("| metric | kvmsnap | baseline | baseline is | ratio | unit | runs | target | met |")
print("|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
print()
print("Medians over %d runs; ratio = kvmsnap / baseline. Guests: %s (%s), %d cores, %d GiB host memory." % (
    runs, "TCG" if vmtype == "qemu" else vmtype.upper(), "type='%s'" % vmtype, os.cpu_count(),
    round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)))
rw = vals.get("restore_wall_seconds", {})
if rw.get("kvmsnap") and rw.get("baseline"):
    print("- restore_seconds counts until the guest runs again (its last lifecycle Resumed/Started event); "
          "whole command, median: kvmsnap %.3g s (it then verifies and removes the old layers), virsh snapshot-revert %.3g s"
          % (statistics.median(rw["kvmsnap"]), statistics.median(rw["baseline"])))
for line in open(notes):
    print("- " + line.strip())
print("\nresults: " + out)
EOF
