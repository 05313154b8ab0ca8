#!/usr/bin/env bash
# Prints the text record the kvmsnap test guest keeps at a byte offset of a disk image
# (Fixtures/guest/README.md), read from the host; safe while the guest runs (-r -U).
#   guest-disk-record.sh IMAGE [OFFSET [FORMAT]]
#     OFFSET 0 (default): "KVMSNAP-COUNTER <n>"; 512: write request; 1024: write acknowledgement
#     FORMAT qcow2 (default) or raw
# Prints the first line of the record (NULs dropped), or nothing for an empty sector.
# With --counter as the only option before IMAGE, prints just the counter number and fails
# when there is no valid counter record.
set -euo pipefail
counter_only=0
if [[ "${1:-}" == --counter ]]; then counter_only=1; shift; fi
[[ $# -ge 1 ]] || { echo "usage: $0 [--counter] IMAGE [OFFSET [FORMAT]]" >&2; exit 2; }
image=$1 offset=${2:-0} format=${3:-qcow2}
out=$(qemu-io -r -U -f "$format" -c "read -v $offset 64" "$image")
record=$(awk '/^[0-9a-f]+:/ { for (i = 2; i <= 17; i++) if ($i ~ /^[0-9a-f][0-9a-f]$/) printf "%s", $i }' <<<"$out" \
  | xxd -r -p | tr -d '\000' | head -n 1 || true)
if [[ $counter_only == 1 ]]; then
  [[ "$record" =~ ^KVMSNAP-COUNTER\ ([0-9]+)$ ]] || { echo "no counter record in $image" >&2; exit 1; }
  echo "${BASH_REMATCH[1]}"
else
  printf '%s\n' "$record"
fi
