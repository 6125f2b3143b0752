#!/usr/bin/env bash
# Installs Debian's Slurm (slurm-wlm: slurmctld, slurmd and the client commands) and MUNGE, so that
# test/sweep/slurm.test.ts can start a private single-node cluster and run examples/slurm/sweep.sbatch
# as a real job array. The test starts its own munged and Slurm daemons in a temporary folder with
# their own key, sockets, ports and configuration; nothing under /etc is configured here and no
# system service is needed. Idempotent; needs root (or the commands already on the PATH).
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
versions() { dpkg-query -W -f='${Package} ${Version}\n' slurmctld munge 2>/dev/null | paste -sd ' ' -; }
if have slurmctld && have slurmd && have sbatch && have munged; then
  echo "already installed: $(versions)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
echo "installed: $(versions)"
