#!/usr/bin/env bash
# Builds a Debian package of kvmsnap with dpkg-deb:
#
#   scripts/package-deb.sh [--output DIR]     # default DIR: .build/deb; prints the .deb's path last
#
# The package holds what scripts/install.sh installs with --prefix /usr (binary, man page, bash/
# zsh/fish completions, the kvmsnap-run-due service and timer, installed but not enabled), minus
# its manifest (dpkg keeps its own list). The version is `kvmsnap --version`. Depends: comes from
# dpkg-shlibdeps over the binary (libvirt0, libsqlite3-0, libc6, ...), so it names the Debian
# packages of exactly the libraries the binary links; Recommends: the daemon and qemu-utils.
#
# The binary is a release build with the Swift runtime linked in statically
# (--static-swift-stdlib), so the package needs no Swift toolchain; the script checks with ldd
# that no libswift*/libFoundation* library is needed.
#
# Environment:
#   KVMSNAP_DEB_BINARY=PATH             package this binary instead of building one
#   KVMSNAP_DEB_ALLOW_SWIFT_RUNTIME=1   accept a binary that links the Swift runtime dynamically
#                                       (the tests package the debug binary this way; such a .deb
#                                       only works where that toolchain is installed)
#   KVMSNAP_GENERATE_MANUAL=PATH        passed on to install.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/.build/deb
while (($#)); do
  case $1 in
    --output) OUT=${2:?--output needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "package-deb.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
done
say() { printf 'package-deb.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (Debian's dpkg)"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BIN=${KVMSNAP_DEB_BINARY:-}
if [[ -z $BIN ]]; then
  SWIFT=$(command -v swift || echo /opt/swift/usr/bin/swift)
  say "building a release binary with the Swift runtime linked in (swift build -c release --static-swift-stdlib)"
  (cd "$ROOT" && "$SWIFT" build -c release --static-swift-stdlib --product kvmsnap >&2)
  BIN=$(cd "$ROOT" && "$SWIFT" build -c release --static-swift-stdlib --show-bin-path)/kvmsnap
fi
[[ -x $BIN ]] || die "$BIN is not an executable"

swift_libs=$(ldd "$BIN" | awk '/libswift|libFoundation|libdispatch|libBlocksRuntime|lib_FoundationICU/ {print $1}' | tr '\n' ' ')
if [[ -n $swift_libs ]]; then
  [[ ${KVMSNAP_DEB_ALLOW_SWIFT_RUNTIME:-} == 1 ]] || die "$BIN links the Swift runtime dynamically ($swift_libs): build with --static-swift-stdlib"
  say "note: $BIN needs the Swift runtime ($swift_libs); the package works only where it is installed"
fi

VERSION=$("$BIN" --version)
[[ $VERSION =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || die "unusable version '$VERSION' from $BIN --version"
ARCH=$(dpkg --print-architecture)
PKG=$WORK/kvmsnap_${VERSION}_$ARCH
mkdir -p "$PKG"
DESTDIR=$PKG KVMSNAP_INSTALL_BINARY=$BIN "$ROOT/scripts/install.sh" --prefix /usr
rm "$PKG/usr/share/kvmsnap/install-manifest"
rmdir "$PKG/usr/share/kvmsnap"
strip --strip-unneeded "$PKG/usr/bin/kvmsnap"   # as Debian packages ship binaries (symbols: the build tree)
"$PKG/usr/bin/kvmsnap" --version >/dev/null || die "the stripped binary does not run"
gzip -9n "$PKG/usr/share/man/man1/kvmsnap.1"   # Debian policy: man pages compressed
mkdir -p "$PKG/usr/share/doc/kvmsnap"
gzip -9n < "$ROOT/README.md" > "$PKG/usr/share/doc/kvmsnap/README.md.gz"

# Depends: the packages of the libraries the binary links, as dpkg-shlibdeps computes them
# (it reads debian/control, so it runs in a scratch tree that has one).
depends=""
if command -v dpkg-shlibdeps >/dev/null; then
  mkdir -p "$WORK/shlibs/debian"
  printf 'Source: kvmsnap\n\nPackage: kvmsnap\nArchitecture: any\n' > "$WORK/shlibs/debian/control"
  depends=$(cd "$WORK/shlibs" && dpkg-shlibdeps --ignore-missing-info -O "$PKG/usr/bin/kvmsnap" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
fi
if [[ -z $depends ]]; then
  # Without dpkg-dev: the packages owning the libraries the binary itself names (NEEDED), unversioned.
  depends=$(readelf -d "$BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | while read -r name; do
    lib=$(ldd "$BIN" | awk -v n="$name" '$1 == n && $3 ~ /^\// {print $3}')
    [[ -n $lib ]] || continue
    for path in "$lib" "$(readlink -f "$lib")" "/usr$lib"; do
      dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1 && break
    done
  done | sort -u | paste -sd, | sed 's/,/, /g')
fi
[[ $depends == *libvirt0* && $depends == *libsqlite3-0* ]] || die "expected libvirt0 and libsqlite3-0 among the dependencies, got: $depends"

mkdir -p "$PKG/DEBIAN"
cat > "$PKG/DEBIAN/control" <<EOF
Package: kvmsnap
Version: $VERSION
Architecture: $ARCH
Maintainer: kvmsnap maintainers <kvmsnap@localhost>
Section: admin
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
Depends: $depends
Recommends: libvirt-daemon-system, qemu-utils, qemu-system-x86 | qemu-system
Description: live, consistent snapshots of KVM/QEMU virtual machines
 kvmsnap captures a VM's memory, disks and configuration through libvirt as
 full and incremental restore points in qcow2 layer chains, reverts and
 restores them (memory included), prunes them with borg-style retention and
 keeps a crash-safe job journal in an SQLite catalog. 'kvmsnap doctor' checks
 the host. The kvmsnap-run-due timer is installed but not enabled.
EOF
mkdir -p "$OUT"
DEB=$OUT/kvmsnap_${VERSION}_$ARCH.deb
dpkg-deb --root-owner-group -Zxz --build "$PKG" "$DEB" >&2
say "Depends: $depends"
echo "$DEB"
