# Sourced by scripts/host-setup.sh: what the web panel's browser test needs (issue 16).
# Headless Chromium and its WebDriver from Debian, Selenium and schemathesis from PyPI (under
# /usr/bin/python3, the interpreter the tests run), curl for the API tests, openssl for
# the TLS tests' certificates. Idempotent.
panel_browser_packages=(chromium chromium-driver curl openssl)
panel_missing=()
for p in "${panel_browser_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || panel_missing+=("$p")
done
if ((${#panel_missing[@]})); then
  printf 'host-setup: installing: %s\n' "${panel_missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${panel_missing[@]}" >/dev/null
fi
# selenium drives the browser test; schemathesis fuzzes the API over docs/openapi.json (PanelFuzzTests).
for panel_module in selenium schemathesis; do
  /usr/bin/python3 -c "import $panel_module" 2>/dev/null && continue
  if ! /usr/bin/python3 -m pip --version >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  printf 'host-setup: installing: %s (PyPI)\n' "$panel_module" >&2
  /usr/bin/python3 -m pip install --quiet --root-user-action=ignore "$panel_module" 2>/dev/null \
    || /usr/bin/python3 -m pip install --quiet --root-user-action=ignore --break-system-packages "$panel_module"
done
unset panel_browser_packages panel_missing panel_module
