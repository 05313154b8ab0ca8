#!/usr/bin/env bash
# kvmsnap benchmarks (issues 7, 11): kvmsnap against plain libvirt / borg / sqlite3 baselines,
# measured side by side in the same run (interleaved, the order alternating run by run, so
# neither side always runs first or inherits the other's dirty pages), median over N runs
# (5; 3 with --quick). Prints a markdown table and writes .build/bench/results.json (every row
# with a `conditions` string); a full run also writes docs/bench/<date>-<host>.json.
# Every timed restore (both sides) starts with a cold page cache (sync; drop_caches); creates
# are durable on the kvmsnap side (fsync before ready) against QEMU's O_DIRECT (cache='none').
# A sample that cannot be measured (e.g. no Suspended→Resumed event pair) stops the run.
#
#   sudo scripts/bench.sh [--quick] [--only core|vault|panel]
#
# Sections: core (issues 7, 11: create, restore, incremental, retention, catalog, lab reset) and
# vault (issue 13, scripts/bench-vault.sh: send, incremental send, stored bytes, restore against
# dd / borg / restic). --only runs one section (its results go to .build/bench only); --only panel
# runs just the web panel's load test (scripts/bench-panel.sh), which a full run does in core.
# KVMSNAP_BENCH_BIN=PATH uses that kvmsnap binary instead of building the release one.
# While timing it holds /tmp/bench.lock (other sessions' builds wait for it; it waits for another
# session's lock first), removed on exit.
#
# Guests: the test guest (scripts/build-test-guest.sh), TCG unless KVMSNAP_BENCH_TYPE=kvm;
# 1 GiB RAM with kvmsnap.fillmem=400 (~400 MiB of random data) and two disks (vda, vdb) for
# every comparison except the lab reset, which uses four smaller lab VMs (LAB_MIB / LAB_FILL
# below) because four 1 GiB guests do not fit on two cores next to other work.
# Everything it creates (domains, images, memory files, catalog, store) lives under one scratch
# directory and is removed on exit, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/swift-path.sh
source scripts/lib/guest.sh
ROOT=$PWD

RUNS=5 QUICK=0 ONLY=
while (($#)); do
  case $1 in
    --quick) RUNS=3 QUICK=1 ;;
    --only) ONLY=${2:-}; [[ $ONLY == @(core|vault|panel) ]] || { echo "bench: --only core|vault|panel" >&2; exit 64; }; shift ;;
    --help) sed -n 2,25p "$0"; exit 0 ;;
    *) echo "bench: unknown argument $1 (--quick, --only core|vault|panel, --help)" >&2; exit 64 ;;
  esac
  shift
done
section() { [[ -z $ONLY || $ONLY == "$1" ]]; }
LOCK=/tmp/bench.lock
TYPE=${KVMSNAP_BENCH_TYPE:-qemu}
MEM_MIB=1024 FILL=400          # comparison guests
LAB_MIB=256 LAB_FILL=100       # lab reset guests
WRITE_MIB=64                   # incremental_bytes_per_written_byte
DATA_MIB=120                   # real data on vdb (128 MiB) before the incremental runs
BUSY_MIB=100                   # create_guest_pause_ms_busy: the guest writes this much during the create
BRANCH_VMS=200                 # catalog_list_100k_branched_seconds: other VMs interleaved in the catalog
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
source scripts/bench-vault.sh   # the vault section's functions (uses WORK and P)
source scripts/bench-panel.sh   # the web panel under wrk load (panel_load_bench)

