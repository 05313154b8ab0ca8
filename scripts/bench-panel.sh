# Sourced by scripts/bench.sh: the web panel under load (issue 16), in the core section, or alone
# with `scripts/bench.sh --only panel` (panel_section: one small guest and its one snapshot).
# 50 wrk clients on loopback list a VM with 10,000 snapshots through GET /api/v1/vms/VM/snapshots
# for 30 s (bounded: wrk stops by itself); the requests per second and the p99 latency go to the
# notes of the run. Uses bench.sh's WORK, K, A, KVMSNAP_CATALOG, NOTES and log/die.
PANEL_ROWS=10000 PANEL_CLIENTS=50 PANEL_SECONDS=30

panel_load_bench() {
  command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
  local cat=$WORK/catalog-panel-10k.sqlite store=$WORK/panel-store uuid port token pid out rps p99
  sqlite3 "$KVMSNAP_CATALOG" ".backup '$cat'"
  uuid=$(virsh domuuid "$A")
  sqlite3 "$cat" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
CREATE TEMP TABLE tmpl AS SELECT * FROM snapshot WHERE vmUUID = '$uuid' AND name = 'c1';
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $PANEL_ROWS)
INSERT INTO snapshot (id, vmUUID, name, description, kind, parentID, createdAt, state, hasMemory, memoryPath,
                      memoryBytes, diskBytes, configXML, nvramPath, pinned, expiresAt, labels, guestPauseMs, jobID)
SELECT printf('s-panel%07d', i), '$uuid', printf('panel-%07d', i), 'synthetic row ' || i, 'incremental',
       CASE WHEN i = 1 THEN NULL ELSE printf('s-panel%07d', i - 1) END,
       strftime('%Y-%m-%d %H:%M:%f', '2000-01-01', '+' || (i * 3600) || ' seconds'), 'ready', 1,
       t.memoryPath || '.' || i, t.memoryBytes, t.diskBytes, t.configXML, NULL, 0, NULL, '[]', t.guestPauseMs, NULL
FROM n, tmpl t;
COMMIT;
SQL
  port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$K" serve --listen "127.0.0.1:$port" --catalog "$cat" --store "$store" >"$WORK/panel.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/api/v1/health" >/dev/null && break; sleep 0.2; done
  token=$(cat "$store/panel-token")
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/vms/$A/snapshots" >"$WORK/panel-list.json" \
    || { kill "$pid"; die "panel: the listing failed: $(cat "$WORK/panel.log")"; }
  [[ $(jget "$WORK/panel-list.json" 'len(d)') -gt $PANEL_ROWS ]] || { kill "$pid"; die "panel: the listing has too few rows"; }
  out=$(wrk -t2 -c$PANEL_CLIENTS -d${PANEL_SECONDS}s --timeout 30s --latency -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/vms/$A/snapshots")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  [[ -n $rps && -n $p99 ]] || die "panel: no figures from wrk: $out"
  grep -q "Non-2xx" <<<"$out" && die "panel: wrk saw error answers: $out"
  echo "panel: $PANEL_CLIENTS clients (wrk, loopback, ${PANEL_SECONDS} s) listing a VM with $PANEL_ROWS snapshots (GET /api/v1/vms/VM/snapshots, $(du -k "$WORK/panel-list.json" | cut -f1) KiB each): $rps requests/s, p99 $p99" >>"$NOTES"
  rm -rf "$cat" "$cat-wal" "$cat-shm" "$store" "$WORK/panel-list.json"
}

# `bench.sh --only panel`: a 256 MiB guest with one snapshot (c1, the row the 10,000 copy), shut
# off before the measurement so that only the server and wrk share the cores.
panel_section() {
  A=$P-panel
  log "panel: one $TYPE guest (256 MiB) and its snapshot c1"
  define_guest "$A" 256 0
  wait_ready "$A"
  "$K" create "$A" --name c1 --json >/dev/null || die "panel: create c1 failed"
  virsh -q destroy "$A" >/dev/null
  log "panel: $PANEL_CLIENTS wrk clients listing $PANEL_ROWS snapshots for $PANEL_SECONDS s"
  panel_load_bench
}
