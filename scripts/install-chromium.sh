#!/usr/bin/env bash
# Installs Debian's chromium (and the DejaVu fonts the PNG renderer uses) so that the HTML-report
# test can open report.html in headless Chromium via playwright-core (executablePath
# /usr/bin/chromium). Idempotent; needs root (or a chromium already on the PATH).
set -euo pipefail
have_fonts() { [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; }
if [ -x /usr/bin/chromium ] && have_fonts; then
  /usr/bin/chromium --version 2>/dev/null || echo "chromium already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
