#!/usr/bin/env bash
# Installs SimPy 2 (Debian's python3-simpy 2.3.1), the reference that bench/engine.ts measures
# moesim against. Needs root (apt-get); run with /usr/bin/python3, the Debian interpreter.
set -euo pipefail
if /usr/bin/python3 -c 'import SimPy, sys; sys.exit(0 if SimPy.__version__.startswith("2.") else 1)' 2>/dev/null; then
  echo "SimPy 2 already installed for /usr/bin/python3"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-simpy: needs root to apt-get install python3-simpy (try: sudo bash $0)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3-simpy
/usr/bin/python3 -c 'import SimPy; print("installed SimPy", SimPy.__version__)'
