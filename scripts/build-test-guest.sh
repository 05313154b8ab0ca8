#!/usr/bin/env bash
# Builds the kvmsnap test guest: a Debian cloud kernel plus a busybox initramfs whose
# /init is Fixtures/guest/init (protocol: Fixtures/guest/README.md).
#
# Everything comes from Debian packages (apt-get download); nothing is compiled.
# Outputs go to a cache directory outside git:
#   ${KVMSNAP_TEST_GUEST_DIR:-/var/cache/kvmsnap/test-guest}/{vmlinuz,initrd.img,stamp}
# Idempotent: when the stamp names the sha256 of this script and of the init fixture (the
# recipe), it only prints the directory; a change to either rebuilds, whatever the file
# times say (a restored cache, a checkout). Set KVMSNAP_TEST_GUEST_REBUILD=1 to force a rebuild.
# Downloaded .debs are kept in <dir>/debs and reused.
# The last line printed on stdout is always the output directory.
set -euo pipefail

log() { printf 'build-test-guest: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $EUID -eq 0 ]] || die "must run as root (apt-get, mknod)"

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
SELF="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
INIT_SRC="$REPO_DIR/Fixtures/guest/init"
OUT_DIR=${KVMSNAP_TEST_GUEST_DIR:-/var/cache/kvmsnap/test-guest}
DEB_DIR="$OUT_DIR/debs"
META_PKG=linux-image-cloud-amd64
# The QEMU guest agent (for quiesced snapshots) comes from this package; its shared libraries
# are copied from the host (same Debian release), found with ldd.
AGENT_PKG=qemu-guest-agent
# ext4 (for the /mnt/data freeze disk) is built into Debian's cloud kernel: no module needed.
# Modules copied into the initramfs, in insmod order (see Fixtures/guest/init).
# virtio_net depends on net_failover, which depends on failover (the .ko's depends= field).
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk virtio_console
  failover net_failover virtio_net button evdev)

[[ -f "$INIT_SRC" ]] || die "missing init fixture: $INIT_SRC"
RECIPE=$(cat "$SELF" "$INIT_SRC" | sha256sum | cut -d' ' -f1)

# ---- fast path ---------------------------------------------------------------------
up_to_date() {
  [[ "${KVMSNAP_TEST_GUEST_REBUILD:-0}" != 1 \
      && -s "$OUT_DIR/vmlinuz" && -s "$OUT_DIR/initrd.img" && -s "$OUT_DIR/stamp" \
      && ! "$OUT_DIR/vmlinuz" -nt "$OUT_DIR/stamp" && ! "$OUT_DIR/initrd.img" -nt "$OUT_DIR/stamp" ]] \
    && grep -qx "recipe_sha256=$RECIPE" "$OUT_DIR/stamp"
}
if up_to_date; then
  log "up to date"
  echo "$OUT_DIR"
  exit 0
fi

# Parallel callers (tests) build one at a time; the later ones then find the fresh result.
(umask 022 && mkdir -p "$OUT_DIR")
exec 9>"$OUT_DIR/.lock"
flock 9
if up_to_date; then
  log "up to date (built by a parallel run)"
  echo "$OUT_DIR"
  exit 0
fi

