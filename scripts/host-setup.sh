#!/usr/bin/env bash
# Turns a fresh Debian 12 machine (root) into a working libvirt/QEMU host for kvmsnap.
# Idempotent: every step checks before it acts. See ../shared/HOST.md for the traps.
set -euo pipefail

log() { printf 'host-setup: %s\n' "$*" >&2; }

if [[ $EUID -ne 0 ]]; then
  log "must run as root"; exit 1
fi

PACKAGES=(
  # build
  libvirt-dev libsqlite3-dev libzstd-dev libssl-dev pkg-config
  # run
  libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils tini
  # test guest build
  busybox-static cpio e2fsprogs
  # tests and benchmarks
  borgbackup restic sqlite3 tmux time procps openssl
  # the ssh:// vault tests' second host (scripts/lib/ssh-peer.sh)
  openssh-server openssh-sftp-server openssh-client iproute2
  # UEFI firmware for the NVRAM test guest
  ovmf
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d stops postinst scripts from trying to start services where there is no init.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Tests parse the metrics textfile with Prometheus' own Python parser (prometheus_client, from
# PyPI) under /usr/bin/python3, the interpreter the tests run. Debian marks its Python
# "externally managed" (PEP 668), so pip needs --break-system-packages there.
if ! /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
  if ! /usr/bin/python3 -m pip --version >/dev/null 2>&1; then
    log "installing: python3-pip"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  log "installing: prometheus_client (PyPI)"
  /usr/bin/python3 -m pip install --quiet --root-user-action=ignore prometheus_client 2>/dev/null \
    || /usr/bin/python3 -m pip install --quiet --root-user-action=ignore --break-system-packages prometheus_client
fi

# The web panel's browser test: Chromium, chromium-driver and curl (Debian), Selenium (PyPI).
source "$(dirname "$0")/lib/panel-browser.sh"

# dnsmasq/: libvirt keeps a network's MAC list there; without it a domain on a network with an
# <ip> (DrillTests' "production" network) fails to start ("Failed to create file ...macs.new").
mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt/images /var/lib/libvirt/qemu /var/lib/libvirt/dnsmasq

if [[ -e /dev/kvm ]] && getent group kvm >/dev/null; then
  chgrp kvm /dev/kvm && chmod 660 /dev/kvm || log "could not open /dev/kvm to the kvm group"
fi

virsh_ok() { timeout 5 virsh -c qemu:///system version >/dev/null 2>&1; }

if [[ -d /run/systemd/system ]]; then
  systemctl start virtlogd libvirtd
else
  # Daemons must not inherit the caller's open files (a lock a test or script holds would be
  # held for the daemon's whole life): close every descriptor above 2 first.
  close_inherited_fds() {
    local fd
    for fd in $(ls /proc/$BASHPID/fd); do
      if ((fd > 2)); then eval "exec ${fd}>&-" 2>/dev/null || true; fi
    done
  }
  pgrep -x virtlogd >/dev/null || (close_inherited_fds; exec virtlogd -d)
  if ! pgrep -x libvirtd >/dev/null; then
    # libvirt daemonizes QEMU, so a stopped QEMU is reaped by whoever adopts orphans. Where that
    # is a slow PID 1 (containers, sandboxes: ~2 s here), every destroy waits for it. Under tini
    # as a child subreaper the orphans are adopted and reaped at once.
    if command -v tini >/dev/null; then
      (close_inherited_fds; exec setsid tini -s -- libvirtd </dev/null >>/var/log/libvirt/libvirtd.out 2>&1) &
    else
      (close_inherited_fds; exec libvirtd -d)
    fi
  fi
fi

for _ in $(seq 1 60); do
  if virsh_ok; then log "qemu:///system answers"; exit 0; fi
  sleep 0.5
done
log "libvirtd did not answer on qemu:///system within 30 s"
exit 1
