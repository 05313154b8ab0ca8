#!/usr/bin/env bash
# Installs kvmsnap under a prefix, or removes exactly what an earlier install put there.
#
#   scripts/install.sh [--prefix DIR]              # default /usr/local
#   scripts/install.sh [--prefix DIR] --uninstall
#
# Installs, and lists every path in PREFIX/share/kvmsnap/install-manifest:
#   PREFIX/bin/kvmsnap                                  release build, Swift runtime linked in statically
#   PREFIX/share/man/man1/kvmsnap.1                     from ArgumentParser's generate-manual
#   PREFIX/share/bash-completion/completions/kvmsnap    kvmsnap --generate-completion-script bash
#   PREFIX/share/zsh/site-functions/_kvmsnap            ... zsh
#   PREFIX/share/fish/vendor_completions.d/kvmsnap.fish ... fish
#   PREFIX/lib/systemd/system/kvmsnap-run-due.{service,timer}
#                                                       written by 'kvmsnap schedule install-systemd'
#                                                       (installed, not enabled)
# --uninstall removes the paths the manifest lists (and the directories the install created,
# when empty), nothing else.
#
# Environment:
#   KVMSNAP_INSTALL_BINARY=PATH   install this kvmsnap binary instead of building one (no swift
#                                 build at all; the tests use it with the debug binary)
#   DESTDIR=DIR                   stage the install under DIR (DIR/PREFIX/...) for packaging
#                                 (scripts/package-deb.sh); paths inside files and the manifest
#                                 are the final ones, without DIR
#   KVMSNAP_GENERATE_MANUAL=PATH  ArgumentParser's generate-manual tool; by default it is built
#                                 once from the resolved swift-argument-parser checkout into
#                                 .build/generate-manual (see make_manpage below)
#
# Runs as root, with or without sudo (under sudo the build runs as the invoking user, so .build
# stays theirs). Anyone may install into a prefix they can write.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/usr/local
UNINSTALL=0
while (($#)); do
  case $1 in
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) PREFIX=${1#--prefix=}; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
done
[[ $PREFIX == /* ]] || PREFIX=$(pwd)/$PREFIX
PREFIX=${PREFIX%/}
DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
if [[ -n $DESTDIR && $DESTDIR != /* ]]; then DESTDIR=$(pwd)/$DESTDIR; fi
MANIFEST=$DESTDIR$PREFIX/share/kvmsnap/install-manifest
say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# The manifest: one line per path, "f PATH" for a file, "d PATH" for a directory the install
# created. Uninstall removes the files, then the directories deepest first if they are empty.
# Removes the entries read from stdin: the files, then the directories deepest first (entries
# list parents before children) when they are empty.
remove_entries() {
  local kind path dirs=() i
  while read -r kind path; do
    case $kind in
      f) if [[ -e $DESTDIR$path || -L $DESTDIR$path ]]; then rm -f -- "$DESTDIR$path"; say "removed $DESTDIR$path"; fi ;;
      d) dirs+=("$DESTDIR$path") ;;
    esac
  done
  for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
    rmdir -- "${dirs[i]}" 2>/dev/null && say "removed ${dirs[i]}/" || true
  done
}
uninstall() {
  [[ -f $MANIFEST ]] || die "no install manifest at $MANIFEST: nothing kvmsnap installed there"
  local entries
  entries=$(cat "$MANIFEST")
  rm -f -- "$MANIFEST"
  remove_entries <<< "$entries"
}

if ((UNINSTALL)); then uninstall; exit 0; fi

existing=$DESTDIR$PREFIX
while [[ ! -d $existing ]]; do existing=$(dirname "$existing"); done
[[ -w $existing ]] || die "cannot write $existing: run as root (sudo scripts/install.sh) or choose --prefix"

# Swift may be outside sudo's secure_path.
find_swift() {
  command -v swift && return
  local candidate
  for candidate in /opt/swift/usr/bin/swift /usr/share/swift/usr/bin/swift; do
    [[ -x $candidate ]] && { echo "$candidate"; return; }
  done
  die "swift not found on PATH (set KVMSNAP_INSTALL_BINARY to install a prebuilt binary)"
}
# Under sudo, build as the user who ran sudo, so .build keeps its owner.
as_builder() {
  if [[ -n ${SUDO_USER:-} && $SUDO_USER != root && $(id -u) == 0 ]] && command -v sudo >/dev/null; then
    sudo -u "$SUDO_USER" env PATH="$PATH" HOME="$(getent passwd "$SUDO_USER" | cut -d: -f6)" "$@"
  else
    "$@"
  fi
}

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
if [[ -n ${KVMSNAP_INSTALL_BINARY:-} ]]; then
  [[ -x $KVMSNAP_INSTALL_BINARY ]] || die "KVMSNAP_INSTALL_BINARY=$KVMSNAP_INSTALL_BINARY is not an executable"
  cp -- "$KVMSNAP_INSTALL_BINARY" "$STAGE/kvmsnap"
else
  SWIFT=$(find_swift)
  say "building a release binary (swift build -c release --static-swift-stdlib; minutes on a small machine)"
  (cd "$ROOT" && as_builder "$SWIFT" build -c release --static-swift-stdlib --product kvmsnap >&2)
  cp -- "$(cd "$ROOT" && as_builder "$SWIFT" build -c release --static-swift-stdlib --show-bin-path)/kvmsnap" "$STAGE/kvmsnap"
fi
"$STAGE/kvmsnap" --version >/dev/null || die "the kvmsnap binary does not run"

# The man page comes from ArgumentParser's generate-manual, the tool behind its
# `swift package plugin generate-manual`. The plugin itself rebuilds the whole package in
# release mode (relinking kvmsnap without --static-swift-stdlib) and cannot run while another
# SwiftPM command holds .build (a test run), so the tool is built once on its own from the
# resolved swift-argument-parser checkout and run on the binary being installed.
make_manpage() {
  local tool=${KVMSNAP_GENERATE_MANUAL:-}
  if [[ -z $tool ]]; then
    tool=$ROOT/.build/generate-manual/debug/generate-manual
    if [[ ! -x $tool ]]; then
      local checkout=$ROOT/.build/checkouts/swift-argument-parser
      SWIFT=${SWIFT:-$(find_swift)}
      [[ -f $checkout/Package.swift ]] || (cd "$ROOT" && as_builder "$SWIFT" package resolve >&2)
      say "building ArgumentParser's generate-manual (once)"
      (cd "$ROOT" && as_builder "$SWIFT" build --package-path "$checkout" --scratch-path "$ROOT/.build/generate-manual" \
        --product generate-manual >&2)
    fi
  fi
  [[ -x $tool ]] || die "generate-manual not found at $tool"
  # Dated by the last commit, so the same source gives the same page.
  local date
  date=$(git -C "$ROOT" log -1 --format=%cs 2>/dev/null || date -u +%F)
  mkdir -p "$STAGE/man"
  "$tool" "$STAGE/kvmsnap" --output-directory "$STAGE/man" --section 1 --date "$date" >&2
  [[ -s $STAGE/man/kvmsnap.1 ]] || die "generate-manual wrote no kvmsnap.1"
}
make_manpage
"$STAGE/kvmsnap" --generate-completion-script bash > "$STAGE/kvmsnap.bash"
"$STAGE/kvmsnap" --generate-completion-script zsh > "$STAGE/_kvmsnap"
"$STAGE/kvmsnap" --generate-completion-script fish > "$STAGE/kvmsnap.fish"

# A reinstall first removes what the last one installed, so the manifest stays exact.
if [[ -f $MANIFEST ]]; then say "removing the previous install first"; uninstall; fi

ENTRIES=()
# An install that stops halfway takes back what it put in place (there is no manifest yet).
DONE=0
trap 'if ((!DONE && ${#ENTRIES[@]})); then say "install failed: removing what it installed"; printf "%s\n" "${ENTRIES[@]}" | remove_entries; fi; rm -rf "$STAGE"' EXIT
# Creates DIR (a final path) and its missing parents, recording each one it creates (parents first).
make_dir() {
  local dir=$1 missing=()
  while [[ ! -d $DESTDIR$dir ]]; do missing=("$dir" "${missing[@]}"); dir=$(dirname "$dir"); done
  local d
  for d in "${missing[@]}"; do
    mkdir -m 755 -- "$DESTDIR$d"
    ENTRIES+=("d $d")
  done
}
put() {   # put MODE SOURCE DEST (a final path)
  make_dir "$(dirname "$3")"
  install -m "$1" -- "$2" "$DESTDIR$3"
  ENTRIES+=("f $3")
  say "installed $DESTDIR$3"
}
put 755 "$STAGE/kvmsnap" "$PREFIX/bin/kvmsnap"
put 644 "$STAGE/man/kvmsnap.1" "$PREFIX/share/man/man1/kvmsnap.1"
put 644 "$STAGE/kvmsnap.bash" "$PREFIX/share/bash-completion/completions/kvmsnap"
put 644 "$STAGE/_kvmsnap" "$PREFIX/share/zsh/site-functions/_kvmsnap"
put 644 "$STAGE/kvmsnap.fish" "$PREFIX/share/fish/vendor_completions.d/kvmsnap.fish"
# The units are the ones 'kvmsnap schedule install-systemd' writes; the repository keeps no unit
# files of its own. Their ExecStart names the running binary, so they are written by the
# installed copy and, under DESTDIR, the staging directory is taken out of the path.
make_dir "$PREFIX/lib/systemd/system"
"$DESTDIR$PREFIX/bin/kvmsnap" schedule install-systemd --dest "$STAGE" >/dev/null
for unit in kvmsnap-run-due.service kvmsnap-run-due.timer; do
  [[ -f $STAGE/$unit ]] || die "schedule install-systemd wrote no $unit"
  if [[ -n $DESTDIR ]]; then
    real=$(readlink -f "$DESTDIR$PREFIX/bin/kvmsnap")
    sed -i "s|^ExecStart=$real |ExecStart=$PREFIX/bin/kvmsnap |" "$STAGE/$unit"
  fi
  put 644 "$STAGE/$unit" "$PREFIX/lib/systemd/system/$unit"
done
make_dir "$PREFIX/share/kvmsnap"
ENTRIES+=("f $PREFIX/share/kvmsnap/install-manifest")
printf '%s\n' "${ENTRIES[@]}" > "$MANIFEST"
chmod 644 "$MANIFEST"
DONE=1
[[ -n $DESTDIR ]] && exit 0
say "manifest: $MANIFEST ($(grep -c '^f ' "$MANIFEST") files); 'scripts/install.sh --prefix $PREFIX --uninstall' removes them"
say "scheduler (optional): systemctl daemon-reload && systemctl enable --now kvmsnap-run-due.timer"