# ---- host tools --------------------------------------------------------------------
apt_updated=0
apt_update_once() {
  if [[ $apt_updated -eq 0 ]]; then
    log "apt-get update"
    apt-get update -qq >&2
    apt_updated=1
  fi
}
need_pkgs=()
[[ -x /bin/busybox ]] || need_pkgs+=(busybox-static)
command -v cpio >/dev/null || need_pkgs+=(cpio)
if ((${#need_pkgs[@]})); then
  apt_update_once
  log "installing ${need_pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
fi
# The initramfs needs a static busybox: the dynamic one has no libc in the guest.
ldd_out=$(LC_ALL=C ldd /bin/busybox 2>&1 || true)
if ! grep -q 'not a dynamic executable\|statically linked' <<<"$ldd_out"; then
  apt_update_once
  log "installing busybox-static (/bin/busybox is not static)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static >&2
fi

# ---- kernel packages (cached) ------------------------------------------------------
(umask 022 && mkdir -p "$DEB_DIR")
chmod 755 "$OUT_DIR" "$DEB_DIR"
# qemu runs as libvirt-qemu: every directory above the outputs must be traversable.
d=$OUT_DIR
while [[ "$d" != / ]]; do
  d=$(dirname "$d")
  perm=$(stat -c %A "$d")
  [[ ${perm:9:1} == x || ${perm:9:1} == t ]] || log "warning: $d is not world-traversable; qemu (libvirt-qemu) will not read the kernel"
done

# apt-get download writes into the current directory; it runs as root here (the _apt
# sandbox user may not be able to write to the cache directory), so silence that notice.
apt_download() {
  local pkg=$1
  if ! (cd "$DEB_DIR" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2); then
    apt_update_once
    (cd "$DEB_DIR" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2)
  fi
}

newest_deb() { # newest cached .deb of a package, or nothing
  ls -1 "$DEB_DIR/$1"_*.deb 2>/dev/null | sort -V | tail -n 1 || true
}

cached_deb() { # newest cached .deb of a package, downloaded first when there is none
  local deb
  deb=$(newest_deb "$1")
  if [[ -z "$deb" ]]; then
    log "downloading $1"
    apt_download "$1"
    deb=$(newest_deb "$1")
  fi
  [[ -n "$deb" ]] || die "could not download $1"
  printf '%s\n' "$deb"
}

meta_deb=$(cached_deb "$META_PKG")

# Depends: linux-image-6.1.0-NN-cloud-amd64 (= ...)
kpkg=$(dpkg-deb -f "$meta_deb" Depends | tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1)
[[ -n "$kpkg" ]] || die "cannot find the versioned kernel package in Depends of $meta_deb"
kdeb=$(cached_deb "$kpkg")
log "kernel package: $(basename "$kdeb")"

agent_deb=$(cached_deb "$AGENT_PKG")
log "agent package: $(basename "$agent_deb")"

# ---- build in a scratch directory, then move into place atomically -----------------
WORK=$(mktemp -d "$OUT_DIR/.build.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

dpkg-deb -x "$kdeb" "$WORK/kernel"
vmlinuz=$(ls -1 "$WORK"/kernel/boot/vmlinuz-* | head -n 1)
[[ -f "$vmlinuz" ]] || die "no vmlinuz in $kdeb"
kver=${vmlinuz##*/vmlinuz-}
moddir="$WORK/kernel/lib/modules/$kver"
[[ -d "$moddir" ]] || die "no modules directory for $kver"

root="$WORK/root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,fill,etc,lib/modules}
cp /bin/busybox "$root/bin/busybox"
# A few links for the kernel and for humans; init itself runs `busybox --install -s`.
ln -s busybox "$root/bin/sh"
# The kernel opens /dev/console before /init runs: it must exist in the initramfs.
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3

for m in "${MODULES[@]}"; do
  f=$(find "$moddir" -name "$m.ko" -o -name "$m.ko.xz" | head -n 1)
  if [[ -z "$f" ]]; then
    # Built into the kernel? Then there is nothing to load.
    if grep -q "/$m.ko\$" "$moddir/modules.builtin" 2>/dev/null; then
      log "module $m is built in"
      continue
    fi
    die "module $m not found in $kdeb"
  fi
  case "$f" in
    *.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
    *)    cp "$f" "$root/lib/modules/$m.ko" ;;
  esac
done

# ---- QEMU guest agent + the shared libraries it needs (from the host, via ldd) ------
dpkg-deb -x "$agent_deb" "$WORK/agent"
qga="$WORK/agent/usr/sbin/qemu-ga"
[[ -x "$qga" ]] || die "no usr/sbin/qemu-ga in $agent_deb"
install -D -m 755 "$qga" "$root/sbin/qemu-ga"
ldd_qga=$(LC_ALL=C ldd "$qga")
if grep -q 'not found' <<<"$ldd_qga"; then
  die "qemu-ga needs libraries this host lacks (install them with apt): $(grep 'not found' <<<"$ldd_qga" | tr -s ' \t\n' ' ')"
fi
# "libx.so.1 => /lib/.../libx.so.1 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"
for lib in $(sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p' <<<"$ldd_qga" | sort -u); do
  real=$(readlink -f "$lib")
  install -D -m 755 "$real" "$root$lib"
done
mkdir -p "$root/mnt/data" "$root/run" "$root/var/run" "$root/lib64"

install -m 755 "$INIT_SRC" "$root/init"

(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) \
  | gzip -6 >"$WORK/initrd.img"
install -m 644 "$vmlinuz" "$WORK/vmlinuz"

init_sum=$(sha256sum "$INIT_SRC" | cut -d' ' -f1)
cat >"$WORK/stamp" <<EOF
recipe_sha256=$RECIPE
kernel_package=$(basename "$kdeb")
kernel_version=$kver
agent_package=$(basename "$agent_deb")
init_sha256=$init_sum
initrd_sha256=$(sha256sum "$WORK/initrd.img" | cut -d' ' -f1)
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
chmod 644 "$WORK/initrd.img" "$WORK/vmlinuz" "$WORK/stamp"

# stamp last, so a half-finished build never looks fresh.
rm -f "$OUT_DIR/stamp"
mv -f "$WORK/vmlinuz" "$OUT_DIR/vmlinuz"
mv -f "$WORK/initrd.img" "$OUT_DIR/initrd.img"
touch "$OUT_DIR/vmlinuz" "$OUT_DIR/initrd.img"
mv -f "$WORK/stamp" "$OUT_DIR/stamp"
touch "$OUT_DIR/stamp"
chmod 755 "$OUT_DIR"

log "built kernel $kver, initrd $(du -h "$OUT_DIR/initrd.img" | cut -f1)"
echo "$OUT_DIR"
