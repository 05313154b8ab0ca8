# Sourced by scripts/bench.sh: the vault section (issue 13). kvmsnap's vault send and restore
# against the filesystem's limits (dd O_DIRECT), borg 1.2 and restic, side by side in the same
# run, on the same data: the benchmark guest's three snapshots. kvmsnap reads its own qcow2
# chains and memory images; borg, restic and dd read the same snapshots exported as raw files
# (`kvmsnap export-disk --format raw`, plus a hard link of the memory image) on the same
# filesystem. Every timed step starts with a cold page cache (sync; drop_caches); the order of
# the sides rotates run by run; medians over VAULT_RUNS runs, each into fresh repositories.
# Uses bench.sh's helpers (log die sample cond secs jget drop_caches wait_ready guest_write) and
# its $K $P $WORK $TYPE $GUEST_DIR $PY $NOTES $MEM_MIB $FILL.

VAULT_RUNS=${KVMSNAP_BENCH_VAULT_RUNS:-$((QUICK ? 1 : 3))}   # about 2.5 min per run + 1.5 min setup, baselines only
VAULT_RANDOM_MIB=768 VAULT_TEXT_MIB=256   # vdb's data before s1: incompressible + log-like text
VAULT_VDB_MIB=1088                        # 1 MiB guest header + 1024 MiB data + 63 MiB never written
VAULT_WRITE_MIB=64                        # the guest's writes between s1→s2 and s2→s3
VW=$WORK/vault V=$P-vault
export RESTIC_PASSWORD=kvmsnap-bench RESTIC_CACHE_DIR=$VW/restic-cache BORG_BASE_DIR=$VW/borg-home
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes

