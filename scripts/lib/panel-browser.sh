# Sourced by scripts/host-setup.sh: what the web panel's browser test needs (issue 16).
# Headless Chromium and its WebDriver from Debian, Selenium from PyPI (under /usr/bin/python3,
# the interpreter the tests run), curl for the API tests. Idempotent.
panel_browser_packages=(chromium chromium-driver curl)
panel_missing=()
for p in "${panel_browser_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || panel_missing+=("$p")
done
if ((${#panel_missing[@]})); then
  printf 'host-setup: installing: %s\n' "${panel_missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${panel_missing[@]}" >/dev/null
fi
if ! /usr/bin/python3 -c 'import selenium' 2>/dev/null; then
  if ! /usr/bin/python3 -m pip --version >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  printf 'host-setup: installing: selenium (PyPI)\n' >&2
  /usr/bin/python3 -m pip install --quiet --root-user-action=ignore selenium 2>/dev/null \
    || /usr/bin/python3 -m pip install --quiet --root-user-action=ignore --break-system-packages selenium
fi
unset panel_browser_packages panel_missing
