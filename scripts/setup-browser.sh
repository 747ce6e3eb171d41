#!/usr/bin/env bash
# Make headless Chromium available for the HTML report's browser test (Debian's package).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ "${VISUALACT_SKIP_BROWSER:-0}" = "1" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "visualact: installing Debian's chromium for the browser test ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "visualact: chromium is missing; install it (apt-get install chromium) or set VISUALACT_SKIP_BROWSER=1" >&2
  exit 1
fi
