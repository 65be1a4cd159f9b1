#!/usr/bin/env bash
# The browser tests' system packages: Debian's Chromium (driven by the `playwright` package
# from requirements.txt, which never downloads a browser) and a CJK font (Chinese renders as
# boxes without one). Installed with apt-get when missing and this runs as root (CI does);
# otherwise it says what is missing and the browser tests skip locally (they fail in CI, CI=true).
# SKIP_BROWSER_SETUP=1 leaves the system alone.
set -euo pipefail
[ "${SKIP_BROWSER_SETUP:-}" = 1 ] && exit 0
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "ok installed" || missing+=(fonts-noto-cjk)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing ${missing[*]} (browser tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "==> browser tests need: apt-get install -y ${missing[*]} (as root); they skip until then" >&2
fi
