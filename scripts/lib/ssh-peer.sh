#!/usr/bin/env bash
# A second host for the ssh:// vault tests: Debian's sshd in its own network namespace, reached
# over a veth pair with addresses of our own (10.213.0.1/30 here, 10.213.0.2 in the namespace).
# Key authentication only, a generated host key, and client files under $KVMSNAP_SSH_PEER_DIR:
#   ssh_config          full-access key, the right known_hosts (ssh -F; KVMSNAP_SSH_CONFIG); ports 22 and 2222
#   ssh_config_append   the append-only key (forced command: vault serve --append-only vaults/append)
#   ssh_config_unknown  the full key, but a known_hosts without the peer (must be refused)
#   ssh_config_stranger a key the peer does not authorize (must be refused)
#   vaults/             vault directories (same filesystem: tests may look at the bytes)
#
#   scripts/lib/ssh-peer.sh start [KVMSNAP_BINARY]   # idempotent; default .build/debug/kvmsnap
#   scripts/lib/ssh-peer.sh stop                     # stops sshd, removes namespace and veth
#   scripts/lib/ssh-peer.sh status                   # exit 0 when the peer answers
set -euo pipefail

NS=kvmsnap-sshpeer
HOST_DEV=ksnssh0
PEER_DEV=ksnssh1
HOST_ADDR=10.213.0.1
PEER_ADDR=10.213.0.2
DIR=${KVMSNAP_SSH_PEER_DIR:-/var/lib/kvmsnap-ssh-peer}
CONFIG_CHANGED=0

log() { printf 'ssh-peer: %s\n' "$*" >&2; }

install_packages() {
  local missing=() p
  for p in openssh-server openssh-sftp-server openssh-client iproute2; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

sshd_running() {
  [[ -s $DIR/sshd.pid ]] && kill -0 "$(cat "$DIR/sshd.pid")" 2>/dev/null
}

make_keys() {
  mkdir -p "$DIR/vaults"
  chmod 700 "$DIR"
  local k
  for k in host_ed25519 id_full id_append id_stranger; do
    [[ -f $DIR/$k ]] || ssh-keygen -q -t ed25519 -N '' -C "kvmsnap-test-$k" -f "$DIR/$k"
  done
  local key
  key=$(cut -d' ' -f1,2 "$DIR/host_ed25519.pub")
  printf '%s %s\n[%s]:2222 %s\n' "$PEER_ADDR" "$key" "$PEER_ADDR" "$key" >"$DIR/known_hosts"
  : >"$DIR/known_hosts_empty"
}

write_configs() {
  local bin=$1
  # The full key runs any command; the append-only key only the forced vault server.
  {
    printf 'restrict %s\n' "$(cat "$DIR/id_full.pub")"
    printf 'command="%s vault serve --stdio --append-only %s/vaults/append",restrict %s\n' "$bin" "$DIR" "$(cat "$DIR/id_append.pub")"
  } >"$DIR/authorized_keys"
  chmod 600 "$DIR/authorized_keys"
  cat >"$DIR/sshd_config.new" <<EOF
ListenAddress $PEER_ADDR
Port 22
Port 2222
HostKey $DIR/host_ed25519
PidFile $DIR/sshd.pid
AuthorizedKeysFile $DIR/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 64:30:128
MaxSessions 64
LogLevel VERBOSE
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
  # A running sshd started with another configuration is restarted by start.
  if cmp -s "$DIR/sshd_config.new" "$DIR/sshd_config"; then rm -f "$DIR/sshd_config.new"; else
    mv "$DIR/sshd_config.new" "$DIR/sshd_config"
    CONFIG_CHANGED=1
  fi
  local name key hosts
  for name in "" _append _unknown _stranger; do
    key=id_full; hosts=known_hosts
    [[ $name == _append ]] && key=id_append
    [[ $name == _stranger ]] && key=id_stranger
    [[ $name == _unknown ]] && hosts=known_hosts_empty
    cat >"$DIR/ssh_config$name" <<EOF
Host *
  User root
  IdentityFile $DIR/$key
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile $DIR/$hosts
  GlobalKnownHostsFile /dev/null
  UpdateHostKeys no
EOF
  done
}

start_network() {
  ip netns list | grep -qw "$NS" || ip netns add "$NS"
  if ! ip link show "$HOST_DEV" >/dev/null 2>&1; then
    ip link add "$HOST_DEV" type veth peer name "$PEER_DEV"
    ip link set "$PEER_DEV" netns "$NS"
  fi
  ip addr replace "$HOST_ADDR/30" dev "$HOST_DEV"
  ip link set "$HOST_DEV" up
  ip netns exec "$NS" ip addr replace "$PEER_ADDR/30" dev "$PEER_DEV"
  ip netns exec "$NS" ip link set "$PEER_DEV" up
  ip netns exec "$NS" ip link set lo up
}

start() {
  local bin=${1:-$(pwd)/.build/debug/kvmsnap}
  install_packages
  make_keys
  write_configs "$bin"
  start_network
  mkdir -p /run/sshd
  if ((CONFIG_CHANGED)) && sshd_running; then
    kill "$(cat "$DIR/sshd.pid")"
    sleep 0.5
  fi
  if ! sshd_running; then
    ip netns exec "$NS" /usr/sbin/sshd -f "$DIR/sshd_config" -E "$DIR/sshd.log"
  fi
  local i
  for i in $(seq 1 50); do
    if ssh -F "$DIR/ssh_config" -o BatchMode=yes -o ConnectTimeout=2 "$PEER_ADDR" true 2>/dev/null; then
      log "sshd answers at $PEER_ADDR (files in $DIR)"
      return 0
    fi
    sleep 0.2
  done
  log "sshd does not answer at $PEER_ADDR; its log:"
  tail -n 20 "$DIR/sshd.log" >&2 || true
  return 1
}

stop() {
  if sshd_running; then
    kill "$(cat "$DIR/sshd.pid")" 2>/dev/null || true
  fi
  rm -f "$DIR/sshd.pid"
  ip link del "$HOST_DEV" 2>/dev/null || true
  if ip netns list | grep -qw "$NS"; then
    # Sessions still running in the namespace (a test killed mid-way) end with it.
    local p
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    ip netns del "$NS"
  fi
  log "stopped"
}

status() {
  sshd_running && ssh -F "$DIR/ssh_config" -o BatchMode=yes -o ConnectTimeout=2 "$PEER_ADDR" true 2>/dev/null
}

case ${1:-} in
  start) shift; start "$@" ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start [KVMSNAP_BINARY] | stop | status" >&2; exit 64 ;;
esac
