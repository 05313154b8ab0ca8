# Sourced by the scripts that build: puts the Swift toolchain on PATH when it is not there,
# as under `sudo`, whose secure_path drops /opt/swift/usr/bin. Root shells and sudo alike work.
if ! command -v swift >/dev/null 2>&1; then
  for kvmsnap_swift_dir in /opt/swift/usr/bin /usr/share/swift/usr/bin /usr/local/swift/usr/bin; do
    if [[ -x $kvmsnap_swift_dir/swift ]]; then PATH=$kvmsnap_swift_dir:$PATH; export PATH; break; fi
  done
  unset kvmsnap_swift_dir
fi
