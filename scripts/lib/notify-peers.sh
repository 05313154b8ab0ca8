#!/usr/bin/env bash
# Real alert receivers for the Notify tests, on loopback: an HTTP server (webhook, ntfy and
# Gotify endpoints: it records every request) and an SMTP server (aiosmtpd from PyPI).
#
# Sourced (scripts/test.sh):   notify_peers_install; notify_peers_start DIR; ...; notify_peers_stop
#   notify_peers_start exports KVMSNAP_TEST_NOTIFY_HTTP (127.0.0.1:PORT), KVMSNAP_TEST_NOTIFY_HTTP_DIR,
#   KVMSNAP_TEST_NOTIFY_SMTP (127.0.0.1:PORT), KVMSNAP_TEST_NOTIFY_SMTP_DIR: each received request
#   or mail is a JSON file there (scripts/lib/notify-receiver.py). Tests also start receivers of
#   their own with that script (a receiver that is down, then up).
# Run:   scripts/lib/notify-peers.sh install

NOTIFY_RECEIVER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/notify-receiver.py"
NOTIFY_PEER_PIDS=()

notify_peers_install() {
  if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
    /usr/bin/python3 -m pip --version >/dev/null 2>&1 \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
    /usr/bin/python3 -m pip install --quiet --root-user-action=ignore aiosmtpd 2>/dev/null \
      || /usr/bin/python3 -m pip install --quiet --root-user-action=ignore --break-system-packages aiosmtpd
  fi
}

# Starts `notify-receiver.py KIND DIR` and waits (10 s at most) for DIR/port; sets
# NOTIFY_PEER_PORT (not a command substitution: the pid must be kept by this shell to stop it).
notify_peer_start_one() {
  local kind=$1 dir=$2 i pid
  mkdir -p "$dir"; rm -f "$dir/port"
  /usr/bin/python3 "$NOTIFY_RECEIVER" "$kind" "$dir" </dev/null >"$dir.log" 2>&1 &
  pid=$!
  NOTIFY_PEER_PIDS+=("$pid")
  for ((i = 0; i < 100; i++)); do
    [[ -s "$dir/port" ]] && { NOTIFY_PEER_PORT=$(<"$dir/port"); return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "notify-peers: the $kind receiver did not start:" >&2; cat "$dir.log" >&2
  return 1
}

notify_peers_start() {
  local root=$1
  notify_peer_start_one http "$root/http" || return 1
  export KVMSNAP_TEST_NOTIFY_HTTP="127.0.0.1:$NOTIFY_PEER_PORT" KVMSNAP_TEST_NOTIFY_HTTP_DIR="$root/http"
  notify_peer_start_one smtp "$root/smtp" || return 1
  export KVMSNAP_TEST_NOTIFY_SMTP="127.0.0.1:$NOTIFY_PEER_PORT" KVMSNAP_TEST_NOTIFY_SMTP_DIR="$root/smtp"
}

notify_peers_stop() {
  local pid
  for pid in "${NOTIFY_PEER_PIDS[@]+"${NOTIFY_PEER_PIDS[@]}"}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${NOTIFY_PEER_PIDS[@]+"${NOTIFY_PEER_PIDS[@]}"}"; do wait "$pid" 2>/dev/null || true; done
  NOTIFY_PEER_PIDS=()
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  case "${1:-}" in
    install) notify_peers_install ;;
    *) echo "usage: $0 install (or source it: notify_peers_install, notify_peers_start DIR, notify_peers_stop)" >&2; exit 64 ;;
  esac
fi
