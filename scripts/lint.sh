#!/usr/bin/env bash
# Lints the Swift sources with swift-format (bundled with the toolchain: `swift format`) and the
# repository's .swift-format, and checks the libvirt.org links in Sources/Libvirt.
# Exit status 0 when clean; 1 on any finding (each printed as file:line: ...).
#
#   scripts/lint.sh        # what scripts/test.sh runs after host setup (unless KVMSNAP_LINT=0)
#
# To fix formatting findings: swift format format -i --recursive --parallel \
#   --configuration .swift-format Sources Tests Package.swift
# swift-format does not break string literals; lines it leaves past the width are listed
# separately (split the literal).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/swift-path.sh

status=0
paths=(Sources Tests Package.swift)

# 1. swift-format: formatting (whitespace, line breaks) and its rules, as errors (--strict).
if ! swift format lint --strict --recursive --parallel --configuration .swift-format "${paths[@]}"; then
  status=1
fi

# 2. No line past the configured width (swift-format leaves long string literals alone).
width=$(python3 -c 'import json; print(json.load(open(".swift-format"))["lineLength"])')
long=$(find "${paths[@]}" -name '*.swift' -print0 | sort -z \
  | xargs -0 python3 -c '
import sys
width = int(sys.argv[1])
for path in sys.argv[2:]:
    for number, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if len(line) > width:
            print(f"{path}:{number}: line is {len(line)} characters, over {width}")
' "$width")
if [[ -n $long ]]; then printf '%s\n' "$long"; status=1; fi

# 3. Links to libvirt's API reference name pages that exist: libvirt-libvirt-<header>.html
#    (or libvirt-virterror.html), and the #anchor is declared in that header.
if ! python3 - <<'PY'
import glob, os, re, sys
bad = 0
for path in sorted(glob.glob("Sources/**/*.swift", recursive=True) + glob.glob("Sources/**/*.md", recursive=True)):
    for number, line in enumerate(open(path, encoding="utf-8"), 1):
        for match in re.finditer(r'https?://libvirt\.org/html/([^\s)`>"\]]*)', line):
            page, _, anchor = match.group(1).partition("#")
            if page == "index.html" and not anchor:
                continue
            name = re.fullmatch(r"libvirt-(libvirt-[a-z-]+|virterror)\.html", page)
            header = f"/usr/include/libvirt/{name.group(1)}.h" if name else None
            if not header or not os.path.exists(header):
                print(f"{path}:{number}: libvirt.org/html/{page} is not one of libvirt's API pages (libvirt-libvirt-domain.html, ...)")
                bad += 1
            elif anchor and not re.search(r"\b" + re.escape(anchor) + r"\b", open(header).read()):
                print(f"{path}:{number}: {anchor} is not declared in {header} (the page's anchors)")
                bad += 1
sys.exit(1 if bad else 0)
PY
then
  status=1
fi
exit "$status"