# ---- the kvmsnap side: the only lines that spell the vault CLI (issue 13) ------------------
# Each *_cmd sets KV_CMD to the command line (measure runs it as a child process).
# Built when `kvmsnap send --help` shows send's own usage (ArgumentParser answers an unknown
# subcommand's --help with the root help and exit status 0).
kv_vault_built() { "$K" send --help 2>/dev/null | grep '^USAGE: kvmsnap send ' >/dev/null; }   # no -q: no SIGPIPE under pipefail
kv_vault_add() { "$K" vault add "$1" "$2" >/dev/null; }                                # NAME PATH
kv_send_cmd() { KV_CMD=("$K" send "$V" "$1" --to "$2" --json); }                       # SNAP VAULT
kv_vault_snapshot_count() { "$K" vault snapshots "$1" --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
# Restore SNAP from VAULT into DIR: disks raw, memory image, NVRAM, domain XML, with no VM
# defined and no catalog change: files only, like borg extract and restic restore (NEW unused;
# the cleanup below tolerates no VM). `restore --from-vault --as NEW --disk-dir DIR --raw`
# measures the same writes plus define and boot.
kv_restore_cmd() { KV_CMD=("$K" vault extract "$1" "$V" "$2" --to "$4" --raw --json); }   # VAULT SNAP NEW DIR
NOT_BUILT="not measured: kvmsnap send not built"
# The S3 side (issue 14): the same sends into an S3 vault on moto (scripts/lib/s3-peer.sh, loopback).
kv_vault_add_s3() {   # NAME PREFIX
  local cred=$VW/s3.credentials
  ( umask 077; printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$KVMSNAP_S3_FULL_KEY" "$KVMSNAP_S3_FULL_SECRET" >"$cred" )
  "$K" vault add "$1" "s3://$KVMSNAP_S3_BUCKET/$2" --endpoint "$KVMSNAP_S3_ENDPOINT" --credentials-file "$cred" --jobs 8 >/dev/null
}
# The ssh:// side (issue 14): the same sends into a vault on scripts/lib/ssh-peer.sh's second host
# (sshd in a network namespace over a veth pair; the vault directory is on this filesystem, so
# the numbers are the protocol's and ssh's cost, not a network's). VAULT_SSH=1 once it answers.
SSH_PEER_ADDR=10.213.0.2 VAULT_SSH=0
kv_ssh_location() { echo "ssh://root@$SSH_PEER_ADDR$1"; }                               # PATH
vault_ssh_setup() {
  scripts/lib/ssh-peer.sh status || { scripts/lib/ssh-peer.sh start "$K" >/dev/null && SSH_PEER_STARTED=1; } || return 0
  export KVMSNAP_SSH_CONFIG=${KVMSNAP_SSH_PEER_DIR:-/var/lib/kvmsnap-ssh-peer}/ssh_config KVMSNAP_REMOTE_COMMAND=$K
  VAULT_SSH=1
}

# measure OUT CMD...: runs CMD (stdout to OUT); M_SECS = wall seconds, M_READ / M_WRITE = bytes
# the command and every child it reaped read from / wrote to storage (/proc/self/io
# read_bytes / write_bytes of a wrapper: reaped children's counts are added to their parent's);
# M_CPU = CPU seconds (user + sys) of the command and the children it reaped (kvmsnap's qemu-nbd).
measure() {
  local out=$1
  shift
  $PY - "$out" "$@" >"$VW/measure" <<'EOF' || die "vault: '$*' failed"
import resource, subprocess, sys, time
def io():
    return {k: int(v) for k, v in (l.split(": ") for l in open("/proc/self/io").read().splitlines())}
def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN); return r.ru_utime + r.ru_stime
a = io(); c0 = cpu(); t0 = time.monotonic()
rc = subprocess.call(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=open(sys.argv[1], "wb"))
t1 = time.monotonic(); b = io(); c1 = cpu()
if rc: sys.exit("exit status %d" % rc)
print("%.6f %d %d %.3f" % (t1 - t0, b["read_bytes"] - a["read_bytes"], b["write_bytes"] - a["write_bytes"], c1 - c0))
EOF
  read -r M_SECS M_READ M_WRITE M_CPU <"$VW/measure"
}
# copy_limit DIR FILE...: the device's copy limit for these files, timed (M_*): each file read
# with dd iflag=direct and written into DIR with oflag=direct by a second dd in the same pipeline
# (reading the next 4 MiB overlaps writing the last), all-zero 4 MiB blocks skipped (conv=sparse,
# as kvmsnap skips holes), then sync (a send and a restore end durable). Same filesystem as the
# repositories. DIR is deleted afterwards.
copy_limit() {
  local dir=$1
  shift
  mkdir -p "$dir"; drop_caches
  measure /dev/null bash -c 'set -o pipefail; d=$1; shift
    for f; do dd if="$f" bs=4M iflag=direct status=none | dd of="$d/${f##*/}" bs=4M iflag=fullblock oflag=direct conv=sparse status=none || exit; done
    sync' bash "$dir" "$@"
  rm -rf "$dir"
}
mbps() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.3f", b / t / 1e6 }'; }
bytes_of() { du -sb --apparent-size "$@" | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
# Sides in run $1: the list rotated by run, so no side always goes first.
vault_order() {
  local sides=(dd borg restic) i n
  ((VAULT_BUILT)) && sides=(kvmsnap "${sides[@]}")
  ((VAULT_SSH)) && sides=(kvmsnap-ssh "${sides[@]}")
  ((VAULT_S3)) && sides+=(kvmsnap-s3)
  n=${#sides[@]}
  for ((i = 0; i < n; i++)); do printf '%s ' "${sides[$(((i + $1 - 1) % n))]}"; done
}
# src_state S: $VW/src holds snapshot S's files (hard links: same bytes, a new inode and mtime
# per snapshot, as a VM directory's files look to a backup tool after the guest wrote).
src_state() { rm -rf "$VW/src"; mkdir -p "$VW/src"; ln "$VW/data/$1"/* "$VW/src/"; }

vault_setup() {
  log "vault: guest $V ($MEM_MIB MiB, fillmem=$FILL) with vdb holding $((VAULT_RANDOM_MIB + VAULT_TEXT_MIB)) MiB of data"
  mkdir -p "$VW/data" "$VW/repos"
  local seed=$VW/seed.raw disks s id mem
  truncate -s "${VAULT_VDB_MIB}M" "$seed"
  dd if=/dev/urandom of="$seed" bs=1M seek=1 count=$VAULT_RANDOM_MIB conv=notrunc status=none
  # Log-like text (zstd compresses it about 5-10x), after the random part.
  $PY - "$seed" $((1 + VAULT_RANDOM_MIB)) $VAULT_TEXT_MIB <<'EOF'
import random, sys
rnd = random.Random(13); words = "disk cache user login session request ok failed retry backup sync kernel net".split()
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]) << 20); left, n = int(sys.argv[3]) << 20, 0
    while left > 0:
        lines = []
        for _ in range(20000):
            n += 1
            lines.append("2026-12-01T%02d:%02d:%02d host%d svc[%d]: %s %s id=%d ms=%d\n" % (n // 3600 % 24, n // 60 % 60, n % 60,
                         rnd.randrange(8), rnd.randrange(40000), rnd.choice(words), rnd.choice(words), n, rnd.randrange(5000)))
        buf = "".join(lines).encode()[:left]; f.write(buf); left -= len(buf)
EOF
  disks=$(test_guest_disks "$WORK/images/$V-" 64M "${VAULT_VDB_MIB}M" " cache='none'")
  qemu-img convert -f raw -O qcow2 "$seed" "$WORK/images/$V-vdb.qcow2"   # the disk's content before the VM first boots
  rm -f "$seed"
  define_test_guest "$V" "$TYPE" "$MEM_MIB" "$GUEST_DIR" "kvmsnap.fillmem=$FILL" "$WORK/$V.console" "$disks" "$WORK/$V.xml"
  wait_ready "$V"
  sleep 2
  for s in s1 s2 s3; do
    [[ $s == s1 ]] || guest_write "$V" $VAULT_WRITE_MIB "vault-$s"
    "$K" create "$V" --name "$s" --full-every 0 --json >"$VW/$s.json"
  done
  virsh -q destroy "$V" >/dev/null   # an idle TCG guest still takes CPU: none runs while timing
  for s in s1 s2 s3; do
    mkdir -p "$VW/data/$s"
    "$K" export-disk "$V" "$s" --disk vda --to "$VW/data/$s/vda.raw" --format raw >/dev/null
    "$K" export-disk "$V" "$s" --disk vdb --to "$VW/data/$s/vdb.raw" --format raw >/dev/null
    id=$(jget "$VW/$s.json" 'd["id"]')
    mem=$(sqlite3 "$KVMSNAP_CATALOG" "SELECT memoryPath FROM snapshot WHERE id = '$id'")
    [[ -f $mem ]] || die "vault: no memory image for $s ($mem)"
    ln "$mem" "$VW/data/$s/memory.img"
  done
  echo "vault: vdb holds $VAULT_RANDOM_MIB MiB of random data (incompressible, like most VM data) + $VAULT_TEXT_MIB MiB of log-like text written before the VM's first boot; the guest writes $VAULT_WRITE_MIB MiB of random data (control channel) before s2 and before s3; s1..s3 are kvmsnap snapshots with memory; files per snapshot (raw vda + vdb + memory image): $(for s in s1 s2 s3; do printf '%s %s bytes, ' $s "$(bytes_of "$VW/data/$s")"; done | sed 's/, $//')" >>"$NOTES"
}

# One timed step of SIDE on run I: full (s1), inc (s2/s3), restore (s3); samples recorded here.
vault_full() {   # vault_full SIDE I
  local side=$1 i=$2 r=$VW/repos/$1-$2 bytes
  src_state s1; bytes=$(bytes_of "$VW/src")
  case $side in
    kvmsnap) kv_vault_add "bench$i" "$r"; kv_send_cmd s1 "bench$i"; drop_caches; measure "$VW/send-$i-s1.json" "${KV_CMD[@]}" ;;
    kvmsnap-s3) kv_vault_add_s3 "bench-s3-$i" "bench-$ID-$i"; kv_send_cmd s1 "bench-s3-$i"; drop_caches; measure "$VW/send-s3-$i-s1.json" "${KV_CMD[@]}"
                sample vault_send_full_MBps_s3 kvmsnap "$(mbps "$bytes" "$M_SECS")"; return 0 ;;
    kvmsnap-ssh) kv_vault_add "benchssh$i" "$(kv_ssh_location "$r")"; kv_send_cmd s1 "benchssh$i"; drop_caches
                 measure "$VW/sendssh-$i-s1.json" "${KV_CMD[@]}" ;;
    dd) drop_caches; measure /dev/null sh -c 'for f; do dd if="$f" of=/dev/null bs=4M iflag=direct status=none || exit; done' sh "$VW/src"/*
        sample vault_send_full_MBps dd "$(mbps "$bytes" "$M_SECS")"
        sample vault_send_full_MBps:bytes_read dd "$M_READ"
        sample vault_send_full_MBps:cpu_seconds dd "$M_CPU"
        copy_limit "$r" "$VW/src"/*; side=copy ;;
    borg) borg init --encryption none "$r"; drop_caches; measure /dev/null borg create --chunker-params fixed,4194304 --compression lz4 "$r::s1" "$VW/src" ;;
    restic) restic -q -r "$r" init --repository-version 2 >/dev/null; drop_caches; measure /dev/null restic -q -r "$r" backup --host bench "$VW/src" ;;
  esac
  sample vault_send_full_MBps "$side" "$(mbps "$bytes" "$M_SECS")"
  sample vault_send_full_MBps:bytes_read "$side" "$M_READ"
  sample vault_send_full_MBps:cpu_seconds "$side" "$M_CPU"
}
vault_inc() {   # vault_inc SIDE I SNAP
  local side=$1 i=$2 s=$3 r=$VW/repos/$1-$2
  drop_caches
  case $side in
    kvmsnap) kv_send_cmd "$s" "bench$i"; measure "$VW/send-$i-$s.json" "${KV_CMD[@]}"
             sample vault_send_incremental_bytes_read:reported kvmsnap "$(jget "$VW/send-$i-$s.json" 'd["bytesRead"]')" ;;
    kvmsnap-s3) kv_send_cmd "$s" "bench-s3-$i"; measure "$VW/send-s3-$i-$s.json" "${KV_CMD[@]}"
                sample vault_send_incremental_seconds_s3 kvmsnap "$M_SECS"; return 0 ;;
    kvmsnap-ssh) kv_send_cmd "$s" "benchssh$i"; measure "$VW/sendssh-$i-$s.json" "${KV_CMD[@]}" ;;
    borg) measure /dev/null borg create --chunker-params fixed,4194304 --compression lz4 "$r::$s" "$VW/src" ;;
    restic) measure /dev/null restic -q -r "$r" backup --host bench "$VW/src" ;;
    dd) return 0 ;;
  esac
  sample vault_send_incremental_seconds "$side" "$M_SECS"
  sample vault_send_incremental_bytes_read "$side" "$M_READ"
  sample vault_send_incremental_seconds:cpu_seconds "$side" "$M_CPU"
}
vault_restore() {   # vault_restore SIDE I: snapshot s3 into a fresh directory, timed until synced
  local side=$1 i=$2 r=$VW/repos/$1-$2 d=$VW/restore-$1 bytes
  rm -rf "$d"; mkdir -p "$d"
  drop_caches
  case $side in
    kvmsnap-s3) return 0 ;;   # the S3 side measures sends only
    kvmsnap) kv_restore_cmd "bench$i" s3 "$V-restored$i" "$d"; measure "$VW/restore-$i.json" sh -c '"$@" && sync' sh "${KV_CMD[@]}" ;;
    kvmsnap-ssh) kv_restore_cmd "benchssh$i" s3 "$V-restored$i" "$d"; measure "$VW/restoressh-$i.json" sh -c '"$@" && sync' sh "${KV_CMD[@]}" ;;
    dd) bytes=$(bytes_of "$VW/data/s3")
        measure /dev/null sh -c 'dd if=/dev/zero of="$0/dd.bin" bs=4M count="$1" oflag=direct status=none && sync' "$d" $(((bytes + 4194303) / 4194304))
        sample vault_restore_MBps dd "$(mbps "$(bytes_of "$d")" "$M_SECS")"
        sample vault_restore_MBps:bytes dd "$(bytes_of "$d")"
        rm -rf "$d"
        # The copy limit: s3's files read and written back on the same device (a restore reads
        # chunk files, fewer bytes, and writes the same files).
        bytes=$(bytes_of "$VW/data/s3"); copy_limit "$d" "$VW/data/s3"/*
        sample vault_restore_MBps copy "$(mbps "$bytes" "$M_SECS")"
        sample vault_restore_MBps:bytes copy "$bytes"
        return 0 ;;
    borg) measure /dev/null sh -c 'cd "$0" && borg extract "$1" && sync' "$d" "$r::s3" ;;
    restic) measure /dev/null sh -c 'restic -q -r "$1" restore latest --target "$0" && sync' "$d" "$r" ;;
  esac
  bytes=$(bytes_of "$d")
  if [[ $i == 1 && $side == @(borg|restic) ]]; then vault_check_restored "$side" "$d"; fi
  sample vault_restore_MBps "$side" "$(mbps "$bytes" "$M_SECS")"
  sample vault_restore_MBps:bytes "$side" "$bytes"
  sample vault_restore_MBps:cpu_seconds "$side" "$M_CPU"
  if [[ $side == kvmsnap* ]]; then
    virsh -q destroy "$V-restored$i" >/dev/null 2>&1 || true   # a files-only restore defines no VM
    virsh -q undefine "$V-restored$i" --nvram >/dev/null 2>&1 || virsh -q undefine "$V-restored$i" >/dev/null 2>&1 || true
  fi
  rm -rf "$d"
}

# Sanity (untimed): every repository holds 3 snapshots; borg's and restic's restored vdb is s3's.
vault_check() {   # vault_check I
  local i=$1 n
  if ((VAULT_BUILT)); then
    n=$(kv_vault_snapshot_count "bench$i"); [[ $n == 3 ]] || die "vault: kvmsnap vault holds $n snapshots, not 3"
    # An incremental that silently fell back to a full read would be measured as the wrong thing.
    [[ $(jget "$VW/send-$i-s1.json" 'd.get("baseSnapshot")') == None && $(jget "$VW/send-$i-s2.json" 'd.get("baseSnapshot")') == s1 &&
       $(jget "$VW/send-$i-s3.json" 'd.get("baseSnapshot")') == s2 ]] || die "vault: kvmsnap's sends of run $i are not s1 full, s2 on s1, s3 on s2"
    if ((VAULT_S3)); then
      n=$(kv_vault_snapshot_count "bench-s3-$i"); [[ $n == 3 ]] || die "vault: kvmsnap's S3 vault holds $n snapshots, not 3"
      [[ $(jget "$VW/send-s3-$i-s3.json" 'd.get("baseSnapshot")') == s2 ]] || die "vault: kvmsnap's S3 send of s3 in run $i is not incremental on s2"
    fi
    echo "vault run $i, kvmsnap send (its JSON): $(for s in s1 s2 s3; do jget "$VW/send-$i-$s.json" '"%s: bytesRead %d, bytesStored %d, chunksNew %d, chunksReused %d, %.2f s; " % (d["snapshot"], d["bytesRead"], d["bytesStored"], d["chunksNew"], d["chunksReused"], d["seconds"])'; done | tr "\n" " ")" >>"$NOTES"
  fi
  if ((VAULT_SSH)); then
    n=$(kv_vault_snapshot_count "benchssh$i"); [[ $n == 3 ]] || die "vault: kvmsnap's ssh vault holds $n snapshots, not 3"
    [[ $(jget "$VW/sendssh-$i-s3.json" 'd.get("baseSnapshot")') == s2 ]] || die "vault: kvmsnap's ssh send of s3 in run $i is not incremental to s2"
  fi
  n=$(borg list --short "$VW/repos/borg-$i" | wc -l); [[ $n == 3 ]] || die "vault: borg repository holds $n archives, not 3"
  n=$(restic -q -r "$VW/repos/restic-$i" snapshots --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
  [[ $n == 3 ]] || die "vault: restic holds $n snapshots, not 3"
}
vault_check_restored() {   # vault_check_restored SIDE DIR
  local f
  f=$(find "$2" -name vdb.raw | head -n1)
  [[ -n $f ]] && cmp -s "$f" "$VW/data/s3/vdb.raw" || die "vault: $1 restored no vdb.raw equal to s3's"
}

vault_section() {
  VAULT_BUILT=0
  if kv_vault_built; then VAULT_BUILT=1; else
    log "vault: kvmsnap send --help shows no send command: the kvmsnap side is $NOT_BUILT; measuring the baselines"
    echo "vault: kvmsnap side $NOT_BUILT (kvmsnap send --help shows no send command)" >>"$NOTES"
  fi
  VAULT_S3=0
  if ((VAULT_BUILT)) && [[ ${KVMSNAP_BENCH_S3:-1} != 0 ]]; then
    KVMSNAP_S3_PEER_DIR=$VW/s3-peer source scripts/lib/s3-peer.sh   # not the tests' peer directory
    if s3_peer_start; then
      VAULT_S3=1
      set -a; source "$KVMSNAP_S3_ENV"; set +a
    else
      echo "vault: S3 side not measured: the moto peer did not start" >>"$NOTES"
    fi
  fi
  ((VAULT_BUILT)) && vault_ssh_setup
  vault_setup
  local i side s
  log "vault: $VAULT_RUNS runs, sides in rotating order ($(vault_order 1)), fresh repositories each run"
  for i in $(seq 1 "$VAULT_RUNS"); do
    for side in $(vault_order "$i"); do vault_full "$side" "$i"; done
    for s in s2 s3; do
      src_state "$s"
      for side in $(vault_order "$i"); do vault_inc "$side" "$i" "$s"; done
    done
    vault_check "$i"
    for side in $(vault_order "$i"); do
      [[ $side == @(dd|kvmsnap-s3) ]] && continue
      sample vault_stored_bytes_after_3 "$side" "$(bytes_of "$VW/repos/$side-$i")"
      sample vault_stored_bytes_after_3:allocated "$side" "$(du -sB1 "$VW/repos/$side-$i" | cut -f1)"
    done
    for side in $(vault_order "$i"); do vault_restore "$side" "$i"; done
    rm -rf "$VW/repos/"*"-$i" "$VW/restic-cache" "$VW/borg-home"
    log "  run $i: full MB/s, incremental s, restore MB/s: $(vault_run_line)"
  done
  if ((VAULT_S3)); then s3_peer_stop; fi
  VAULT_HOW="cold page cache before every timed step on every side (sync; echo 3 >/proc/sys/vm/drop_caches); sides in rotating order run by run; fresh repositories each run, on the same filesystem; kvmsnap reads its qcow2 chains + memory image, borg/restic/dd read the same snapshots as raw files (kvmsnap export-disk --format raw) + the memory image; borg 1.2: --encryption none --chunker-params fixed,4194304 --compression lz4 (its default codec); restic 0.14: repository format 2, compression auto (zstd), always encrypted (RESTIC_PASSWORD)"
  local how=$VAULT_HOW
  cond vault_send_full_MBps "first send of s1 into an empty repository; MB/s = apparent bytes of s1's files (raw vda + vdb + memory image, the same numerator for every side) / wall seconds; limit: dd bs=4M iflag=direct over the same files; copy limit (baseline 'copy'): the same files read with dd iflag=direct and written to the repositories' filesystem by a second dd (oflag=direct, conv=sparse) in one pipeline, then sync; CPU seconds (user + sys, reaped children included) in 'cpu_seconds'; $how"
  cond vault_send_full_vs_copy_limit "kvmsnap's vault_send_full_MBps against the copy limit (same numerator): a send reads and writes the same device, which the read limit alone does not; $how"
  cond vault_restore_vs_copy_limit "kvmsnap's vault_restore_MBps against a copy of s3's files on the same device (dd iflag=direct | dd oflag=direct conv=sparse, then sync; same numerator); $how"
  cond vault_send_incremental_seconds "second and third sends (s2, s3; $VAULT_WRITE_MIB MiB written by the guest before each) into the repository of the first; borg and restic re-read every changed file; wall seconds; $how"
  cond vault_send_incremental_bytes_read "the same sends; bytes read from storage, measured (/proc/self/io read_bytes of a wrapper process, reaped children included; kvmsnap's own bytesRead in 'reported'); $how"
  cond vault_stored_bytes_after_3 "repository size after s1..s3: du -sb --apparent-size (sum of file sizes; allocated bytes in 'allocated'); $how"
  cond vault_send_full_MBps_s3 "kvmsnap's first send of s1 into an S3 vault on moto (loopback, SigV4 checked, --jobs 8), against kvmsnap's send into a directory vault in the same run; $how"
  cond vault_send_incremental_seconds_s3 "kvmsnap's second and third sends into that S3 vault, against the same sends into the directory vault; $how"
  cond vault_restore_MBps "restore of s3 into an empty directory on the same filesystem, timed until 'sync' returns; MB/s = apparent bytes written / seconds; borg extract and restic restore write files without holes; limit: dd if=/dev/zero bs=4M oflag=direct of the same size; copy limit in baseline 'copy' (see vault_restore_vs_copy_limit); CPU seconds in 'cpu_seconds'; $how"
}
# The last run's figures, one line for the log.
vault_run_line() {
  awk -F'\t' '$1 ~ /^vault_(send_full_MBps|send_incremental_seconds|restore_MBps)$/ { v[$1" "$2] = $3 }
    END { for (k in v) printf "%s=%s ", k, v[k] }' "$SAMPLES" | sed 's/vault_send_full_MBps/full/g; s/vault_send_incremental_seconds/inc/g; s/vault_restore_MBps/restore/g'
}

# vault_summary OUT RUNS: the vault table (kvmsnap against each baseline); rows appended to OUT.
vault_summary() {
  $PY - "$SAMPLES" "$1" "$2" "$CONDS" "${VAULT_BUILT:-0}" "$NOT_BUILT" "$VAULT_HOW" <<'EOF'
import json, statistics, sys
samples, out, runs, conds, built, not_built, how = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1", sys.argv[6], sys.argv[7]
vals = {}
for line in open(samples):
    m, side, v = line.rstrip("\n").split("\t")
    if v not in ("", "None"): vals.setdefault(m, {}).setdefault(side, []).append(float(v))
conditions = dict(line.rstrip("\n").split("\t", 1) for line in open(conds))
med = lambda xs: statistics.median(xs) if xs else None
fmt = lambda x: "-" if x is None else ("%.4g" % x)
names = {"dd": "dd O_DIRECT (filesystem limit)", "borg": "borg 1.2", "restic": "restic 0.14", "copy": "dd read | dd write, O_DIRECT (copy limit)"}
spec = [  # metric, unit, primary baseline, target text, target check on {baseline: ratio}
    ("vault_send_full_MBps", "MB/s", "dd", "kvmsnap/limit >= 0.7", lambda r: r["dd"] >= 0.7),
    ("vault_send_incremental_seconds", "s", "borg", "kvmsnap/borg and kvmsnap/restic <= 0.2 (5x faster)", lambda r: r["borg"] <= 0.2 and r["restic"] <= 0.2),
    ("vault_send_incremental_bytes_read", "bytes", "borg", "report", None),
    ("vault_stored_bytes_after_3", "bytes", "borg", "kvmsnap/borg <= 1.0", lambda r: r["borg"] <= 1.0),
    ("vault_restore_MBps", "MB/s", "dd", "kvmsnap/limit >= 0.5", lambda r: r["dd"] >= 0.5),
]
doc = json.load(open(out))
print("\n| metric | kvmsnap | limit (dd) | borg | restic | kvmsnap/limit | kvmsnap/borg | kvmsnap/restic | unit | runs | target | met |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for metric, unit, primary, ttext, check in spec:
    v = vals.get(metric, {})
    base = {s: med(v[s]) for s in ("dd", "borg", "restic", "copy") if s in v}
    k = med(v.get("kvmsnap", []))
    ratios = {s: (k / b if k is not None and b else None) for s, b in base.items()}
    n = min(len(xs) for xs in v.values()) if v else 0   # incremental rows: 2 sends per run
    if n < runs: sys.exit("bench: %s has %d of %d samples on a side: a missing sample is an error" % (metric, n, runs))
    met = "-" if check is None or k is None else ("yes" if check(ratios) else "**no**")
    row = {"metric": metric, "kvmsnap": k, "baseline": base.get(primary), "baselineName": names[primary], "ratio": ratios.get(primary),
           "unit": unit, "runs": runs, "samples": n, "baselines": {names[s]: b for s, b in base.items()}, "ratios": {names[s]: r for s, r in ratios.items()},
           "target": ttext, "met": None if met == "-" else met == "yes", "conditions": conditions[metric]}
    for extra in ("bytes_read", "reported", "allocated", "bytes", "cpu_seconds"):
        e = vals.get(metric + ":" + extra)
        if e: row[extra] = {s: med(xs) for s, xs in e.items()}
    if not built: row["kvmsnapNote"] = not_built
    ssh = med(v.get("kvmsnap-ssh", []))
    if ssh is not None: row["kvmsnapSSH"] = {"value": ssh, "ratioToDirectory": ssh / k if k else None}
    doc["results"].append(row)
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s |" % (metric, fmt(k) if built else not_built, fmt(base.get("dd")),
          fmt(base.get("borg")), fmt(base.get("restic")), fmt(ratios.get("dd")), fmt(ratios.get("borg")), fmt(ratios.get("restic")), unit, runs, ttext, met))
for metric, local in (("vault_send_full_vs_copy_limit", "vault_send_full_MBps"), ("vault_restore_vs_copy_limit", "vault_restore_MBps")):
    k, c = med(vals.get(local, {}).get("kvmsnap", [])), med(vals.get(local, {}).get("copy", []))
    if k is None or c is None: continue
    doc["results"].append({"metric": metric, "kvmsnap": k, "baseline": c, "baselineName": names["copy"], "ratio": k / c if c else None,
                           "unit": "MB/s", "runs": runs, "target": "report (the issue's targets are against the read / write limit)", "met": None,
                           "conditions": conditions[metric]})
    print("| %s | %s | copy limit: %s | | | kvmsnap/copy %s | | | MB/s | %d | report | - |" % (metric, fmt(k), fmt(c), fmt(k / c if c else None), runs))
for metric, local, unit in (("vault_send_full_MBps_s3", "vault_send_full_MBps", "MB/s"), ("vault_send_incremental_seconds_s3", "vault_send_incremental_seconds", "s")):
    k, d = med(vals.get(metric, {}).get("kvmsnap", [])), med(vals.get(local, {}).get("kvmsnap", []))
    if k is None: continue
    doc["results"].append({"metric": metric, "kvmsnap": k, "baseline": d, "baselineName": "kvmsnap, directory vault", "ratio": k / d if d else None,
                           "unit": unit, "runs": runs, "conditions": conditions[metric]})
    print("| %s | %s | kvmsnap directory vault: %s | | | s3/directory %s | | | %s | %d | report | - |" % (metric, fmt(k), fmt(d), fmt(k / d if d else None), unit, runs))
json.dump(doc, open(out, "w"), indent=2)
print("\nMedians over %d runs (incremental rows: over the 2nd and 3rd send of every run); ratio = kvmsnap / that baseline." % runs)
print("All vault rows: " + how)
ssh_rows = [r for r in doc["results"] if r["metric"].startswith("vault_") and "kvmsnapSSH" in r]
if ssh_rows:
    print("kvmsnap into an ssh:// vault (scripts/lib/ssh-peer.sh: sshd in a network namespace on this host, same filesystem), "
          "next to the directory vault: " + "; ".join("%s %s (%s x the directory's)" % (r["metric"], fmt(r["kvmsnapSSH"]["value"]),
          fmt(r["kvmsnapSSH"]["ratioToDirectory"])) for r in ssh_rows))
for row in doc["results"]:
    if row["metric"].startswith("vault_"):
        print("- %s: %s" % (row["metric"], row["conditions"].replace("; " + how, "")))
        for extra in ("bytes_read", "reported", "allocated", "bytes", "cpu_seconds"):
            if extra in row: print("  %s (medians): %s" % (extra, ", ".join("%s %s" % (s, fmt(x)) for s, x in sorted(row[extra].items()))))
EOF
}