cleanup() {
  local rc=$?
  set +e
  # Another session's test may restart libvirtd: wait for it rather than leave domains behind.
  for _ in $(seq 1 30); do virsh version >/dev/null 2>&1 && break; sleep 1; done
  # KVMSNAP_BENCH_KEEP=1 (development): keep the work directory and the domains for manual runs.
  if [[ -n ${KVMSNAP_BENCH_KEEP:-} ]]; then
    log "kept $WORK and the domains $P-* (KVMSNAP_BENCH_KEEP)"
    [[ -n ${LOCKED:-} && $(cat "$LOCK" 2>/dev/null) == "bench.sh $$" ]] && rm -f "$LOCK"
    exit $rc
  fi
  for d in $(virsh list --all --name 2>/dev/null | grep "^$P-"); do
    virsh -q destroy "$d" >/dev/null 2>&1
    virsh -q undefine "$d" --snapshots-metadata --nvram >/dev/null 2>&1 || virsh -q undefine "$d" >/dev/null 2>&1
  done
  jobs -p | xargs -r kill 2>/dev/null
  if declare -F s3_peer_stop >/dev/null; then s3_peer_stop; fi   # the vault section's S3 peer
  [[ -n ${SSH_PEER_STARTED:-} ]] && scripts/lib/ssh-peer.sh stop >/dev/null 2>&1   # the vault section's ssh peer
  rm -rf "$WORK"
  [[ -n ${LOCKED:-} && $(cat "$LOCK" 2>/dev/null) == "bench.sh $$" ]] && rm -f "$LOCK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

log "host setup"
scripts/host-setup.sh >/dev/null
GUEST_DIR=$(scripts/build-test-guest.sh | tail -n1)
if [[ -n ${KVMSNAP_BENCH_BIN:-} ]]; then
  K=$KVMSNAP_BENCH_BIN   # a release binary built before (e.g. while the bench lock is not held)
else
  log "release build"
  swift build -c release --product kvmsnap 2>&1 | tail -n1 >&2
  K=$(swift build -c release --show-bin-path)/kvmsnap
fi
[[ -x $K ]] || die "no kvmsnap binary at $K"

mkdir -p "$WORK/images" "$WORK/ext" && chmod 711 "$WORK" "$WORK/images" "$WORK/ext"
SAMPLES=$WORK/samples.tsv NOTES=$WORK/notes.txt CONDS=$WORK/conditions.tsv
: >"$SAMPLES"; : >"$NOTES"; : >"$CONDS"
# Timing from here on: other sessions' builds pause while the lock exists. Another session's
# lock means it is timing too: wait for it; remove only our own lock on exit.
while [[ -e $LOCK && $(cat "$LOCK" 2>/dev/null) != "bench.sh $$" ]]; do
  log "waiting for $LOCK (held by: $(cat "$LOCK" 2>/dev/null))"; sleep 20
done
echo "bench.sh $$" >"$LOCK"; LOCKED=1
sample() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$SAMPLES"; }   # metric side value
cond() { printf '%s\t%s\n' "$1" "$2" >>"$CONDS"; }                  # metric conditions
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'; }
jget() { $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$1" "$2"; }

# define_guest NAME MIB FILL: two qcow2 disks (vda 64M, vdb 128M), console log, started.
define_guest() {
  local name=$1 mib=$2 fill=$3 disks
  disks=$(test_guest_disks "$WORK/images/$name-" 64M 128M " cache='none'")
  define_test_guest "$name" "$TYPE" "$mib" "$GUEST_DIR" "kvmsnap.fillmem=$fill" "$WORK/$name.console" "$disks" "$WORK/$name.xml"
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

# Order of the two sides in run $1: kvmsnap first in odd runs, the baseline first in even runs.
order() { (($1 % 2)) && echo "kvmsnap baseline" || echo "baseline kvmsnap"; }
ALTERNATING="order alternating (kvmsnap first in odd runs)"
# A cold page cache for the next timed step (both sides get the same).
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches || die "cannot drop the page cache (needed for cache parity)"; }

# with_events DOMAIN CMD...: runs CMD while recording DOMAIN's lifecycle events into $EV;
# W = the command's wall time (s), T0 = its start (ns).
EVN=0
with_events() {
  local dom=$1 evpid t1
  shift
  EVN=$((EVN + 1)); EV=$WORK/events.$dom.$EVN
  virsh event "$dom" --event lifecycle --loop --timestamp >"$EV" 2>/dev/null &
  evpid=$!
  sleep 0.5
  T0=$(now_ns); "$@" >/dev/null; t1=$(now_ns)
  sleep 0.5; kill "$evpid" 2>/dev/null; wait "$evpid" 2>/dev/null || true
  W=$(secs "$T0" "$t1")
}
# events FILE MODE: "paused" = total ms between each Suspended and the next Resumed (empty when
# there is no complete pair); "running" = ns timestamp of the last Resumed/Started (empty if none).
events() {
  $PY - "$1" "$2" <<'EOF'
import re, sys
from datetime import datetime
paused_ms, since, last_run, pairs = 0.0, None, None, 0
for line in open(sys.argv[1]):
    m = re.match(r"(\S+ \S+?)([+-]\d{4}): event 'lifecycle' for domain '[^']*': (\w+)", line)
    if not m: continue
    ts = datetime.strptime(m.group(1) + m.group(2), "%Y-%m-%d %H:%M:%S.%f%z")
    if m.group(3) == "Suspended" and since is None: since = ts
    if m.group(3) in ("Resumed", "Started"):
        last_run = ts
        if since is not None and m.group(3) == "Resumed":
            paused_ms += (ts - since).total_seconds() * 1000; pairs += 1; since = None
if sys.argv[2] == "paused": print("%.1f" % paused_ms if pairs and since is None else "")
else: print("%d" % (last_run.timestamp() * 1e9) if last_run else "")
EOF
}
# pause_ms WHAT: the guest's pause in the last with_events (Suspended→Resumed); dies when missing.
pause_ms() {
  local p
  p=$(events "$EV" paused)
  [[ -n $p ]] || die "$1: no Suspended→Resumed lifecycle event pair (events: $(tr '\n' ' ' <"$EV")): a missing pause sample is an error"
  echo "$p"
}

# internal_create DOMAIN SNAPNAME → T (s), PAUSE (ms, lifecycle events), DOWNTIME (ms, libvirt's completed job; empty if none)
internal_create() {
  with_events "$1" virsh -q snapshot-create-as "$1" "$2"
  T=$W
  PAUSE=$(pause_ms "internal snapshot $2 of $1")
  DOWNTIME=$(virsh domjobinfo "$1" --completed 2>/dev/null | awk '/^Total downtime:/ { print $3 }')
}
# kvmsnap_create DOMAIN SNAPNAME [ARGS...] → T, PAUSE, DOWNTIME (kvmsnap's guestPauseMs: libvirt's
# downtime), MEM (bytes of the memory image); its JSON in $WORK/SNAPNAME.json.
kvmsnap_create() {
  local dom=$1 snap=$2
  shift 2
  with_events "$dom" sh -c '"$@" >"$0"' "$WORK/$snap.json" env KVMSNAP_UNSAFE_NO_FSYNC="${NOFSYNC:-0}" "$K" create "$dom" --name "$snap" --json "$@"
  T=$W
  PAUSE=$(pause_ms "kvmsnap create $snap of $dom")
  DOWNTIME=$(jget "$WORK/$snap.json" 'd.get("guestPauseMs") or ""')
  MEM=$(jget "$WORK/$snap.json" 'd["memoryBytes"]')
}

# until_running DOMAIN CMD...: runs CMD; T = seconds from its start until the guest runs again
# (its last lifecycle Resumed/Started event), W = the command's wall time (kvmsnap restore
# verifies and reclaims old layers after that). No such event is an error.
until_running() {
  local dom=$1 ts
  with_events "$@"
  ts=$(events "$EV" running)
  [[ -n $ts ]] && ((ts >= T0)) || die "$dom: no Resumed/Started event after '$*' (events: $(tr '\n' ' ' <"$EV"))"
  T=$(secs "$T0" "$ts")
}

# ---------------------------------------------------------------------------------------------
if section core; then
log "booting 3 identical guests ($MEM_MIB MiB, fillmem=$FILL, vda+vdb, type $TYPE): kvmsnap / internal / external"
A=$P-kvmsnap B=$P-internal C=$P-external
for g in $A $B $C; do define_guest "$g" $MEM_MIB $FILL; done
for g in $A $B $C; do wait_ready "$g"; done
sleep 2

log "kvmsnap root snapshot of $A (untimed: the metric is the incremental)"
"$K" create "$A" --name root --json >"$WORK/root.json"
# No automatic full in the middle of the timed incrementals.
KC=(--full-every 0)

IDLE="guests idle (counter tick only)"
DISKS="disks cache='none' (internal snapshot: O_DIRECT); kvmsnap durable (memory image, layers, NVRAM and their directories fsynced, catalog commit synchronous=FULL, before ready)"
log "create: $RUNS interleaved runs (kvmsnap incremental / internal, order alternating; then external, dd)"
for i in $(seq 1 "$RUNS"); do
  for side in $(order "$i"); do
    sync   # no dirty pages of the other side's last step written back during this one
    if [[ $side == kvmsnap ]]; then
      kvmsnap_create "$A" "c$i" "${KC[@]}"
      tk=$T pk=$PAUSE
      sample create_seconds kvmsnap "$T"; sample create_overhead_vs_external kvmsnap "$T"
      sample create_guest_pause_ms kvmsnap "$PAUSE"; sample create_guest_pause_ms:libvirt_downtime kvmsnap "$DOWNTIME"
      sample memory_write_vs_disk_limit kvmsnap "$(awk -v b="$MEM" -v t="$T" 'BEGIN { printf "%.3f", b / t / 1e6 }')"
    else
      internal_create "$B" "i$i"
      ti=$T pi=$PAUSE
      sample create_seconds baseline "$T"; sample create_guest_pause_ms baseline "$PAUSE"
      sample create_guest_pause_ms:libvirt_downtime baseline "$DOWNTIME"
      if ((i < RUNS)); then virsh -q snapshot-delete "$B" "i$i" >/dev/null; fi   # keep the last for the revert
    fi
  done

  specs=()
  for t in vda vdb; do specs+=(--diskspec "$t,snapshot=external,file=$WORK/ext/$C-$t.e$i.qcow2"); done
  sync
  t0=$(now_ns)
  virsh -q snapshot-create-as "$C" "e$i" --no-metadata --live --memspec "file=$WORK/ext/$C.e$i.mem,snapshot=external" "${specs[@]}" >/dev/null
  t1=$(now_ns)
  sample create_overhead_vs_external baseline "$(secs "$t0" "$t1")"
  rm -f "$WORK/ext/$C.e$i.mem"

  t0=$(now_ns); dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=1024 oflag=direct status=none; t1=$(now_ns)
  rm -f "$WORK/dd.bin"
  sample memory_write_vs_disk_limit baseline "$(awk -v t="$(secs "$t0" "$t1")" 'BEGIN { printf "%.3f", 1073741824 / t / 1e6 }')"
  log "  run $i: kvmsnap ${tk}s (pause ${pk} ms) / internal ${ti}s (pause ${pi} ms)"
done
virsh -q destroy "$C" >/dev/null
cond create_seconds "$IDLE; $DISKS; $ALTERNATING; sync before each side; whole command"
cond create_overhead_vs_external "$IDLE; $DISKS; external: page cache, not synced; external after both sides; sync before each"
cond create_guest_pause_ms "$IDLE; both sides: lifecycle events Suspended→Resumed (sum of pauses); extra column: libvirt's completed-job downtime; $ALTERNATING"
cond memory_write_vs_disk_limit "$IDLE; kvmsnap: memory bytes / create wall time (durable); dd: O_DIRECT 1 GiB on the same filesystem"

# busy_start DOMAIN: the guest writes BUSY_MIB MiB of random data to vdb again and again (control
# channel) until busy_stop: its CPU and memory stay busy during the create.
busy_start() {
  rm -f "$WORK/busy.stop"
  ( n=0; while [[ ! -e $WORK/busy.stop ]]; do n=$((n + 1)); guest_write "$1" "$BUSY_MIB" "busy$n" || exit 1; done ) &
  BUSYPID=$!
  sleep 3   # the first write is under way
}
busy_stop() { touch "$WORK/busy.stop"; wait "$BUSYPID" || die "the guest's writes during a busy create failed"; }
log "create while the guest writes: $RUNS interleaved runs (kvmsnap / internal)"
for i in $(seq 1 "$RUNS"); do
  for side in $(order "$i"); do
    sync
    if [[ $side == kvmsnap ]]; then
      busy_start "$A"; kvmsnap_create "$A" "busy$i" "${KC[@]}"; busy_stop
      sample create_guest_pause_ms_busy kvmsnap "$PAUSE"; sample create_guest_pause_ms_busy:libvirt_downtime kvmsnap "$DOWNTIME"
    else
      busy_start "$B"; internal_create "$B" "busy$i"; busy_stop
      sample create_guest_pause_ms_busy baseline "$PAUSE"; sample create_guest_pause_ms_busy:libvirt_downtime baseline "$DOWNTIME"
      virsh -q snapshot-delete "$B" "busy$i" >/dev/null
    fi
  done
  log "  run $i done"
done
cond create_guest_pause_ms_busy "guest busy: repeated control-channel 'write $BUSY_MIB' to vdb (urandom, O_DIRECT) during the whole create; lifecycle events Suspended→Resumed on both sides, extra column libvirt downtime; $ALTERNATING"

log "durability: $RUNS interleaved runs (kvmsnap create durable / KVMSNAP_UNSAFE_NO_FSYNC=1)"
for i in $(seq 1 "$RUNS"); do
  for side in $(order "$i"); do
    sync
    if [[ $side == kvmsnap ]]; then NOFSYNC=0 kvmsnap_create "$A" "dur$i" "${KC[@]}"; td=$T
    else NOFSYNC=1 kvmsnap_create "$A" "nodur$i" "${KC[@]}"; tn=$T; fi
  done
  sample create_durability_overhead_seconds kvmsnap "$(awk -v a="$td" -v b="$tn" 'BEGIN { printf "%.6f", a - b }')"
  sample create_durability_overhead_seconds baseline "$tn"
done
cond create_durability_overhead_seconds "kvmsnap = durable create minus non-durable create of the same run; baseline = the non-durable create (ratio = relative overhead); $IDLE; sync before each; $ALTERNATING"

# One timed restore: cold page cache, then the command, timed until the guest runs again.
restore_kvmsnap() {   # restore_kvmsnap METRIC RUN [--no-safety-snapshot]
  drop_caches
  until_running "$A" sh -c '"$@" >"$0"' "$WORK/r$2${3:-}.json" "$K" restore "$A" "c$RUNS" --confirm "$A" --json ${3:+"$3"}
  sample "$1" kvmsnap "$T"; sample "${1%_seconds}_wall_seconds" kvmsnap "$W"
  log "  run $2 $1: kvmsnap $(jget "$WORK/r$2${3:-}.json" '"%.2fs, stages " % d["guestDowntimeSeconds"] + ", ".join("%s %.2f" % (s["stage"], s["seconds"]) for s in d["stages"])')"
}
restore_internal() {   # restore_internal METRIC
  drop_caches
  until_running "$B" virsh -q snapshot-revert "$B" "i$RUNS" --running
  sample "$1" baseline "$T"; sample "${1%_seconds}_wall_seconds" baseline "$W"
}
log "restore: $RUNS interleaved runs (kvmsnap restore default and --no-safety-snapshot / virsh snapshot-revert), cold cache"
for i in $(seq 1 "$RUNS"); do
  for side in $(order "$i"); do
    if [[ $side == kvmsnap ]]; then
      restore_kvmsnap restore_seconds "$i"
      restore_kvmsnap restore_no_safety_seconds "$i" --no-safety-snapshot
    else
      restore_internal restore_seconds
      restore_internal restore_no_safety_seconds
    fi
  done
  [[ $(virsh domstate "$A") == running && $(virsh domstate "$B") == running ]] || die "a guest is not running after restore"
done
virsh -q destroy "$B" >/dev/null
COLD="cold page cache on both sides (sync; echo 3 >/proc/sys/vm/drop_caches before each timed restore); $DISKS; $IDLE before the restore; timed until the guest's last Resumed/Started event"
cond restore_seconds "kvmsnap default restore (safety snapshot captured with the guest paused, durable, then stop/revert/start); $COLD; $ALTERNATING"
cond restore_no_safety_seconds "kvmsnap restore --no-safety-snapshot; baseline: the same virsh snapshot-revert (run right after the one of restore_seconds); $COLD; $ALTERNATING"

log "incremental vs a full copy: vdb filled with $DATA_MIB MiB of real data, then the guest writes $WRITE_MIB MiB before each snapshot"
guest_write "$A" "$DATA_MIB" data
"$K" create "$A" --name data --disk-only "${KC[@]}" --json >"$WORK/data.json"
for i in $(seq 1 "$RUNS"); do
  guest_write "$A" $WRITE_MIB "inc$i"
  "$K" create "$A" --name "inc$i" --disk-only "${KC[@]}" --json >"$WORK/inc$i.json"
  sample incremental_bytes_per_written_byte kvmsnap "$(jget "$WORK/inc$i.json" "d['diskBytes'] / ($WRITE_MIB * 1048576)")"
  # What a full copy of the same disks costs: each disk's current chain flattened, allocated bytes.
  full=0
  for src in $(virsh domblklist "$A" --details | awk '$2 == "disk" { print $4 }'); do
    qemu-img convert -U -O qcow2 "$src" "$WORK/fullcopy.qcow2"
    full=$((full + $(stat -c '%b * %B' "$WORK/fullcopy.qcow2")))
    rm -f "$WORK/fullcopy.qcow2"
  done
  sample incremental_bytes_per_written_byte baseline "$(awk -v b="$full" 'BEGIN { printf "%.4f", b / ('"$WRITE_MIB"' * 1048576) }')"
done
virsh -q destroy "$A" >/dev/null
cond incremental_bytes_per_written_byte "vdb holds $DATA_MIB MiB of random data (vda: counter); per run the guest rewrites $WRITE_MIB MiB of it; kvmsnap: allocated bytes of the incremental's frozen layers; baseline: allocated bytes of a qemu-img convert (full copy) of both disks"

log "retention: planning $RETENTION_COUNT snapshots (kvmsnap RetentionPlanner / borg prune_split), $RUNS interleaved runs"
for i in $(seq 1 "$RUNS"); do
  for side in $(order "$i"); do
    if [[ $side == kvmsnap ]]; then
      "$K" retention bench --count $RETENTION_COUNT --step $RETENTION_STEP --start="$RETENTION_START" --repeats 1 \
        --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --keep-yearly 5 >"$WORK/ret-$side.json"
    else
      $PY scripts/bench-borg-prune.py $RETENTION_COUNT $RETENTION_STEP "$RETENTION_START" 1 daily=7 weekly=4 monthly=12 yearly=5 >"$WORK/ret-$side.json"
    fi
    read -r s kept < <($PY -c 'import json,sys; r = json.load(open(sys.argv[1]))[0]; print(r["seconds"], r["kept"])' "$WORK/ret-$side.json")
    sample retention_plan_1m_seconds "$side" "$s"; echo "$kept" >"$WORK/kept-$side"
  done
done
[[ $(cat "$WORK/kept-kvmsnap") == "$(cat "$WORK/kept-baseline")" ]] || die "retention: kvmsnap keeps $(cat "$WORK/kept-kvmsnap"), borg $(cat "$WORK/kept-baseline")"
echo "retention: both keep $(cat "$WORK/kept-kvmsnap") of $RETENTION_COUNT (UTC, one snapshot every $((RETENTION_STEP / 60)) min from 1956-01-01)" >>"$NOTES"
cond retention_plan_1m_seconds "CPU only (planning in memory, timed inside each program); $ALTERNATING"

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
log "panel: $PANEL_CLIENTS wrk clients listing $PANEL_ROWS snapshots for $PANEL_SECONDS s"
panel_load_bench
# list_bench METRIC CATALOG ROWS: `kvmsnap list A --json` against sqlite3 -json with the same rows
# and columns, order alternating; both listings must have ROWS rows.
list_bench() {
  local metric=$1 cat=$2 rows=$3 i side t0 t1 n m
  local sql="SELECT s.id, s.name, s.description, s.kind, p.name AS parent, s.createdAt, s.hasMemory, s.diskBytes, s.memoryBytes,
            s.pinned, s.expiresAt, s.state, s.labels, s.guestPauseMs
     FROM snapshot s LEFT JOIN snapshot p ON p.id = s.parentID WHERE s.vmUUID = '$uuid' ORDER BY s.createdAt, s.id"
  for i in $(seq 1 "$RUNS"); do
    for side in $(order "$i"); do
      if [[ $side == kvmsnap ]]; then
        t0=$(now_ns); "$K" list "$A" --json --catalog "$cat" >"$WORK/list.json"; t1=$(now_ns)
      else
        t0=$(now_ns); sqlite3 -json "$cat" "$sql" >"$WORK/list-sqlite.json"; t1=$(now_ns)
      fi
      sample "$metric" "$side" "$(secs "$t0" "$t1")"
    done
  done
  n=$(jget "$WORK/list.json" 'len(d)'); m=$(jget "$WORK/list-sqlite.json" 'len(d)')
  [[ $n == "$m" && $n == "$rows" ]] || die "$metric: kvmsnap listed $n, sqlite3 $m, catalog has $rows"
  rm -f "$cat" "$cat-wal" "$cat-shm" "$WORK/list.json" "$WORK/list-sqlite.json"
}
list_bench catalog_list_100k_seconds "$CAT" "$rows"
cond catalog_list_100k_seconds "one VM, one chain, rows inserted in time order (list's best case); warm page cache; $ALTERNATING"

log "catalog: $CATALOG_ROWS branched snapshots of $A among $CATALOG_ROWS of $BRANCH_VMS other VMs, inserted out of order"
CAT=$WORK/catalog-100k-branched.sqlite
sqlite3 "$KVMSNAP_CATALOG" ".backup '$CAT'"
rows=$($PY scripts/bench-branched-catalog.py "$CAT" "$uuid" c1 "$CATALOG_ROWS" "$BRANCH_VMS")
rows=$((rows + $(sqlite3 "$KVMSNAP_CATALOG" "SELECT count(*) FROM snapshot WHERE vmUUID = '$uuid'")))
echo "branched catalog: $rows snapshots of the listed VM plus $CATALOG_ROWS of $BRANCH_VMS other VMs ($(du -m "$CAT" | cut -f1) MiB); parents: the previous snapshot or (1 in 5) an earlier one; one shuffled insertion order" >>"$NOTES"
list_bench catalog_list_100k_branched_seconds "$CAT" "$rows"
cond catalog_list_100k_branched_seconds "$BRANCH_VMS other VMs with as many rows interleaved, branches from reverts, random ids, rows inserted in shuffled order; warm page cache; $ALTERNATING"

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
cond lab_reset_4vm_seconds "4 lab VMs of $LAB_MIB MiB (fillmem=$LAB_FILL), no safety snapshot (reset), warm page cache; order alternating (parallel first in odd runs)"
for l in "${LABS[@]}"; do virsh -q destroy "$l" >/dev/null 2>&1; done   # no guest runs during the next section
fi   # section core

if section vault; then vault_section; fi
if [[ $ONLY == panel ]]; then panel_section; fi   # a full run measures the panel in core

# ---------------------------------------------------------------------------------------------
mkdir -p .build/bench
OUT=.build/bench/results.json
$PY - "$SAMPLES" "$RUNS" "$NOTES" "$TYPE" "$OUT" "$CONDS" "$ONLY" <<'EOF'
import json, statistics, sys, os, socket, datetime
samples, runs, notes, vmtype, out, conds, only = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
vals = {}
for line in open(samples):
    m, side, v = line.rstrip("\n").split("\t")
    if v not in ("", "None"):
        vals.setdefault(m, {}).setdefault(side, []).append(float(v))
conditions = dict(line.rstrip("\n").split("\t", 1) for line in open(conds))
spec = [  # metric, unit, baseline name, target text, target check on (kvmsnap, baseline, ratio)
    ("create_seconds", "s", "virsh snapshot-create-as internal with memory", "ratio <= 1.0", lambda k, b, r: r <= 1.0),
    ("create_overhead_vs_external", "s", "virsh snapshot-create-as --no-metadata --live --memspec --diskspec (external)", "report", None),
    ("create_guest_pause_ms", "ms", "internal snapshot pause", "kvmsnap < 100 ms", lambda k, b, r: k < 100),
    ("create_guest_pause_ms_busy", "ms", "internal snapshot pause, guest busy", "report", None),
    ("create_durability_overhead_seconds", "s", "kvmsnap create with KVMSNAP_UNSAFE_NO_FSYNC=1", "report", None),
    ("restore_seconds", "s", "virsh snapshot-revert internal", "ratio <= 1.0", lambda k, b, r: r <= 1.0),
    ("restore_no_safety_seconds", "s", "virsh snapshot-revert internal", "ratio <= 0.5", lambda k, b, r: r <= 0.5),
    ("memory_write_vs_disk_limit", "MB/s", "dd bs=1M count=1024 oflag=direct, same filesystem", "ratio >= 0.5", lambda k, b, r: r >= 0.5),
    ("incremental_bytes_per_written_byte", "bytes/byte", "full copy (qemu-img convert) of the same disks, allocated bytes", "report", None),
    ("retention_plan_1m_seconds", "s", "borg 1.2 prune_split (python3)", "kvmsnap < 1 s", lambda k, b, r: k < 1.0),
    ("catalog_list_100k_seconds", "s", "sqlite3 -json, same rows and columns", "kvmsnap < 0.5 s", lambda k, b, r: k < 0.5),
    ("catalog_list_100k_branched_seconds", "s", "sqlite3 -json, same rows and columns", "kvmsnap < 0.5 s", lambda k, b, r: k < 0.5),
    ("lab_reset_4vm_seconds", "s", "4 single kvmsnap resets one after another", "ratio <= 0.6", lambda k, b, r: r <= 0.6),
]
med = lambda xs: statistics.median(xs) if xs else None
fmt = lambda x: "-" if x is None else ("%.4g" % x)
results, rows = [], []
for metric, unit, bname, ttext, check in spec:
    v = vals.get(metric, {})
    if only in ("vault", "panel"): continue   # the core section did not run
    k, b = med(v.get("kvmsnap", [])), med(v.get("baseline", []))
    r = (k / b) if (k is not None and b) else None
    n = min(len(v.get("kvmsnap", [])), len(v.get("baseline", [])))
    if n < runs:
        sys.exit("bench: %s has %d of %d samples on a side: a missing sample is an error" % (metric, n, runs))
    row = {"metric": metric, "kvmsnap": k, "baseline": b, "baselineName": bname, "ratio": r, "unit": unit, "runs": n,
           "conditions": conditions.get(metric) or sys.exit("bench: no conditions recorded for " + metric)}
    extra = ""
    dt = vals.get(metric + ":libvirt_downtime", {})
    if dt:
        row["libvirtDowntimeMs"] = {"kvmsnap": med(dt.get("kvmsnap", [])), "baseline": med(dt.get("baseline", []))}
        extra = "%s / %s" % (fmt(row["libvirtDowntimeMs"]["kvmsnap"]), fmt(row["libvirtDowntimeMs"]["baseline"]))
    wall = vals.get(metric.replace("_seconds", "_wall_seconds"), {}) if metric.startswith("restore") else {}
    if wall:
        row["wallSeconds"] = {"kvmsnap": med(wall.get("kvmsnap", [])), "baseline": med(wall.get("baseline", []))}
    results.append(row)
    ok = "-" if check is None or k is None or r is None else ("yes" if check(k, b, r) else "**no**")
    rows.append("| %s | %s | %s | %s | %s | %s | %d | %s | %s | %s |" % (metric, fmt(k), fmt(b), bname, fmt(r), unit, n, ttext, ok, extra or "-"))
host = socket.gethostname()
doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "host": host, "cores": os.cpu_count(),
       "memoryGiB": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30), "guestType": vmtype, "runs": runs,
       "notes": [l.strip() for l in open(notes)], "results": results}
json.dump(doc, open(out, "w"), indent=2)
if rows:
    print("| metric | kvmsnap | baseline | baseline is | ratio | unit | runs | target | met | libvirt downtime ms (kvmsnap / baseline) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("Medians over %d runs; ratio = kvmsnap / baseline. Guests: %s (%s), %d cores, %d GiB host memory." % (
        runs, "TCG" if vmtype == "qemu" else vmtype.upper(), "type='%s'" % vmtype, doc["cores"], doc["memoryGiB"]))
for row in results:
    print("- %s: %s" % (row["metric"], row["conditions"]))
    if "wallSeconds" in row:
        print("  whole command, median: kvmsnap %s s (it then verifies and removes the old layers), virsh snapshot-revert %s s"
              % (fmt(row["wallSeconds"]["kvmsnap"]), fmt(row["wallSeconds"]["baseline"])))
for line in open(notes):
    print("- " + line.strip())
EOF
if section vault; then vault_summary "$OUT" "$VAULT_RUNS"; fi
echo; echo "results: $OUT"
if ((!QUICK)) && [[ -z $ONLY ]]; then
  mkdir -p docs/bench
  dest=docs/bench/$(date -u +%Y-%m-%d)-$(hostname -s).json
  cp "$OUT" "$dest"
  log "full run: results also in $dest (commit it with the README's table)"
fi
